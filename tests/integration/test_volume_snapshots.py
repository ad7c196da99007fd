"""Volume snapshots, consistent and incremental backups, locally (real containers as root,
a temporary --root each): snapshot create/ls/rm/restore, restore refused while in use,
read-only snapshot mounts, export --consistent with a container writing all the time,
an incremental chain with deletions (and the wrong base refused), and a kill during
snapshot create repaired by the next command."""

from __future__ import annotations

import json
import os
import tarfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.integration.conftest import Orlop

pytestmark = pytest.mark.root


def _data(orlop: Orlop, name: str) -> Path:
    return orlop.root / "volumes" / name / "_data"


def _snaps(orlop: Orlop, name: str) -> Path:
    return orlop.root / "volumes" / name / "_snapshots"


def _tree(root: Path) -> dict[str, object]:
    """Path -> (type, mode, content or link target, inode group) of a tree, for equality."""
    out: dict[str, object] = {}
    inodes: dict[int, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = p.lstat()
            if p.is_symlink():
                out[rel] = ("l", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("d", oct(st.st_mode), st.st_uid)
            else:
                first = inodes.setdefault(st.st_ino, rel)
                out[rel] = ("f", oct(st.st_mode), st.st_uid, p.read_bytes(),
                            first if st.st_nlink > 1 else "")
    return out


# --- create, ls, rm, restore ------------------------------------------------------------


def test_snapshot_create_ls_rm_restore(orlop: Orlop) -> None:
    orlop.ok("volume", "create", "sv")
    d = _data(orlop, "sv")
    (d / "sub").mkdir()
    (d / "a").write_text("one")
    (d / "sub" / "b").write_text("bee")
    os.symlink("a", d / "link")
    os.chown(d / "a", 1234, 5678)
    assert orlop.ok("volume", "snapshot", "create", "sv", "s1") == "s1\n"
    (d / "a").write_text("changed")
    (d / "sub" / "b").unlink()
    (d / "new").write_text("n")
    auto = orlop.ok("volume", "snapshot", "create", "sv").strip()
    assert auto.startswith("snap-")
    assert orlop.ok("volume", "snapshot", "ls", "-q", "sv") == f"s1\n{auto}\n"
    table = orlop.ok("volume", "snapshot", "ls", "sv").splitlines()
    assert table[0].split() == ["SNAPSHOT", "CREATED", "SIZE", "METHOD"]
    assert table[1].startswith("s1 ") and table[1].split()[-1] in ("copy", "reflink")
    rows = [json.loads(line) for line in
            orlop.ok("volume", "snapshot", "ls", "--format", "json", "sv").splitlines()]
    assert [r["Name"] for r in rows] == ["s1", auto] and rows[0]["Volume"] == "sv"
    assert orlop.ok("volume", "snapshot", "ls", "--format", "{{.Name}} {{.Method}}",
                    "sv").splitlines()[0] in ("s1 copy", "s1 reflink")
    # Errors: Docker-style texts and exit codes.
    res = orlop("volume", "snapshot", "create", "sv", "s1")
    assert (res.returncode, res.stderr) == (1, "Error: snapshot sv@s1 already exists\n")
    res = orlop("volume", "snapshot", "create", "nosuch", "x1")
    assert (res.returncode, res.stderr) == (1, "Error: No such volume: nosuch\n")
    res = orlop("volume", "snapshot", "restore", "sv", "nope")
    assert (res.returncode, res.stderr) == (1, "Error: no such snapshot: sv@nope\n")
    res = orlop("volume", "snapshot", "create", "sv", "bad/name")
    assert res.returncode == 1 and "invalid snapshot name" in res.stderr
    res = orlop("volume", "snapshot", "ls")
    assert res.returncode == 1 and "requires exactly 1 argument" in res.stderr

    assert orlop.ok("volume", "snapshot", "restore", "sv", "s1") == "sv\n"
    assert (d / "a").read_text() == "one"
    assert (d / "a").stat().st_uid == 1234 and (d / "a").stat().st_gid == 5678
    assert (d / "sub" / "b").read_text() == "bee"
    assert not (d / "new").exists() and os.readlink(d / "link") == "a"
    assert _tree(d) == _tree(_snaps(orlop, "sv") / "s1" / "_data")

    res = orlop("volume", "snapshot", "rm", "sv", auto, "nope")
    assert res.returncode == 1 and res.stdout == f"{auto}\n"
    assert res.stderr == "Error: no such snapshot: sv@nope\n"
    assert orlop.ok("volume", "snapshot", "ls", "-q", "sv") == "s1\n"
    assert sorted(os.listdir(_snaps(orlop, "sv"))) == ["s1"]  # no trash left
    # Snapshots move with a rename and go with the volume.
    orlop.ok("volume", "rename", "sv", "sv2")
    assert orlop.ok("volume", "snapshot", "ls", "-q", "sv2") == "s1\n"
    orlop.ok("volume", "rm", "sv2")
    assert not (orlop.root / "volumes" / "sv2").exists()


def test_restore_refused_while_in_use(bb: Orlop, no_leftover_containers: None) -> None:
    bb.ok("volume", "create", "ru")
    (_data(bb, "ru") / "f").write_text("old")
    bb.ok("volume", "snapshot", "create", "ru", "s1")
    (_data(bb, "ru") / "f").write_text("new")
    bb.ok("run", "-d", "--name", "ru_user", "-v", "ru:/d", "busybox", "sleep", "60")
    res = bb("volume", "snapshot", "restore", "ru", "s1")
    assert (res.returncode, res.stderr) == (
        1, "Error: restore ru: volume is in use - [ru_user]\n")
    assert (_data(bb, "ru") / "f").read_text() == "new"
    bb.ok("stop", "-t", "0", "ru_user")
    bb.ok("volume", "snapshot", "restore", "ru", "s1")  # stopped users do not block it
    bb.ok("start", "ru_user")
    assert bb.ok("exec", "ru_user", "cat", "/d/f") == "old"
    bb.ok("rm", "-f", "ru_user")


def test_snapshot_mount_is_read_only(bb: Orlop) -> None:
    bb.ok("volume", "create", "mv")
    (_data(bb, "mv") / "f").write_text("then")
    bb.ok("volume", "snapshot", "create", "mv", "s1")
    (_data(bb, "mv") / "f").write_text("now")
    out = bb.ok("run", "--rm", "-v", "mv:/cur", "-v", "mv@s1:/old:ro", "busybox", "sh",
                "-c", "cat /cur/f /old/f")
    assert out == "nowthen"
    # Always read-only, even without :ro, and with --mount volume-snapshot=.
    res = bb("run", "--rm", "-v", "mv@s1:/old", "busybox", "sh", "-c",
             "echo x > /old/f")
    assert res.returncode != 0 and "Read-only file system" in res.stderr
    res = bb("run", "--rm", "--mount", "type=volume,src=mv,dst=/old,volume-snapshot=s1",
             "busybox", "sh", "-c", "cat /old/f; touch /old/g")
    assert res.stdout == "then" and "Read-only file system" in res.stderr
    res = bb("run", "--rm", "-v", "mv@s1:/old:rw", "busybox", "true")
    assert res.returncode == 125 and "always read-only" in res.stderr
    res = bb("run", "--rm", "-v", "mv@nope:/old", "busybox", "true")
    assert res.returncode == 125 and "no such snapshot: mv@nope" in res.stderr
    assert (_data(bb, "mv") / "f").read_text() == "now"
    # A snapshot a container has mounted is not removed under it.
    bb.ok("create", "--name", "mv_user", "-v", "mv@s1:/old", "busybox", "true")
    res = bb("volume", "snapshot", "rm", "mv", "s1")
    assert (res.returncode, res.stderr) == (
        1, "Error: remove mv@s1: snapshot is in use - [mv_user]\n")
    # ... nor with its volume (rm, rename): the container holds it as a mount point does.
    cid = bb.ok("inspect", "-f", "{{.Id}}", "mv_user").strip()
    res = bb("volume", "rm", "mv")
    assert (res.returncode, res.stderr) == (1, f"Error: remove mv: volume is in use - [{cid}]\n")
    res = bb("volume", "rename", "mv", "mv2")
    assert res.returncode == 1 and "[mv_user]" in res.stderr
    bb.ok("rm", "mv_user")
    bb.ok("volume", "snapshot", "rm", "mv", "s1")


# --- export --consistent ----------------------------------------------------------------


# Each file replaced atomically (a rename), so a frozen copy never sees one half-written.
_WRITER = ("i=0; while true; do i=$((i+1)); echo $i > /d/a.t; mv /d/a.t /d/a; "
           "echo $i > /d/b.t; mv /d/b.t /d/b; done")


def _pair(archive: Path) -> tuple[int, int]:
    with tarfile.open(archive) as tf:
        a = tf.extractfile("a")
        b = tf.extractfile("b")
        assert a is not None and b is not None
        return int(a.read() or b"0"), int(b.read() or b"0")


def test_export_consistent_freezes_a_writer(bb: Orlop, no_leftover_containers: None) -> None:
    """A container writes a then b with the same counter, all the time.  A point-in-time
    copy has a == b or a == b + 1 (frozen between the two writes); --consistent gives
    that every time, and the container runs on afterwards (not left paused)."""
    bb.ok("run", "-d", "--name", "cw", "-v", "cv:/d", "busybox", "sh", "-c", _WRITER)
    try:
        deadline = time.time() + 20
        while not (_data(bb, "cv") / "b").exists() and time.time() < deadline:
            time.sleep(0.05)
        for n in range(5):
            out = bb.cwd / f"c{n}.tar"
            res = bb("volume", "export", "--consistent", "-o", str(out), "cv")
            assert res.returncode == 0 and res.stderr == "", res.stderr
            a, b = _pair(out)
            assert a - b in (0, 1), (a, b)
            assert bb.ok("inspect", "-f", "{{.State.Status}}", "cw") == "running\n"
        # The default stays non-disruptive and says it read a volume in use.
        res = bb("volume", "export", "-o", str(bb.cwd / "plain.tar"), "cv")
        assert res.returncode == 0
        assert res.stderr.startswith("WARNING: volume cv is in use by running containers "
                                     "(cw)"), res.stderr
        # A consistent snapshot too.
        bb.ok("volume", "snapshot", "create", "--consistent", "cv", "s1")
        snap = _snaps(bb, "cv") / "s1" / "_data"
        a, b = int((snap / "a").read_text() or 0), int((snap / "b").read_text() or 0)
        assert a - b in (0, 1), (a, b)
        # Paused by the user: stays paused.
        bb.ok("pause", "cw")
        bb.ok("volume", "export", "--consistent", "-o", str(bb.cwd / "p.tar"), "cv")
        assert bb.ok("inspect", "-f", "{{.State.Status}}", "cw") == "paused\n"
        bb.ok("unpause", "cw")
    finally:
        bb("rm", "-f", "cw")


# --- incremental export -----------------------------------------------------------------


def test_incremental_chain_with_deletions_and_wrong_base(orlop: Orlop) -> None:
    orlop.ok("volume", "create", "iv")
    d = _data(orlop, "iv")
    (d / "keep").mkdir()
    (d / "gone").mkdir()
    (d / "gone" / "x").write_text("x")
    (d / "keep" / "same").write_text("same" * 1000)
    (d / "mod").write_text("v1")
    (d / "del").write_text("bye")
    (d / "hl").write_text("linked")
    orlop.ok("volume", "snapshot", "create", "iv", "mon")
    # Changes: modified, deleted file, deleted directory, new file, new hard link to an
    # unchanged file, a file replaced by a directory, mode change.
    (d / "mod").write_text("v2")
    (d / "del").unlink()
    (d / "gone" / "x").unlink()
    (d / "gone").rmdir()
    (d / "keep" / "new").write_text("new")
    os.link(d / "hl", d / "keep" / "hl2")
    (d / "hl").chmod(0o600)
    orlop.ok("volume", "snapshot", "create", "iv", "tue")
    (d / "mod").unlink()
    (d / "mod").mkdir()
    (d / "mod" / "inner").write_text("i")
    (d / "keep" / "new").unlink()
    orlop.ok("volume", "snapshot", "create", "iv", "wed")

    full, inc1, inc2 = (orlop.cwd / n for n in ("mon.tar", "tue.tar", "wed.tar"))
    orlop.ok("volume", "export", "--snapshot", "mon", "-o", str(full), "iv")
    orlop.ok("volume", "export", "--snapshot", "tue", "--since", "mon", "-o", str(inc1),
             "iv")
    orlop.ok("volume", "export", "--snapshot", "wed", "--since", "tue", "-o", str(inc2),
             "iv")
    with tarfile.open(inc1) as tf:
        names = set(tf.getnames())
    assert {"mod", "keep/new", ".wh.del", ".wh.gone", "hl", "keep/hl2"} <= names
    assert "keep/same" not in names  # unchanged: not in the incremental
    assert inc1.stat().st_size < full.stat().st_size

    # The wrong base is refused, clearly, and changes nothing.
    res = orlop("volume", "import", "copy", str(inc1))
    assert res.returncode == 1 and "does not exist: import the archive of mon first" in \
        res.stderr
    orlop.ok("volume", "import", "copy", str(full))
    res = orlop("volume", "import", "copy", str(inc2))
    assert res.returncode == 1, res.stderr
    assert res.stderr.startswith("Error: volume import: the archive is based on snapshot "
                                 "iv@tue (")
    assert "but volume copy holds snapshot iv@mon" in res.stderr
    assert _tree(_data(orlop, "copy")) == _tree(_snaps(orlop, "iv") / "mon" / "_data")
    orlop.ok("volume", "import", "copy", str(inc1))
    assert _tree(_data(orlop, "copy")) == _tree(_snaps(orlop, "iv") / "tue" / "_data")
    orlop.ok("volume", "import", "copy", str(inc2))
    assert _tree(_data(orlop, "copy")) == _tree(_snaps(orlop, "iv") / "wed" / "_data")
    res = orlop("volume", "import", "copy", str(inc2))  # applied already
    assert res.returncode == 1 and "holds snapshot iv@wed" in res.stderr
    # Live changes since a snapshot: an archive nothing can build on, still applicable.
    (d / "live").write_text("L")
    live = orlop.cwd / "live.tar"
    orlop.ok("volume", "export", "--since", "wed", "-o", str(live), "iv")
    orlop.ok("volume", "import", "copy", str(live))
    assert (_data(orlop, "copy") / "live").read_text() == "L"
    assert _tree(_data(orlop, "copy")) == _tree(d)
    res = orlop("volume", "export", "--since", "nope", "-o", str(live), "iv")
    assert (res.returncode, res.stderr) == (1, "Error: no such snapshot: iv@nope\n")


# --- crash safety -----------------------------------------------------------------------


def test_killed_snapshot_create_is_repaired(orlop: Orlop) -> None:
    orlop.ok("volume", "create", "kv")
    (_data(orlop, "kv") / "f").write_text("data")
    res = orlop("volume", "snapshot", "create", "kv", "s1",
                env={"ORLOP_FAULT": "volume.snapshot.staged"})
    assert res.returncode == 137, res.stderr
    left = os.listdir(_snaps(orlop, "kv"))
    assert len(left) == 1 and left[0].startswith(".tmp-")  # the torn state
    assert orlop.ok("volume", "snapshot", "ls", "-q", "kv") == ""
    assert os.listdir(_snaps(orlop, "kv")) == []  # repaired by that next command
    assert orlop.ok("volume", "snapshot", "create", "kv", "s1") == "s1\n"
    # A restore killed before its exchange leaves the volume as it was.
    (_data(orlop, "kv") / "f").write_text("later")
    res = orlop("volume", "snapshot", "restore", "kv", "s1",
                env={"ORLOP_FAULT": "volume.snapshot.restore.staged"})
    assert res.returncode == 137
    assert (_data(orlop, "kv") / "f").read_text() == "later"
    orlop.ok("volume", "ls")
    assert not [n for n in os.listdir(orlop.root / "volumes") if n.startswith(".tmp-")]
    orlop.ok("volume", "snapshot", "restore", "kv", "s1")
    assert (_data(orlop, "kv") / "f").read_text() == "data"
