"""Orlop's volume power tools through orlopd (``-H``): the same outputs, errors and exit
codes as in-process (``--root``), over the ``/libpod/volumes/...`` routes."""

from __future__ import annotations

import json

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
