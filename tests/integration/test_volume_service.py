"""VolumeService as root: driver mounts (tmpfs, bind, ext4 image, size= quota), concurrent
creates from several processes, the in-use check against the database, reconcile."""

from __future__ import annotations

import errno
import glob
import multiprocessing
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orlop.config import EngineConfig
from orlop.errors import SystemFailureError, VolumeInUseError, VolumeNotFoundError
from orlop.state import Database
from orlop.volumes.service import VolumeService
from testsupport import add_container

pytestmark = pytest.mark.root


@pytest.fixture
def svc(tmp_orlop_dir: Path) -> Iterator[VolumeService]:
    config = EngineConfig.from_env(str(tmp_orlop_dir / "root"))
    config.root.mkdir(parents=True)
    db = Database(config.db_path)
    yield VolumeService(config, db)
    db.close()


def _is_mounted(path: str | Path) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == str(path) for line in f)


def _loops_backed_by(prefix: Path) -> list[str]:
    out = []
    for bf in glob.glob("/sys/block/loop*/loop/backing_file"):
        try:
            backing = Path(bf).read_text().strip()
        except OSError:
            continue
        if backing.startswith(str(prefix)):
            out.append(bf.split("/")[3])
    return out


def _wait_no_loops(prefix: Path, timeout: float = 5.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while (left := _loops_backed_by(prefix)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _write(path: Path, nbytes: int) -> None:
    with open(path, "wb") as f:
        chunk = b"\1" * (1 << 20)
        while nbytes > 0:
            n = min(nbytes, len(chunk))
            f.write(chunk[:n])
            nbytes -= n
        f.flush()
        os.fsync(f.fileno())




def test_tmpfs_volume_mounted_by_first_user_unmounted_by_last(svc: VolumeService) -> None:
    vol = svc.create("tv", options={"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
    assert not _is_mounted(vol.mountpoint)
    path = svc.mount("tv", "c1")
    assert path == str(vol.mountpoint) and _is_mounted(path)
    svc.mount("tv", "c2")
    (vol.mountpoint / "small").write_bytes(b"x" * 1000)
    with pytest.raises(OSError) as e:
        _write(vol.mountpoint / "big", 2 << 20)
    assert e.value.errno == errno.ENOSPC  # size=1m enforced
    svc.unmount("tv", "c1")
    assert _is_mounted(path)
    svc.unmount("tv", "c2")
    assert not _is_mounted(path)
    assert not (vol.mountpoint / "small").exists()  # tmpfs content goes with the mount
    svc.remove("tv")


def test_mount_is_not_stacked_across_service_instances(svc: VolumeService) -> None:
    svc.create("tv2", options={"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
    other = VolumeService(svc.config, Database(svc.config.db_path))
    svc.mount("tv2", "c1")
    other.mount("tv2", "c2")
    with open("/proc/self/mountinfo") as f:
        assert sum(1 for line in f if line.split()[4].endswith("/tv2/_data")) == 1
    other.unmount("tv2", "c2")
    svc.unmount("tv2", "c1")
    assert not _is_mounted(svc.get("tv2").mountpoint)


def test_bind_volume_shows_host_dir_and_remove_keeps_host_data(
        svc: VolumeService, tmp_orlop_dir: Path) -> None:
    host = tmp_orlop_dir / "hostdir"
    host.mkdir()
    (host / "keep").write_text("host data")
    vol = svc.create("bv", options={"type": "none", "o": "bind", "device": str(host)})
    svc.mount("bv", "c1")
    assert (vol.mountpoint / "keep").read_text() == "host data"
    (vol.mountpoint / "new").write_text("from container")
    svc.unmount("bv", "c1")
    assert not _is_mounted(vol.mountpoint)
    # A stale mount (crash): remove must unmount, never delete through it.
    svc.mount("bv", "c2")
    with svc.db.write() as conn:
        conn.execute("DELETE FROM volume_mounts WHERE volume_name = 'bv'")
    svc.remove("bv")
    assert (host / "keep").read_text() == "host data"
    assert (host / "new").read_text() == "from container"


def test_bind_volume_ro_option_applied_on_reopened_mount(
        svc: VolumeService, tmp_orlop_dir: Path) -> None:
    host = tmp_orlop_dir / "rohost"
    host.mkdir()
    vol = svc.create("robv", options={"type": "none", "o": "bind,ro", "device": str(host)})
    svc.mount("robv", "c1")
    try:
        with pytest.raises(OSError) as e:
            (vol.mountpoint / "x").write_text("no")
        assert e.value.errno == errno.EROFS
        (tmp_orlop_dir / "still-writable").write_text("ok")  # the store was not remounted
    finally:
        svc.unmount("robv", "c1")


def test_bind_volume_missing_device_clear_error(svc: VolumeService) -> None:
    svc.create("bad_bind", options={"type": "none", "o": "bind", "device": "/nonexistent/x"})
    with pytest.raises(SystemFailureError) as e:
        svc.mount("bad_bind", "c1")
    assert str(e.value) == (
        f"error while mounting volume '{svc.volumes_dir}/bad_bind/_data': failed to mount "
        f"local volume: mount /nonexistent/x:{svc.volumes_dir}/bad_bind/_data, flags: 0x1000:"
        " no such file or directory")
    assert svc.references("bad_bind") == []
    with svc.db.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM volume_mounts").fetchone()[0] == 0


def test_ext4_image_device_loop_mounted_and_released(
        svc: VolumeService, tmp_orlop_dir: Path) -> None:
    img = tmp_orlop_dir / "fs.img"
    with open(img, "wb") as f:
        f.truncate(16 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(img)], check=True)
    vol = svc.create("ev", options={"type": "ext4", "device": str(img), "o": "noatime"})
    svc.mount("ev", "c1")
    assert _is_mounted(vol.mountpoint)
    (vol.mountpoint / "f").write_text("on ext4")
    svc.unmount("ev", "c1")
    assert _wait_no_loops(img) == []
    svc.mount("ev", "c1")
    assert (vol.mountpoint / "f").read_text() == "on ext4"
    svc.unmount("ev", "c1")
    assert _wait_no_loops(img) == []


def test_size_volume_quota_enforced_no_loop_left(svc: VolumeService) -> None:
    vol = svc.create("qv", options={"size": "8m"})
    disk = vol.mountpoint.parent / "disk.img"
    assert os.stat(disk).st_size == 8 << 20
    assert os.stat(disk).st_blocks * 512 < 8 << 20  # sparse
    svc.mount("qv", "c1")
    assert os.listdir(vol.mountpoint) == []  # no lost+found: copy-up sees it empty
    with pytest.raises(OSError) as e:
        _write(vol.mountpoint / "big", 16 << 20)
    assert e.value.errno == errno.ENOSPC
    (vol.mountpoint / "big").unlink()
    (vol.mountpoint / "keep").write_text("persisted")
    svc.unmount("qv", "c1")
    assert not _is_mounted(vol.mountpoint)
    assert _wait_no_loops(vol.mountpoint.parent) == []
    svc.mount("qv", "c2")
    assert (vol.mountpoint / "keep").read_text() == "persisted"
    svc.unmount("qv", "c2")
    svc.remove("qv")
    assert _wait_no_loops(svc.volumes_dir) == []


def _create_in_child(root: str, name: str, barrier: multiprocessing.synchronize.Barrier,
                     results: multiprocessing.queues.Queue[str]) -> None:
    config = EngineConfig.from_env(root)
    svc = VolumeService(config, Database(config.db_path))
    barrier.wait()
    try:
        svc.create(name, labels={"pid": str(os.getpid())})
        results.put("ok")
    except Exception as err:  # reported to the parent
        results.put(f"{type(err).__name__}: {err}")


def test_concurrent_creates_of_one_name_end_with_one_volume(svc: VolumeService) -> None:
    svc.list()  # the schema exists before the children race
    ctx = multiprocessing.get_context("fork")
    for round_ in range(8):
        name = f"same{round_}"
        barrier = ctx.Barrier(4)
        results: multiprocessing.queues.Queue[str] = ctx.Queue()
        procs = [ctx.Process(target=_create_in_child,
                             args=(str(svc.config.root), name, barrier, results))
                 for _ in range(4)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        outcomes = [results.get(timeout=5) for _ in procs]
        assert outcomes == ["ok"] * 4
        assert [v.name for v in svc.list({"name": [f"^{name}$"]})] == [name]
    assert sorted(os.listdir(svc.volumes_dir)) == [f"same{i}" for i in range(8)]


def test_remove_refused_while_mount_points_row_references(svc: VolumeService) -> None:
    svc.create("inuse_vol")
    cid = add_container(svc.db, "inuse_vol")
    with pytest.raises(VolumeInUseError) as e:
        svc.remove("inuse_vol", force=True)
    assert str(e.value) == f"remove inuse_vol: volume is in use - [{cid}]"
    assert svc.get("inuse_vol").mountpoint.is_dir()
    with svc.db.write() as conn:
        conn.execute("DELETE FROM containers WHERE id = ?", (cid,))
    svc.remove("inuse_vol")


def test_reconcile_unmounts_volume_of_dead_container(svc: VolumeService) -> None:
    vol = svc.create("rv", options={"type": "tmpfs", "device": "tmpfs", "o": "size=1m"})
    svc.mount("rv", "alive")
    svc.mount("rv", "dead")
    report = svc.reconcile({"alive"})
    assert report.refs_released == [("rv", "dead")]
    assert _is_mounted(vol.mountpoint)
    report = svc.reconcile(set())
    assert report.unmounted == ["rv"]
    assert not _is_mounted(vol.mountpoint)


def _use_in_child(root: str, rounds: int, results: multiprocessing.queues.Queue[str],
                  done: multiprocessing.synchronize.Event) -> None:
    """What the engine does for `run --rm -v race:/d`: ensure the volume, record the
    container's mount point in its own transaction, check the directory, remove all."""
    import sqlite3

    config = EngineConfig.from_env(root)
    db = Database(config.db_path)
    svc = VolumeService(config, db)
    problems = []
    for _ in range(rounds):
        vol, _created = svc.ensure("race")
        try:
            cid = add_container(db, "race")
        except sqlite3.IntegrityError:
            continue  # removed between ensure and the insert: a clean failure
        if not vol.mountpoint.is_dir():
            problems.append("a referenced volume has no directory")
        with db.write() as conn:
            conn.execute("DELETE FROM containers WHERE id = ?", (cid,))
    done.set()
    results.put(";".join(problems) or "ok")


def _remove_in_child(root: str, results: multiprocessing.queues.Queue[str],
                     done: multiprocessing.synchronize.Event) -> None:
    config = EngineConfig.from_env(root)
    svc = VolumeService(config, Database(config.db_path))
    removed = 0
    while not done.is_set():
        try:
            svc.remove("race")
            removed += 1
        except (VolumeInUseError, VolumeNotFoundError):
            pass
    results.put(f"removed {removed}")


def test_racing_use_and_remove_never_leave_row_without_directory(svc: VolumeService) -> None:
    svc.list()
    ctx = multiprocessing.get_context("fork")
    results: multiprocessing.queues.Queue[str] = ctx.Queue()
    root = str(svc.config.root)
    done = ctx.Event()
    procs = [ctx.Process(target=_use_in_child, args=(root, 100, results, done)),
             ctx.Process(target=_remove_in_child, args=(root, results, done))]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    outcomes = sorted(results.get(timeout=5) for _ in procs)
    assert outcomes[0] == "ok", outcomes
    assert outcomes[1] != "removed 0", "the race never happened"
    rows = {v.name for v in svc.list()}
    dirs = {d for d in os.listdir(svc.volumes_dir) if not d.startswith(".")}
    assert rows == dirs
    assert [d for d in os.listdir(svc.volumes_dir) if d.startswith(".")] == []
