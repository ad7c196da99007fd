"""The seed's backup, restore and migrate recipe (reference 2.13), end to end through
worker containers running busybox tar, exactly as Docker's documentation shows it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from harness import Orlop

_FILL = ("mkdir -p /dbdata/sub && echo record1 > /dbdata/db.txt && echo nested > "
         "/dbdata/sub/n.txt && ln -s db.txt /dbdata/link && chown 1000:1000 /dbdata/db.txt")
_MEMBERS = ["dbdata/", "dbdata/link", "dbdata/sub/", "dbdata/sub/n.txt", "dbdata/db.txt"]


def _listing(bb: Orlop, *mount: str, path: str = "/dbdata") -> str:
    return bb.ok("run", "--rm", *mount, "busybox", "sh", "-c",
                 f"cd {path} && find . | sort | while read f; do "
                 "stat -c '%n %u:%g %a %F %s' \"$f\"; done; cat db.txt sub/n.txt; "
                 "readlink link")


def test_backup_recipe_tar_through_volumes_from_restores_byte_identical(bb: Orlop) -> None:
    bb.ok("run", "-v", "/dbdata", "--name", "dbdata", "busybox", "sh", "-c", _FILL)
    res = bb("run", "--rm", "--volumes-from", "dbdata", "-v", f"{bb.cwd}:/backup",
             "busybox", "tar", "cvf", "/backup/backup.tar", "/dbdata")
    assert res.returncode == 0, res.stderr
    assert sorted(res.stdout.split()) == sorted(_MEMBERS)
    assert "tar: removing leading '/' from member names" in res.stderr
    # The --rm worker did not take dbdata's anonymous volume with it.
    assert len(bb.ok("volume", "ls", "-q").split()) == 1

    # GNU tar on the host reads it: owners and the symlink kept.
    tv = subprocess.run(["tar", "tvf", str(bb.cwd / "backup.tar")], check=True,
                        capture_output=True, text=True).stdout
    assert "1000/1000" in tv and "dbdata/link -> db.txt" in tv

    bb.ok("run", "-v", "/dbdata", "--name", "dbdata2", "busybox", "/bin/sh")
    res = bb("run", "--rm", "--volumes-from", "dbdata2", "-v", f"{bb.cwd}:/backup", "busybox",
             "sh", "-c", "cd /dbdata && tar xvf /backup/backup.tar --strip 1")
    assert res.returncode == 0, res.stderr
    assert sorted(res.stdout.split()) == sorted(_MEMBERS)

    before = _listing(bb, "--volumes-from", "dbdata")
    after = _listing(bb, "--volumes-from", "dbdata2")
    assert after == before
    assert "./db.txt 1000:1000 644 regular file 8" in after
    assert "record1\nnested\ndb.txt\n" in after


def test_backup_recipe_restore_into_new_named_volume(bb: Orlop) -> None:
    bb.ok("run", "-v", "/dbdata", "--name", "dbdata", "busybox", "sh", "-c", _FILL)
    bb.ok("run", "--rm", "--volumes-from", "dbdata", "-v", f"{bb.cwd}:/backup",
          "busybox", "tar", "cvf", "/backup/backup.tar", "/dbdata")
    bb.ok("run", "--rm", "-v", "restored:/dbdata", "-v", f"{bb.cwd}:/backup", "busybox",
          "tar", "xf", "/backup/backup.tar", "-C", "/")
    out = bb.ok("run", "--rm", "-v", "restored:/x", "busybox", "find", "/x")
    assert sorted(out.split()) == ["/x", "/x/db.txt", "/x/link", "/x/sub", "/x/sub/n.txt"]
    assert _listing(bb, "-v", "restored:/dbdata") == _listing(bb, "--volumes-from", "dbdata")
    bb.ok("rm", "-v", "dbdata")
    bb.ok("volume", "rm", "restored")
    assert bb.ok("volume", "ls", "-q").split() == []


def test_backup_recipe_migrate_archive_to_another_engine_root(
        bb: Orlop, tmp_orlop_dir: Path) -> None:
    """Migration: the archive made on one Orlop root restores on another."""
    bb.ok("run", "-v", "/dbdata", "--name", "dbdata", "busybox", "sh", "-c", _FILL)
    bb.ok("run", "--rm", "--volumes-from", "dbdata", "-v", f"{bb.cwd}:/backup",
          "busybox", "tar", "cvf", "/backup/backup.tar", "/dbdata")
    other = Orlop(root=tmp_orlop_dir / "root2", cwd=bb.cwd)
    other.ok("import", str(Path(__file__).resolve().parents[2] / ".cache" / "busybox.tar"),
             "busybox:latest")
    other.ok("run", "--rm", "-v", "moved:/dbdata", "-v", f"{bb.cwd}:/backup", "busybox",
             "tar", "xf", "/backup/backup.tar", "-C", "/")
    assert _listing(other, "-v", "moved:/dbdata") == _listing(bb, "--volumes-from", "dbdata")
