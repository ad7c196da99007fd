"""The snapshot store and the incremental writer on a plain temporary root (no
containers): the staging/rename protocol, restore's exchange, the diff's whiteouts and
hard links."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from orlop.archive.tarwriter import TarWriter
from orlop.errors import ConflictError, NotFoundError
from orlop.volumes.incremental import write_incremental
from orlop.volumes.service import VolumeService
from orlop.volumes.snapshots import SNAPSHOTS_DIR, SnapshotStore
from orlop.volumes.snapshotsweep import sweep_leftovers


def test_create_list_restore_remove(svc: VolumeService) -> None:
    vol = svc.create("v1")
    (vol.mountpoint / "f").write_text("one")
    snaps = SnapshotStore(svc)
    s1 = snaps.create("v1", "s1")
    assert s1.kind == "tree" and s1.method in ("copy", "reflink") and len(s1.id) == 32
    (vol.mountpoint / "f").write_text("two")
    (vol.mountpoint / "g").write_text("g")
    assert [s.name for s in snaps.list("v1")] == ["s1"]
    with pytest.raises(ConflictError, match="already exists"):
        snaps.create("v1", "s1")
    snaps.restore("v1", "s1")
    assert (vol.mountpoint / "f").read_text() == "one" and not (vol.mountpoint / "g").exists()
    snaps.remove("v1", "s1")
    with pytest.raises(NotFoundError, match="no such snapshot: v1@s1"):
        snaps.get("v1", "s1")
    assert os.listdir(vol.mountpoint.parent / SNAPSHOTS_DIR) == []


def test_sweep_removes_dead_staging_only(svc: VolumeService) -> None:
    svc.create("v2")
    sdir = svc.volumes_dir / "v2" / SNAPSHOTS_DIR
    sdir.mkdir()
    (sdir / ".tmp-999999999-x").mkdir()  # a dead maker
    (sdir / f".tmp-{os.getpid()}-y").mkdir()  # this (live) process
    (sdir / "real").mkdir()
    fd = os.open(svc.volumes_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        removed, errors = sweep_leftovers(fd, ["v2"])
    finally:
        os.close(fd)
    assert removed == [f"v2/{SNAPSHOTS_DIR}/.tmp-999999999-x"] and errors == []
    assert sorted(os.listdir(sdir)) == [f".tmp-{os.getpid()}-y", "real"]


def test_incremental_writes_changes_whiteouts_and_all_link_names(tmp_path: Path) -> None:
    base, new = tmp_path / "base", tmp_path / "new"
    for d in (base, new):
        (d / "dir").mkdir(parents=True)
        (d / "same").write_text("s")
        os.utime(d / "same", ns=(1, 1))
    (base / "gone").write_text("x")
    (base / "dir" / "old").write_text("x")
    (new / "added").write_text("a")
    (new / "dir" / "l1").write_text("L")
    os.link(new / "dir" / "l1", new / "l2")
    os.utime(base / "dir", ns=(5, 5))
    os.utime(new / "dir", ns=(5, 5))
    archive = tmp_path / "inc.tar"
    bfd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    nfd = os.open(new, os.O_RDONLY | os.O_DIRECTORY)
    w = os.open(archive, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        tw = TarWriter(w)
        stats = write_incremental(tw, nfd, bfd)
        tw.close()
    finally:
        for fd in (bfd, nfd, w):
            os.close(fd)
    with tarfile.open(archive) as tf:
        members = {m.name: m for m in tf.getmembers()}
    assert ".wh.gone" in members and "dir/.wh.old" in members and "added" in members
    assert "same" not in members
    links = [m for m in members.values() if m.islnk()]
    assert len(links) == 1 and {links[0].name, links[0].linkname} == {"dir/l1", "l2"}
    assert stats.deleted == 2
