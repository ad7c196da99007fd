"""Orlop's volume power tools, locally: update (labels), inspect's UsedBy, ls used-by,
prune until/--dry-run, rename (with stopped containers following it, and crash repair)."""

from __future__ import annotations

import json
import os
import sqlite3
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.integration.conftest import Orlop

pytestmark = pytest.mark.root


def _labels(orlop: Orlop, name: str) -> object:
    return json.loads(orlop.ok("volume", "inspect", "-f", "{{json .Labels}}", name))


# --- update ---------------------------------------------------------------------------


def test_update_adds_and_removes_labels_in_one_go(orlop: Orlop) -> None:
    orlop.ok("volume", "create", "--label", "a=1", "--label", "b=2", "up1")
    assert orlop.ok("volume", "update", "--label-add", "c=3", "--label-add", "a=9",
                    "--label-rm", "b", "up1") == "up1\n"
    assert _labels(orlop, "up1") == {"a": "9", "c": "3"}
    # A volume created without labels gets a map.
    orlop.ok("volume", "create", "up2")
    orlop.ok("volume", "update", "--label-add", "k", "up2")
    assert _labels(orlop, "up2") == {"k": ""}
    assert orlop.ok("volume", "ls", "-q", "--filter", "label=k") == "up2\n"


def test_update_refusals_change_nothing(orlop: Orlop) -> None:
    orlop.ok("volume", "create", "--label", "a=1", "up3")
    res = orlop("volume", "update", "--label-add", "x=1", "--label-rm", "nope", "up3")
    assert res.returncode == 1
    assert res.stderr == "Error: key nope doesn't exist in volume's labels\n"
    assert _labels(orlop, "up3") == {"a": "1"}  # x was not added either
    res = orlop("volume", "update", "--label-add", "x=1", "nosuch")
    assert (res.returncode, res.stderr) == (1, "Error: No such volume: nosuch\n")
    res = orlop("volume", "update", "up3")
    assert res.returncode == 1 and "nothing to update" in res.stderr
    res = orlop("volume", "update", "--label-rm", "com.docker.volume.anonymous", "up3")
    assert res.returncode == 1 and "anonymous" in res.stderr


# --- inspect UsedBy, ls used-by -------------------------------------------------------


def test_inspect_used_by_and_ls_filter(bb: Orlop) -> None:
    cid = bb.ok("run", "-d", "--name", "ub_run", "-v", "ubv:/data", "busybox",
                "sleep", "60").strip()
    try:
        bb.ok("create", "--name", "ub_stopped", "-v", "ubv:/ro:ro", "-v", "other:/o",
              "busybox", "true")
        used = json.loads(bb.ok("volume", "inspect", "-f", "{{json .UsedBy}}", "ubv"))
        assert [(u["Name"], u["Running"], u["Destination"], u["RW"]) for u in used] == [
            ("ub_run", True, "/data", True), ("ub_stopped", False, "/ro", False)]
        assert used[0]["ID"] == cid
        assert json.loads(bb.ok("volume", "inspect", "other"))[0]["UsedBy"][0]["Name"] == \
            "ub_stopped"
        assert bb.ok("volume", "ls", "-q", "--filter", "used-by=ub_run") == "ubv\n"
        assert bb.ok("volume", "ls", "-q", "--filter", f"used-by={cid[:12]}") == "ubv\n"
        assert bb.ok("volume", "ls", "-q", "--filter", "used-by=ub_stopped") == "other\nubv\n"
        assert bb.ok("volume", "ls", "-q", "--filter", "used-by=nobody") == ""
        bb.ok("volume", "create", "lonely")
        assert json.loads(bb.ok("volume", "inspect", "lonely"))[0]["UsedBy"] == []
    finally:
        bb("rm", "-f", "ub_run")


# --- prune until / dry-run ------------------------------------------------------------


def _age(orlop: Orlop, name: str, created: str) -> None:
    db = sqlite3.connect(orlop.root / "orlop.db")
    with db:
        db.execute("UPDATE volumes SET created_at = ? WHERE name = ?", (created, name))
    db.close()


def test_prune_until_and_dry_run(bb: Orlop) -> None:
    for name in ("old1", "old2", "new1", "kept"):
        bb.ok("volume", "create", name)
    (bb.root / "volumes" / "old1" / "_data" / "f").write_bytes(b"x" * 1000)
    _age(bb, "old1", "2020-01-01T00:00:00Z")
    _age(bb, "old2", "2020-01-01T00:00:00Z")
    _age(bb, "kept", "2020-01-01T00:00:00Z")
    bb.ok("create", "--name", "keeper", "-v", "kept:/k", "busybox", "true")
    out = bb.ok("volume", "prune", "-a", "--dry-run", "--filter", "until=24h")
    assert out == "Would delete Volumes:\nold1\nold2\n\nTotal reclaimable space: 1kB\n"
    assert bb.ok("volume", "ls", "-q") == "kept\nnew1\nold1\nold2\n"  # nothing removed
    out = bb.ok("volume", "prune", "-a", "-f", "--filter", "until=2021-01-01T00:00:00Z")
    assert out == "Deleted Volumes:\nold1\nold2\n\nTotal reclaimed space: 1kB\n"
    assert bb.ok("volume", "ls", "-q") == "kept\nnew1\n"
    res = bb("volume", "prune", "-f", "--filter", "until=yesterday")
    assert res.returncode != 0 and "yesterday" in res.stderr
    assert bb.ok("volume", "ls", "-q") == "kept\nnew1\n"


# --- rename ---------------------------------------------------------------------------


def test_rename_moves_data_and_stopped_containers_follow(bb: Orlop) -> None:
    bb.ok("run", "--name", "writer", "-v", "rn_old:/d", "busybox",
          "sh", "-c", "echo hello > /d/f")
    bb.ok("volume", "update", "--label-add", "team=x", "rn_old")
    assert bb.ok("volume", "rename", "rn_old", "rn_new") == ""
    assert not (bb.root / "volumes" / "rn_old").exists()
    assert (bb.root / "volumes" / "rn_new" / "_data" / "f").read_text() == "hello\n"
    assert _labels(bb, "rn_new") == {"team": "x"}
    res = bb("volume", "inspect", "rn_old")
    assert res.returncode == 1
    # The stopped container starts with the renamed volume.
    mounts = json.loads(bb.ok("inspect", "-f", "{{json .Mounts}}", "writer"))
    assert [(m["Name"], m["Source"]) for m in mounts] == [
        ("rn_new", str(bb.root / "volumes" / "rn_new" / "_data"))]
    bb.ok("start", "-a", "writer")
    bb.ok("run", "--rm", "-v", "rn_new:/d", "busybox", "sh", "-c",
          "test \"$(cat /d/f)\" = hello")
    assert bb.ok("volume", "ls", "-q") == "rn_new\n"  # no rn_old made by the start


def test_rename_refusals(bb: Orlop) -> None:
    bb.ok("volume", "create", "ra")
    bb.ok("volume", "create", "rb")
    bb.ok("run", "-d", "--name", "busy", "-v", "ra:/d", "busybox", "sleep", "60")
    try:
        res = bb("volume", "rename", "ra", "rc")
        assert res.returncode == 1
        assert res.stderr == ("Error: rename ra: volume is in use by running containers "
                              "- [busy]\n")
        res = bb("volume", "rename", "rb", "ra")
        assert (res.returncode, res.stderr) == (
            1, "Error: rename rb: a volume named ra already exists\n")
        res = bb("volume", "rename", "rb", "bad/name")
        assert res.returncode == 1 and "includes invalid characters" in res.stderr
        res = bb("volume", "rename", "nosuch", "x1")
        assert (res.returncode, res.stderr) == (1, "Error: No such volume: nosuch\n")
        res = bb("volume", "rename", "rb")
        assert res.returncode == 1 and "requires exactly 2 arguments" in res.stderr
        assert bb.ok("volume", "ls", "-q") == "ra\nrb\n"
    finally:
        bb("rm", "-f", "busy")
    bb.ok("volume", "rename", "ra", "rc")  # free once the container is gone
    assert bb.ok("volume", "ls", "-q") == "rb\nrc\n"


def test_rename_repaired_after_crash_between_move_and_commit(orlop: Orlop) -> None:
    """A kill -9 after rename(2) and before COMMIT: the row still says OLD, the directory
    is NEW, the intent file is there.  The next command puts the directory back under
    the name the rows say; nothing is adopted, nothing is dropped, no data is lost."""
    orlop.ok("volume", "create", "--label", "k=v", "cr_old")
    vols = orlop.root / "volumes"
    (vols / "cr_old" / "_data" / "f").write_text("data")
    os.rename(vols / "cr_old", vols / "cr_new")
    (vols / ".renames").mkdir()
    (vols / ".renames" / "0123").write_text(json.dumps({"old": "cr_old", "new": "cr_new"}))
    # One whose transaction committed (rows and directory agree): only the intent goes.
    orlop.ok("volume", "create", "cr_done")
    (vols / ".renames" / "4567").write_text(json.dumps({"old": "cr_x", "new": "cr_done"}))
    assert orlop.ok("volume", "ls", "-q") == "cr_done\ncr_old\n"
    assert (vols / "cr_old" / "_data" / "f").read_text() == "data"
    assert not (vols / "cr_new").exists()
    assert _labels(orlop, "cr_old") == {"k": "v"}
    assert os.listdir(vols / ".renames") == []
    orlop.ok("volume", "rename", "cr_old", "cr_new")  # and it can be renamed again
    assert orlop.ok("volume", "ls", "-q") == "cr_done\ncr_new\n"
