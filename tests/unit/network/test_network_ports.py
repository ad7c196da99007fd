"""Docker's -p/--expose syntax and the mappings made from it (pure logic)."""

from __future__ import annotations

import pytest

from orlop.errors import InvalidParameterError
from orlop.network.model import PortMapping
from orlop.network.ports import (
    check_bindings,
    parse_expose,
    parse_publish,
    ports_json,
    requested,
)


@pytest.mark.parametrize("spec,want", [
    ("80", {"80/tcp": [{"HostIp": "", "HostPort": ""}]}),
    ("8080:80", {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}),
    ("127.0.0.1:8080:80", {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}),
    ("127.0.0.1::80", {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}),
    ("8080:80/udp", {"80/udp": [{"HostIp": "", "HostPort": "8080"}]}),
    ("8000-8001:9000-9001", {"9000/tcp": [{"HostIp": "", "HostPort": "8000"}],
                             "9001/tcp": [{"HostIp": "", "HostPort": "8001"}]}),
    ("8000-8010:80", {"80/tcp": [{"HostIp": "", "HostPort": "8000-8010"}]}),
])
def test_parse_publish_docker_forms(spec: str, want: dict[str, object]) -> None:
    assert parse_publish(spec) == want


@pytest.mark.parametrize("spec,err", [
    ("[::1]:8080:80", "IPv6 is not enabled"),
    ("::1:8080:80", "brackets"),
    ("1.2.3:8080:80", "invalid IP address: 1.2.3"),
    ("x:80", "invalid hostPort: x"),
    ("80:x", "invalid containerPort: x"),
    ("80:70000", "invalid containerPort: 70000"),
    ("80/icmp", "invalid proto: icmp"),
    ("8000-8002:80-81", "invalid ranges specified for container and host Ports"),
])
def test_parse_publish_refusals(spec: str, err: str) -> None:
    with pytest.raises(InvalidParameterError, match=err.replace("[", r"\[")):
        parse_publish(spec)


def test_expose_ranges_and_publish_all() -> None:
    assert parse_expose(["7000-7001/udp", "80"]) == {"7000/udp": {}, "7001/udp": {},
                                                     "80/tcp": {}}
    want = requested({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
                     ["80/tcp", "443/tcp"], publish_all=True)
    assert want == [(80, "tcp", "", "8080"), (443, "tcp", "", "")]
    assert requested(None, ["443/tcp"], publish_all=False) == []


def test_api_port_bindings_null_means_random_port() -> None:
    assert check_bindings({"80/tcp": None}) == {"80/tcp": [{"HostIp": "", "HostPort": ""}]}
    with pytest.raises(InvalidParameterError):
        check_bindings({"x/tcp": []})


def test_ports_json_lists_exposed_unpublished_as_null() -> None:
    out = ports_json([PortMapping(80, 8080, "tcp", "127.0.0.1")], ["80/tcp", "443/tcp"])
    assert out == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}], "443/tcp": None}
