"""Links in a create body, both ways (wire/create.py): ``HostConfig.Links`` and each
endpoint's ``Links`` reach RunOptions (no longer refused), and the CLI's ``--link`` goes
out as ``HostConfig.Links``."""

from __future__ import annotations

import pytest

from orlop.engine.runoptions import RunOptions
from orlop.errors import InvalidParameterError
from orlop.wire.create import create_body, run_options


def test_host_config_links_and_endpoint_links_are_read() -> None:
    opts = run_options({
        "Image": "busybox",
        "HostConfig": {"Links": ["db:database", "/cache:/web/c"], "NetworkMode": "appnet"},
        "NetworkingConfig": {"EndpointsConfig": {
            "appnet": {"Links": ["up:bar"]}, "other": {"Links": None}}}}, "web")
    assert opts.links == ["db:database", "/cache:/web/c"]
    assert opts.endpoint_links == {"appnet": ["up:bar"]}


def test_links_of_the_wrong_type_are_refused() -> None:
    with pytest.raises(InvalidParameterError, match=r"HostConfig\.Links"):
        run_options({"Image": "busybox", "HostConfig": {"Links": "db"}}, "")
    with pytest.raises(InvalidParameterError, match=r"EndpointsConfig\.n\.Links"):
        run_options({"Image": "busybox", "NetworkingConfig": {"EndpointsConfig": {
            "n": {"Links": [1]}}}}, "")


def test_cli_link_goes_out_as_host_config_links() -> None:
    body = create_body(RunOptions(image="busybox", links=["db:database"]))
    assert body["HostConfig"]["Links"] == ["db:database"]
    assert run_options(body, "").links == ["db:database"]
    assert create_body(RunOptions(image="busybox"))["HostConfig"]["Links"] is None
