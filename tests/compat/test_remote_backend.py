"""Orlop's own RemoteBackend (orlop.client) against orlopd gives what LocalBackend gives."""

from __future__ import annotations

import pytest

from orlop.cli.backend import LocalBackend, RemoteBackend
from orlop.config import EngineConfig
from orlop.engine import Engine
from orlop.errors import InvalidParameterError, VolumeNotFoundError

from .conftest import Server


def test_remote_backend_volumes_match_local_backend(orlopd: Server) -> None:
    remote = RemoteBackend(orlopd.host)
    created = remote.volume_create("rv", "local", None, {"x": "y"})
    assert created["Name"] == "rv"
    engine = Engine(EngineConfig.from_env(str(orlopd.root)))
    try:
        local = LocalBackend(engine)
        assert local.volume_inspect("rv") == remote.volume_inspect("rv")
        assert local.volume_list(None) == remote.volume_list(None)
    finally:
        engine.close()
    with pytest.raises(VolumeNotFoundError.__mro__[1]):  # NotFoundError
        remote.volume_inspect("missing")
    with pytest.raises(InvalidParameterError):
        remote.volume_create("bad/name", "local", None, None)
    assert remote.volume_prune(True, None)[0] == ["rv"]
    assert remote.volume_list(None) == []


def _orlop(server: Server, *args: str, remote: bool) -> tuple[int, str, str]:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "ORLOP_HOST")}
    pre = ["-H", server.host] if remote else ["--root", str(server.root)]
    res = subprocess.run([sys.executable, "-m", "orlop", *pre, *args], capture_output=True,
                         text=True, timeout=60, env=env, check=False)
    return res.returncode, res.stdout, res.stderr


def test_cli_remote_mode_output_matches_local(bbd: Server) -> None:
    """volume, run --rm (foreground), run -d, logs, ps, rm: -H gives what local gives."""
    def both(*args: str) -> tuple[int, str, str]:
        local = _orlop(bbd, *args, remote=False)
        remote = _orlop(bbd, *args, remote=True)
        assert local == remote, (args, local, remote)
        return local

    assert _orlop(bbd, "volume", "create", "rv1", remote=True)[:2] == (0, "rv1\n")
    assert _orlop(bbd, "volume", "create", "rv2", remote=False)[:2] == (0, "rv2\n")
    assert both("volume", "ls")[1].splitlines()[1:] == ["local     rv1", "local     rv2"]
    both("volume", "ls", "-q")
    code, out, err = _orlop(bbd, "run", "--rm", "-v", "rv1:/d", "busybox", "sh", "-c",
                            "echo o; echo e >&2; echo x > /d/f; exit 3", remote=True)
    assert (code, out, err) == (3, "o\n", "e\n")
    assert both("run", "--rm", "-v", "rv1:/d", "busybox", "cat", "/d/f") == (0, "x\n", "")
    _orlop(bbd, "run", "-d", "--name", "loc", "busybox", "sh", "-c", "echo L; echo M >&2",
           remote=False)
    _orlop(bbd, "run", "-d", "--name", "rem", "busybox", "sh", "-c", "echo L; echo M >&2",
           remote=True)
    for name in ("loc", "rem"):
        assert _orlop(bbd, "wait", name, remote=False)[1] == "0\n"
        assert both("logs", name) == (0, "L\n", "M\n")
    assert both("ps", "-a", "-q")[1].count("\n") == 2
    import re

    def norm(text: str) -> str:  # the two runs are a moment apart: "1 second ago"
        return re.sub(r" +", " ", re.sub(r"(Less than a second|\d+ seconds?) ago", "T",
                                         text))

    local_ps, remote_ps = (_orlop(bbd, "ps", "-a", remote=r)[1] for r in (False, True))
    assert norm(local_ps) == norm(remote_ps)
    assert "loc" in local_ps and "rem" in local_ps and "Exited (0)" in local_ps
    assert _orlop(bbd, "rm", "loc", remote=True)[:2] == (0, "loc\n")
    assert _orlop(bbd, "rm", "rem", remote=False)[:2] == (0, "rem\n")
    assert both("ps", "-a", "-q") == (0, "", "")
    code, _, err = _orlop(bbd, "rm", "nope", remote=True)
    assert code == 1 and "nope" in err
