"""VolumeService logic on a plain temporary root: no mounts, no root needed."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from orlop.errors import (
    InvalidParameterError,
    InvalidVolumeNameError,
    NotFoundError,
    SystemFailureError,
    VolumeInUseError,
    VolumeNotFoundError,
)
from orlop.state import Database
from orlop.volumes.model import ANONYMOUS_LABEL
from orlop.volumes.service import VolumeService

if TYPE_CHECKING:
    from tests.unit.volumes.conftest import Containers


def _entries(svc: VolumeService) -> list[str]:
    return sorted(os.listdir(svc.volumes_dir))


def test_create_named_layout_and_row(svc: VolumeService) -> None:
    vol = svc.create("cr_plain")
    assert vol.name == "cr_plain" and vol.driver == "local" and not vol.anonymous
    assert vol.labels is None and vol.options is None
    assert vol.mountpoint == svc.volumes_dir / "cr_plain" / "_data"
    assert vol.mountpoint.is_dir()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", vol.created_at)
    assert oct(os.stat(svc.volumes_dir / "cr_plain").st_mode & 0o7777) == "0o701"
    assert oct(os.stat(vol.mountpoint).st_mode & 0o7777) == "0o755"
    assert _entries(svc) == ["cr_plain"]  # no staging leftovers
    assert svc.get("cr_plain") == vol


def test_create_without_name_is_anonymous_64_hex(svc: VolumeService) -> None:
    vol = svc.create()
    assert re.fullmatch(r"[0-9a-f]{64}", vol.name)
    assert vol.anonymous
    assert vol.labels == {ANONYMOUS_LABEL: ""}


def test_create_existing_returns_it_with_old_labels(svc: VolumeService) -> None:
    first = svc.create("cr_lab", labels={"team": "db"})
    again, created = svc.ensure("cr_lab", labels={"team": "other"}, options={"foo": "bar"})
    assert not created
    assert again == first


def test_create_unknown_driver_docker_text(svc: VolumeService) -> None:
    with pytest.raises(NotFoundError) as e:
        svc.create("cr_baddrv", driver="nosuchdriver")
    assert str(e.value) == ('create cr_baddrv: error looking up volume plugin nosuchdriver: '
                            'plugin "nosuchdriver" not found')


def test_create_bad_option_docker_text_nothing_left(svc: VolumeService) -> None:
    with pytest.raises(InvalidParameterError) as e:
        svc.create("cr_badopt", options={"foo": "bar"})
    assert str(e.value) == 'create cr_badopt: invalid option: "foo"'
    with pytest.raises(VolumeNotFoundError):
        svc.get("cr_badopt")


def test_create_invalid_name_builds_no_path(svc: VolumeService, tmp_path: Path) -> None:
    with pytest.raises(InvalidVolumeNameError):
        svc.create("../escape")
    assert not (svc.volumes_dir.parent / "escape").exists()


def test_create_options_recorded_in_opts_json(svc: VolumeService) -> None:
    opts = {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}
    vol = svc.create("cr_tmpfs", options=opts)
    assert vol.options == opts
    assert (svc.volumes_dir / "cr_tmpfs" / "opts.json").read_text() == (
        '{"device": "tmpfs", "o": "size=1m", "type": "tmpfs"}')


def test_get_missing_and_invalid_not_found(svc: VolumeService) -> None:
    with pytest.raises(VolumeNotFoundError, match="No such volume: nosuch"):
        svc.get("nosuch")
    with pytest.raises(VolumeNotFoundError):
        svc.get("../../etc")


def test_list_filters(svc: VolumeService, db: Database, containers: Containers) -> None:
    svc.create("pr_named_unused")
    svc.create("pr_labeled_unused", labels={"keep": "yes"})
    svc.create("pr_named_used")
    anon_used = svc.create()
    anon_free = svc.create()
    containers.add("pr_named_used", anon_used.name)

    def names(**filters: list[str]) -> list[str]:
        return [v.name for v in svc.list({k.replace("_not", "!"): v
                                          for k, v in filters.items()})]

    assert names(dangling=["true"]) == sorted(
        [anon_free.name, "pr_labeled_unused", "pr_named_unused"])
    assert names(dangling=["false"]) == sorted([anon_used.name, "pr_named_used"])
    assert names(label=["keep=yes"]) == ["pr_labeled_unused"]
    assert names(name=["pr_named"]) == ["pr_named_unused", "pr_named_used"]
    assert len(names(driver=["local"])) == 5
    assert names(label=[ANONYMOUS_LABEL]) == sorted([anon_used.name, anon_free.name])
    with pytest.raises(InvalidParameterError, match="Invalid filter 'nosuch'"):
        svc.list({"nosuch": ["1"]})


def test_remove_in_use_refused_with_container_ids(
        svc: VolumeService, db: Database, containers: Containers)  -> None:
    svc.create("inuse_vol")
    cid = containers.add("inuse_vol")
    for force in (False, True):
        with pytest.raises(VolumeInUseError) as e:
            svc.remove("inuse_vol", force=force)
        assert str(e.value) == f"remove inuse_vol: volume is in use - [{cid}]"
    assert svc.get("inuse_vol")
    assert svc.references("inuse_vol") == [cid]
    containers.remove(cid)
    svc.remove("inuse_vol")
    assert _entries(svc) == []


def test_remove_missing_not_found_unless_force(svc: VolumeService) -> None:
    with pytest.raises(VolumeNotFoundError, match="No such volume: nosuchvol"):
        svc.remove("nosuchvol")
    svc.remove("nosuchvol", force=True)
    svc.remove("../bad", force=True)


def test_remove_never_follows_planted_symlink(svc: VolumeService, tmp_path: Path) -> None:
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep").write_text("x")
    vol = svc.create("victim")
    os.rmdir(vol.mountpoint)
    os.symlink(outside, vol.mountpoint)  # volumes/victim/_data -> a host directory
    svc.remove("victim")
    assert (outside / "keep").read_text() == "x"
    assert _entries(svc) == []


def test_volume_dir_replaced_by_symlink_refused(svc: VolumeService, tmp_path: Path) -> None:
    svc.create("vv")
    target = tmp_path / "elsewhere"
    (target / "_data").mkdir(parents=True)
    d = svc.volumes_dir / "vv"
    os.rename(d, tmp_path / "moved")
    os.symlink(target, d)
    with pytest.raises(SystemFailureError, match="not a directory"):
        svc.mount("vv", "c1")
    with pytest.raises(SystemFailureError, match="not a directory"):
        svc.remove("vv")
    assert (target / "_data").is_dir()


def test_prune_anonymous_only_unless_all(
        svc: VolumeService, db: Database, containers: Containers)  -> None:
    svc.create("named_unused")
    svc.create("labeled", labels={"keep": "yes"})
    used_anon = svc.create()
    free_anon = svc.create()
    cid = containers.add(used_anon.name)
    (free_anon.mountpoint / "f").write_bytes(b"x" * 1234)

    removed, reclaimed = svc.prune()
    assert removed == [free_anon.name]
    assert reclaimed == 1234

    removed, _ = svc.prune(all=True, filters={"label!": ["keep=yes"]})
    assert removed == ["named_unused"]
    removed, _ = svc.prune(filters={"all": ["true"], "label": ["keep"]})
    assert removed == ["labeled"]
    assert [v.name for v in svc.list()] == [used_anon.name]
    containers.remove(cid)
    assert svc.prune() == ([used_anon.name], 0)


def test_usage_and_references(svc: VolumeService, db: Database, containers: Containers) -> None:
    vol = svc.create("du")
    (vol.mountpoint / "a").write_bytes(b"1" * 100)
    os.link(vol.mountpoint / "a", vol.mountpoint / "hard")
    os.symlink("/etc/passwd", vol.mountpoint / "link")
    (vol.mountpoint / "sub").mkdir()
    (vol.mountpoint / "sub" / "b").write_bytes(b"2" * 50)
    c1 = containers.add("du")
    c2 = containers.add("du", "du")  # mounted twice in one container: one reference
    size, refs = svc.usage("du")
    assert refs == 2
    assert size == 150 + len("/etc/passwd")
    assert svc.references("du") == sorted([c1, c2])


def test_mount_unmount_plain_volume_counts_refs(
        svc: VolumeService, db: Database, containers: Containers)  -> None:
    svc.create("plain")
    path = svc.mount("plain", "c1")
    assert path == str(svc.volumes_dir / "plain" / "_data")
    svc.mount("plain", "c1")  # idempotent per reference
    svc.mount("plain", "c2")

    def count() -> int:
        with db.read() as conn:
            return int(conn.execute("SELECT mount_count FROM volumes WHERE name='plain'"
                                    ).fetchone()[0])

    assert count() == 2
    with pytest.raises(VolumeInUseError):
        svc.remove("plain")  # a mount reference holds it too
    svc.unmount("plain", "c1")
    svc.unmount("plain", "c1")
    assert count() == 1
    svc.unmount("plain", "c2")
    assert count() == 0
    svc.remove("plain")


def test_reconcile_repairs_leftovers_rows_and_dirs(
        svc: VolumeService, db: Database, containers: Containers)  -> None:
    kept = svc.create("kept")
    gone = svc.create("gone_dir")
    held = svc.create("held_dir")
    containers.add("held_dir")
    svc.mount("kept", "deadbeef")
    # Makers that cannot be alive: pids above any pid_max (a low pid such as 456 may be a
    # process of the suite's that started just before, after the pid numbers wrapped).
    (svc.volumes_dir / ".tmp-999999123-x").mkdir()
    (svc.volumes_dir / ".trash-999999456-x" / "x").mkdir(parents=True)
    orphan = svc.volumes_dir / "orphan"
    (orphan / "_data").mkdir(parents=True)
    (orphan / "opts.json").write_text('{"size": "8m"}')
    os.rename(gone.mountpoint.parent, svc.volumes_dir / ".trash-gone")
    import shutil
    shutil.rmtree(svc.volumes_dir / ".trash-gone")
    shutil.rmtree(held.mountpoint.parent)

    report = svc.reconcile(set())

    assert sorted(report.leftovers_removed) == [".tmp-999999123-x", ".trash-999999456-x"]
    assert report.rows_dropped == ["gone_dir"]
    assert report.dirs_recreated == ["held_dir"]
    assert report.dirs_adopted == ["orphan"]
    assert report.refs_released == [("kept", "deadbeef")]
    assert _entries(svc) == ["held_dir", "kept", "orphan"]
    adopted = svc.get("orphan")
    assert adopted.options == {"size": "8m"} and not adopted.anonymous
    assert held.mountpoint.is_dir() and kept.mountpoint.is_dir()
    assert svc.reconcile(set()) == type(report)()  # a second pass finds nothing


def test_copy_up_only_into_empty_volume(svc: VolumeService, tmp_path: Path) -> None:
    src = tmp_path / "img_data"
    (src / "sub").mkdir(parents=True)
    (src / "hello.txt").write_text("hello")
    os.chmod(src, 0o750)
    vol = svc.create("cu")
    vfd = svc.open_data_dir("cu")
    sfd = os.open(src, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert svc.copy_up(vfd, sfd)
        assert (vol.mountpoint / "hello.txt").read_text() == "hello"
        assert oct(os.stat(vol.mountpoint).st_mode & 0o777) == "0o750"
        assert not svc.copy_up(vfd, sfd)  # not empty any more
    finally:
        os.close(vfd)
        os.close(sfd)


def test_create_without_rename_noreplace_support_falls_back(
        svc: VolumeService, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from orlop.kernel import fs  # volumes/dirs.py imports it when it renames

    def no_noreplace(*args: object) -> None:
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(fs, "renameat2", no_noreplace)
    vol = svc.create("fallback")
    assert vol.mountpoint.is_dir()
    assert _entries(svc) == ["fallback"]


def test_create_failure_after_rename_leaves_no_directory(
        svc: VolumeService, monkeypatch: pytest.MonkeyPatch) -> None:
    from orlop.volumes import service as service_mod

    def boom() -> str:
        raise RuntimeError("crash between rename and INSERT")

    monkeypatch.setattr(service_mod, "_now", boom)
    with pytest.raises(RuntimeError):
        svc.create("halfmade")
    assert _entries(svc) == []
    with pytest.raises(VolumeNotFoundError):
        svc.get("halfmade")


def test_create_adopts_orphan_directory_with_its_options(svc: VolumeService) -> None:
    orphan = svc.volumes_dir / "orphan"
    (orphan / "_data").mkdir(parents=True)
    (orphan / "_data" / "old").write_text("data survives")
    (orphan / "opts.json").write_text('{"type": "tmpfs", "device": "tmpfs"}')
    vol = svc.create("orphan")
    assert vol.options == {"type": "tmpfs", "device": "tmpfs"}
    assert (vol.mountpoint / "old").read_text() == "data survives"
    assert _entries(svc) == ["orphan"]
