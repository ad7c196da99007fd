"""Issue 10 mount rules through the Engine API, driven by the real docker CLI (28.x):
recursive read-only binds and their BindOptions, and binds of the engine root."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from testsupport import dir_with_submount

from .conftest import Server

SCRIPT = ("cat /m/sub/in-sub.txt 2>/dev/null || echo NO-SUBMOUNT; "
          "touch /m/sub/new 2>/dev/null && echo SUB-WRITABLE || echo SUB-READONLY")


@pytest.fixture
def host_dir(bbd: Server) -> Iterator[Path]:
    """A host dir with a tmpfs submount, visible to orlopd (unmounted at teardown)."""
    with dir_with_submount(bbd.dir / "host") as host:
        yield host


@pytest.mark.parametrize(("mount", "expected"), [
    ("type=bind,src={h},dst=/m,readonly", ["sub", "SUB-READONLY"]),
    ("type=bind,src={h},dst=/m,readonly,bind-recursive=writable", ["sub", "SUB-WRITABLE"]),
    ("type=bind,src={h},dst=/m,readonly,bind-recursive=readonly,bind-propagation=rprivate",
     ["sub", "SUB-READONLY"]),
    ("type=bind,src={h},dst=/m,readonly,bind-recursive=disabled",
     ["NO-SUBMOUNT", "SUB-READONLY"]),
])
def test_api_bind_options_recursion(bbd: Server, host_dir: Path, mount: str,
                                    expected: list[str]) -> None:
    out = bbd.ok("run", "--rm", "--mount", mount.format(h=host_dir), "busybox", "sh", "-c",
                 SCRIPT)
    assert out.split() == expected


def test_api_volume_ro_bind_is_recursively_readonly(bbd: Server, host_dir: Path) -> None:
    out = bbd.ok("run", "--rm", "-v", f"{host_dir}:/m:ro", "busybox", "sh", "-c", SCRIPT)
    assert out.split() == ["sub", "SUB-READONLY"]


def test_api_refuses_private_bind_of_engine_root(bbd: Server) -> None:
    root = bbd.root
    for args in (["--mount", f"type=bind,src={root},dst=/r,bind-propagation=rprivate"],
                 ["-v", f"{bbd.dir}:/r:private"]):
        res = bbd.docker("run", "--rm", *args, "busybox", "true")
        assert res.returncode == 125, res.stderr
        assert ('must use either propagation mode "rslave" or "rshared" when mount source '
                f'is within the daemon root, daemon root: "{root}"') in res.stderr
    hdr = {"Content-Type": "application/json"}
    body = {"Image": "busybox", "Cmd": ["true"], "HostConfig": {"Mounts": [
        {"Type": "bind", "Source": str(root), "Target": "/r",
         "BindOptions": {"Propagation": "private"}}]}}
    status, _, out = bbd.raw("POST", "/v1.45/containers/create", json.dumps(body).encode(), hdr)
    assert status == 400, out
    assert "within the daemon root" in json.loads(out)["message"]
    assert bbd.ok("ps", "-aq") == ""


def test_api_bind_of_engine_root_gets_rslave(bbd: Server) -> None:
    bbd.ok("create", "--name", "rs", "--mount", f"type=bind,src={bbd.root},dst=/r", "busybox",
           "true")
    mounts = json.loads(bbd.ok("inspect", "-f", "{{json .Mounts}}", "rs"))
    assert [(m["Destination"], m["Propagation"]) for m in mounts] == [("/r", "rslave")]
