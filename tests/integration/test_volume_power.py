"""Orlop's volume power tools, locally: update (labels), inspect's UsedBy, ls used-by,
prune until/--dry-run, rename (with stopped containers following it, and crash repair)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
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
    assert bb.ok("inspect", "-f", "{{json .HostConfig.Binds}}", "writer") == '["rn_new:/d"]\n'
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
        assert (res.returncode, res.stderr) == (
            1, 'Error: rename rb: "bad/name" includes invalid characters for a local volume '
               'name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass '
               "a host directory, use absolute path\n")
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
    """Killed (ORLOP_FAULT, as SIGKILL) after rename(2) and before COMMIT: the row still
    says OLD, the directory is NEW.  The operation marker makes the next command repair:
    the directory goes back under the name the rows say; nothing adopted, nothing lost."""
    orlop.ok("volume", "create", "--label", "k=v", "cr_old")
    vols = orlop.root / "volumes"
    (vols / "cr_old" / "_data" / "f").write_text("data")
    res = orlop("volume", "rename", "cr_old", "cr_new",
                env={"ORLOP_FAULT": "volume-rename-moved"})
    assert res.returncode == 137, res.stderr
    assert (vols / "cr_new").is_dir() and not (vols / "cr_old").exists()  # the torn state
    assert orlop.ok("volume", "ls", "-q") == "cr_old\n"
    assert (vols / "cr_old" / "_data" / "f").read_text() == "data"
    assert not (vols / "cr_new").exists()
    assert _labels(orlop, "cr_old") == {"k": "v"}
    assert os.listdir(vols / ".renames") == []
    orlop.ok("volume", "rename", "cr_old", "cr_new")  # and it can be renamed again
    assert orlop.ok("volume", "ls", "-q") == "cr_new\n"
    assert (vols / "cr_new" / "_data" / "f").read_text() == "data"


# --- volume cp ------------------------------------------------------------------------


def _vol(orlop: Orlop, name: str) -> Path:
    return orlop.root / "volumes" / name / "_data"


def test_cp_host_to_volume_and_back_with_docker_naming(orlop: Orlop) -> None:
    src = orlop.cwd / "in"
    (src / "sub").mkdir(parents=True)
    (src / "a").write_text("A")
    (src / "sub" / "b").write_text("B")
    os.chown(src / "a", 1234, 1234)
    orlop.ok("volume", "create", "cpv")
    assert orlop.ok("volume", "cp", "./in", "cpv:/dir") == ""
    assert (_vol(orlop, "cpv") / "dir" / "sub" / "b").read_text() == "B"
    assert (_vol(orlop, "cpv") / "dir" / "a").stat().st_uid == 0  # as cp: no -a, root's
    orlop.ok("volume", "cp", "-a", "./in", "cpv:/")  # an existing dir: lands inside it
    assert (_vol(orlop, "cpv") / "in" / "a").stat().st_uid == 1234
    orlop.ok("volume", "cp", "./in/.", "cpv:/flat")  # trailing /.: the content
    assert sorted(os.listdir(_vol(orlop, "cpv") / "flat")) == ["a", "sub"]
    orlop.ok("volume", "cp", "cpv:/dir", "./out")
    assert (orlop.cwd / "out" / "sub" / "b").read_text() == "B"
    orlop.ok("volume", "cp", "cpv:/dir/.", "./out")  # content into an existing dir
    assert sorted(os.listdir(orlop.cwd / "out")) == ["a", "sub"]
    orlop.ok("volume", "cp", "-a", "cpv:/in/a", "./a-copy")
    assert (orlop.cwd / "a-copy").stat().st_uid == 1234
    orlop.ok("volume", "cp", "cpv:/in/a", "./a-root")
    assert (orlop.cwd / "a-root").stat().st_uid == 0


def test_cp_volume_to_volume(orlop: Orlop) -> None:
    orlop.ok("volume", "create", "va")
    orlop.ok("volume", "create", "vb")
    (_vol(orlop, "va") / "x").mkdir()
    (_vol(orlop, "va") / "x" / "f").write_text("F")
    os.chown(_vol(orlop, "va") / "x" / "f", 42, 42)
    orlop.ok("volume", "cp", "va:/x", "vb:/y")
    assert (_vol(orlop, "vb") / "y" / "f").read_text() == "F"
    assert (_vol(orlop, "vb") / "y" / "f").stat().st_uid == 0
    orlop.ok("volume", "cp", "-a", "va:/x", "vb:/")
    assert (_vol(orlop, "vb") / "x" / "f").stat().st_uid == 42
    res = orlop("volume", "cp", "va:/x", "va:/x/inner")
    assert (res.returncode, res.stderr) == (
        1, "Error: cannot copy a directory, 'va:/x', into itself, 'va:/x/inner'\n")
    # through a symlink in the volume that leads back into the source: refused by inode
    os.symlink("/x", _vol(orlop, "va") / "back")
    res = orlop("volume", "cp", "va:/x", "va:/back/deeper")
    assert res.returncode == 1 and "into itself" in res.stderr
    orlop.ok("volume", "cp", "va:/x", "va:/x2")  # a sibling is fine
    assert (_vol(orlop, "va") / "x2" / "f").read_text() == "F"


def test_cp_errors(orlop: Orlop) -> None:
    orlop.ok("volume", "create", "ev")
    (orlop.cwd / "file").write_text("f")
    (orlop.cwd / "d").mkdir()
    (_vol(orlop, "ev") / "f").write_text("x")
    res = orlop("volume", "cp", "ev:/nope", "./x")
    assert (res.returncode, res.stderr) == (
        1, "Error: Could not find the file /nope in volume ev\n")
    res = orlop("volume", "cp", "nosuch:/x", "./x")
    assert (res.returncode, res.stderr) == (1, "Error: No such volume: nosuch\n")
    res = orlop("volume", "cp", "./missing", "ev:/")
    assert res.returncode == 1
    assert res.stderr == f"Error: lstat {orlop.cwd}/missing: no such file or directory\n"
    res = orlop("volume", "cp", "./d", "ev:/f")
    assert (res.returncode, res.stderr) == (
        1, 'Error: cannot overwrite non-directory "/f" with directory "./d"\n')
    res = orlop("volume", "cp", "./file", "./other")
    assert res.returncode == 1 and "must specify at least one volume source" in res.stderr
    res = orlop("volume", "cp", "ev:/f", "-")
    assert res.returncode == 1 and "volume export" in res.stderr


def test_cp_hostile_paths_stay_in_the_volume(orlop: Orlop) -> None:
    """A symlink in the volume pointing at /etc, and ``..`` in the path, resolve inside
    the volume (RESOLVE_IN_ROOT): nothing of the host's /etc is read or written."""
    orlop.ok("volume", "create", "hv")
    data = _vol(orlop, "hv")
    os.symlink("/etc", data / "evil")
    os.symlink("../../../../../../etc/passwd", data / "pw")
    (orlop.cwd / "payload").write_text("owned")
    # out: the link's target is the volume's own /etc, which does not exist
    res = orlop("volume", "cp", "hv:/evil/passwd", "./stolen")
    assert res.returncode == 1 and "Could not find the file /evil/passwd" in res.stderr
    res = orlop("volume", "cp", "hv:/../../../../etc/passwd", "./stolen")
    assert res.returncode == 1 and "Could not find the file" in res.stderr
    assert not (orlop.cwd / "stolen").exists()
    # a symlink copied out stays a symlink (never its target's content)
    orlop.ok("volume", "cp", "hv:/pw", "./pw")
    assert os.path.islink(orlop.cwd / "pw")
    # in: through the link or with .., the write lands in the volume or is refused
    res = orlop("volume", "cp", "./payload", "hv:/evil/")
    assert (res.returncode, res.stderr) == (1, "Error: no such directory\n")
    assert not os.path.exists("/etc/payload")
    orlop.ok("volume", "cp", "./payload", "hv:/../../../../tmp-escape")
    assert (data / "tmp-escape").read_text() == "owned"
    assert not os.path.exists("/tmp-escape")
    orlop.ok("volume", "cp", "./payload", "hv:/pw")  # replaces the link, not /etc/passwd
    assert (data / "pw").read_text() == "owned" and not os.path.islink(data / "pw")
    assert b"owned" not in open("/etc/passwd", "rb").read()
    # volume to volume through the same links
    orlop.ok("volume", "create", "hv2")
    res = orlop("volume", "cp", "hv:/evil/shadow", "hv2:/s")
    assert res.returncode == 1 and not (_vol(orlop, "hv2") / "s").exists()


def test_cp_refuses_nothing_but_keeps_volume_held(bb: Orlop) -> None:
    """A volume a running container uses can be copied into (as cp into a container's
    volume); a copy in progress holds the volume, and releases it after."""
    bb.ok("run", "-d", "--name", "holder", "-v", "hq:/d", "busybox", "sleep", "60")
    try:
        (bb.cwd / "f").write_text("live")
        bb.ok("volume", "cp", "./f", "hq:/f")
        assert bb.ok("exec", "holder", "cat", "/d/f") == "live"
    finally:
        bb("rm", "-f", "holder")
    db = sqlite3.connect(bb.root / "orlop.db")
    assert db.execute("SELECT COUNT(*) FROM volume_mounts").fetchone()[0] == 0
    db.close()
    bb.ok("volume", "rm", "hq")


def test_rename_killed_at_random_points_leaves_one_name(orlop: Orlop) -> None:
    """kill -9 of real ``volume rename`` processes at spread-out moments: after each, the
    next command sees the volume under exactly one name, with its data and labels, and
    its directory under that name."""
    import subprocess
    import sys
    import time

    orlop.ok("volume", "create", "--label", "k=v", "kr0")
    (orlop.root / "volumes" / "kr0" / "_data" / "f").write_text("data")
    name = "kr0"
    env = {k: v for k, v in os.environ.items() if k != "ORLOP_ROOT"}
    for i in range(12):
        new = f"kr{i + 1}"
        proc = subprocess.Popen([sys.executable, "-m", "orlop", "--root", str(orlop.root),
                                 "volume", "rename", name, new], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.15 + 0.03 * i)  # from start-up into the rename itself
        proc.kill()
        proc.wait()
        names = orlop.ok("volume", "ls", "-q").split()
        assert names in ([name], [new]), (i, names)
        name = names[0]
        data = orlop.root / "volumes" / name / "_data" / "f"
        assert data.read_text() == "data", i
        assert sorted(n for n in os.listdir(orlop.root / "volumes")
                      if not n.startswith(".")) == [name], i
        assert _labels(orlop, name) == {"k": "v"}
