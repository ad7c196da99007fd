"""``ps --filter network=|publish=|expose=``: moby's rules (daemon/list.go) on the list
entries, without an engine."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from orlop.errors import InvalidParameterError
from orlop.wire.ps import check_filters, matches, port_filter

NID = "f" * 12 + "0" * 52
ITEM: dict[str, Any] = {
    "NetworkSettings": {"Networks": {"appnet": {"NetworkID": NID}}},
    "Ports": [{"IP": "127.0.0.1", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
              {"PrivatePort": 53, "Type": "udp"}],
}


def _ok(f: dict[str, list[str]], item: dict[str, Any] = ITEM) -> bool:
    check_filters(f)
    c: Any = SimpleNamespace(status="running")
    return matches(c, item, f)


def test_network_by_name_exactly_or_id_prefix() -> None:
    assert _ok({"network": ["appnet"]})
    assert _ok({"network": ["fff"]}) and _ok({"network": [NID]})
    assert not _ok({"network": ["app"]})  # a name is matched whole
    assert _ok({"network": ["other", "appnet"]})  # values of one key: any
    assert not _ok({"network": ["bridge"]})
    assert _ok({"network": ["none"]}, {"NetworkSettings": {"Networks": {"none": {}}}})


def test_publish_is_the_host_port_expose_the_container_port() -> None:
    assert _ok({"publish": ["8080"]}) and _ok({"publish": ["8080/tcp"]})
    assert not _ok({"publish": ["80"]}) and not _ok({"publish": ["8080/udp"]})
    assert _ok({"expose": ["80"]}) and _ok({"expose": ["53/udp"]})
    assert not _ok({"expose": ["53"]})  # tcp by default
    assert _ok({"expose": ["50-60/udp"]}) and _ok({"publish": ["8000-8100"]})
    # moby checks both in one loop: either passes
    assert _ok({"publish": ["1"], "expose": ["80"]})
    assert not _ok({"publish": ["1"]}, {"Ports": []})


@pytest.mark.parametrize("key", ["publish", "expose"])
def test_bad_port_filters_refused(key: str) -> None:
    with pytest.raises(InvalidParameterError, match="should not contain ':'"):
        check_filters({key: ["127.0.0.1:80"]})
    with pytest.raises(InvalidParameterError, match=f"error while looking up for {key} x"):
        check_filters({key: ["x"]})
    with pytest.raises(InvalidParameterError):
        check_filters({key: ["90-80"]})
    assert port_filter(key, "7/UDP") == {"7/udp"}
