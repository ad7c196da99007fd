"""Orlop's volume power tools through orlopd (``-H``): the same outputs, errors and exit
codes as in-process (``--root``), over the ``/libpod/volumes/...`` routes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import Server
from .test_remote_data import _orlop, both, ok


def test_update_rename_inspect_used_by_match_local(bbd: Server) -> None:
    ok(bbd, "volume", "create", "--label", "a=1", "pv")
    for remote in (True, False):
        assert _orlop(bbd, "volume", "update", "--label-add", f"r{int(remote)}=x",
                      "pv", remote=remote) == (0, "pv\n", "")
    assert json.loads(ok(bbd, "volume", "inspect", "-f", "{{json .Labels}}", "pv")) == {
        "a": "1", "r0": "x", "r1": "x"}
    assert both(bbd, "volume", "update", "--label-rm", "zz", "pv") == (
        1, "", "Error: key zz doesn't exist in volume's labels\n")
    assert both(bbd, "volume", "update", "--label-add", "k=v", "nosuch")[0] == 1

    ok(bbd, "run", "-d", "--name", "pv_user", "-v", "pv:/d", "busybox", "sleep", "60")
    try:
        out = both(bbd, "volume", "inspect", "-f", "{{json .UsedBy}}", "pv")[1]
        assert [u["Name"] for u in json.loads(out)] == ["pv_user"]
        assert both(bbd, "volume", "ls", "-q", "-f", "used-by=pv_user") == (0, "pv\n", "")
        code, _, err = both(bbd, "volume", "rename", "pv", "pv2")
        assert (code, err) == (
            1, "Error: rename pv: volume is in use by running containers - [pv_user]\n")
    finally:
        ok(bbd, "rm", "-f", "pv_user")
    assert _orlop(bbd, "volume", "rename", "pv", "pv2", remote=True) == (0, "", "")
    assert both(bbd, "volume", "rename", "pv", "pv3") == (
        1, "", "Error: No such volume: pv\n")
    assert _orlop(bbd, "volume", "rename", "pv2", "pv", remote=False) == (0, "", "")
    assert both(bbd, "volume", "ls", "-q") == (0, "pv\n", "")


def test_prune_dry_run_and_until_match_local(bbd: Server) -> None:
    ok(bbd, "volume", "create", "dr1")
    ok(bbd, "volume", "create", "dr2")
    out = both(bbd, "volume", "prune", "-a", "--dry-run")
    assert out == (0, "Would delete Volumes:\ndr1\ndr2\n\nTotal reclaimable space: 0B\n", "")
    # Created just now: not before "1h ago".
    assert both(bbd, "volume", "prune", "-a", "--dry-run", "--filter", "until=1h") == (
        0, "Total reclaimable space: 0B\n", "")
    assert both(bbd, "volume", "prune", "-a", "-f", "--filter", "until=1h") == (
        0, "Total reclaimed space: 0B\n", "")
    assert both(bbd, "volume", "prune", "-f", "--filter", "until=soon")[0] != 0
    assert both(bbd, "volume", "ls", "-q") == (0, "dr1\ndr2\n", "")
    assert _orlop(bbd, "volume", "prune", "-a", "-f", "--filter", "until=-1s",
                  remote=True) == (0, "Deleted Volumes:\ndr1\ndr2\n\n"
                                      "Total reclaimed space: 0B\n", "")


def _host(server: Server, tmp: Path) -> Path:
    d = tmp / "host"
    (d / "in" / "sub").mkdir(parents=True)
    (d / "in" / "a").write_text("A")
    (d / "in" / "sub" / "b").write_text("B")
    os.chown(d / "in" / "a", 777, 777)
    return d


def _cp(server: Server, cwd: Path, *args: str, remote: bool) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "ORLOP_HOST")}
    pre = ["-H", server.host] if remote else ["--root", str(server.root)]
    res = subprocess.run([sys.executable, "-m", "orlop", *pre, "volume", "cp", *args],
                         capture_output=True, text=True, cwd=cwd, env=env, timeout=120,
                         check=False)
    return res.returncode, res.stdout, res.stderr


def test_volume_cp_through_orlopd_matches_local(orlopd: Server, tmp_path: Path) -> None:
    host = _host(orlopd, tmp_path)
    vols = orlopd.root / "volumes"
    for remote in (False, True):
        tag = "r" if remote else "l"
        ok(orlopd, "volume", "create", f"cp{tag}")
        ok(orlopd, "volume", "create", f"cq{tag}")
        data = vols / f"cp{tag}" / "_data"
        assert _cp(orlopd, host, "./in", f"cp{tag}:/dir", remote=remote) == (0, "", "")
        assert _cp(orlopd, host, "-a", "./in/.", f"cp{tag}:/flat", remote=remote)[0] == 0
        assert (data / "flat" / "a").stat().st_uid == 777
        assert (data / "dir" / "a").stat().st_uid == 0
        assert _cp(orlopd, host, f"cp{tag}:/dir", f"./out{tag}", remote=remote)[0] == 0
        assert (host / f"out{tag}" / "sub" / "b").read_text() == "B"
        assert _cp(orlopd, host, "-a", f"cp{tag}:/flat/a", f"./a{tag}",
                   remote=remote)[0] == 0
        assert (host / f"a{tag}").stat().st_uid == 777
        assert _cp(orlopd, host, f"cp{tag}:/dir", f"cq{tag}:/copy", remote=remote)[0] == 0
        assert (vols / f"cq{tag}" / "_data" / "copy" / "sub" / "b").read_text() == "B"
        # hostile: a link to /etc in the volume, and ..
        os.symlink("/etc", data / "evil")
        res = _cp(orlopd, host, f"cp{tag}:/evil/passwd", "./stolen", remote=remote)
        assert res == (1, "", f"Error: Could not find the file /evil/passwd in volume "
                              f"cp{tag}\n"), res
        res = _cp(orlopd, host, "./in/a", f"cp{tag}:/evil/", remote=remote)
        assert res[0] == 1 and not os.path.exists("/etc/a"), res
        assert _cp(orlopd, host, "./in/a", f"cp{tag}:/../../../x", remote=remote)[0] == 0
        assert (data / "x").read_text() == "A"
        assert not (host / "stolen").exists()
    # the same texts either way
    for args in (("cpl:/nope", "./n"), ("nosuch:/x", "./n"), ("./in", "cpl:/dir/a"),
                 ("cpl:/dir", "cpl:/dir/sub")):
        assert _cp(orlopd, host, *args, remote=False) == _cp(orlopd, host, *args,
                                                             remote=True), args
