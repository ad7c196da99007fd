"""``U`` and tmpfs ``uid=``/``gid=`` through orlopd: Orlop's CLI with ``-H`` gives what it
gives locally (``--mount ...,U`` crosses the API as ``"Chown": true``, tmpfs ids as
``TmpfsOptions.Options``), and the real docker CLI's ``-v v:/d:U`` (a ``HostConfig.Binds``
entry) and ``--tmpfs /t:uid=...`` work, with the same refusals."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from .conftest import Server

pytestmark = pytest.mark.root


def _orlop(server: Server, *args: str, remote: bool) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "ORLOP_HOST")}
    pre = ["-H", server.host] if remote else ["--root", str(server.root)]
    res = subprocess.run([sys.executable, "-m", "orlop", *pre, *args], capture_output=True,
                         text=True, timeout=60, env=env, check=False,
                         stdin=subprocess.DEVNULL, cwd=server.dir)
    return res.returncode, res.stdout, res.stderr


@pytest.fixture
def srv(bbd: Server) -> Iterator[Server]:
    yield bbd
    code, out, _ = _orlop(bbd, "ps", "-aq", "--no-trunc", remote=False)
    if code == 0 and out.split():
        _orlop(bbd, "rm", "-f", *out.split(), remote=False)


@pytest.mark.parametrize("remote", [False, True])
def test_orlop_cli_u_and_tmpfs_ids_locally_and_remotely(srv: Server, remote: bool) -> None:
    vol = f"own{int(remote)}"
    host = srv.dir / f"bind{int(remote)}"
    (host / "sub").mkdir(parents=True)
    code, out, err = _orlop(
        srv, "run", "--rm", "--user", "1000:1001",
        "--mount", f"type=volume,src={vol},dst=/d,U", "--mount", f"type=bind,src={host},dst=/b,U",
        "--mount", "type=tmpfs,dst=/t,uid=7,gid=8", "--tmpfs", "/u:U",
        "busybox", "stat", "-c", "%u:%g", "/d", "/b/sub", "/t", "/u", remote=remote)
    assert (code, err) == (0, "")
    assert out.split() == ["1000:1001", "1000:1001", "7:8", "1000:1001"]
    code, _, err = _orlop(srv, "run", "--rm", "--mount", "type=tmpfs,dst=/t,uid=x",
                          "busybox", "true", remote=remote)
    assert code == 125 and "invalid value for uid: x" in err


def test_docker_cli_binds_u_and_tmpfs_ids(srv: Server) -> None:
    res = srv.docker("run", "--rm", "--user", "33:44", "-v", "dk:/d:U",
                     "--tmpfs", "/t:uid=5,gid=6", "busybox", "stat", "-c", "%u:%g", "/d", "/t")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["33:44", "5:6"]
    res = srv.docker("run", "--rm", "--tmpfs", "/t:uid=me", "busybox", "true")
    assert res.returncode == 125
    assert 'invalid tmpfs option "uid=me": the uid must be a number' in res.stderr
    res = srv.docker("run", "--rm", "-v", "/etc:/x:U", "busybox", "true")
    assert res.returncode == 125 and 'chowning host path "/etc" is not allowed' in res.stderr
    assert srv.docker("ps", "-aq").stdout == ""
