"""The exact mount syscalls the runtime makes for a spec, recorded by RecordingSyscalls.

prepare_rootfs, finalize_rootfs and mount_overlay run against a real directory tree in
tmp_path (path resolution is the real openat2 of kernel/safepath.py) while every mount,
open_tree, move_mount, mount_setattr and fs* call goes to the fake.  Fds in the records
are named (``tree1``, ``fs1``, ``mnt1``, ``fd:$ROOT/data``): see kernel/recording.py.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from orlop.kernel.flags import (
    AT_EMPTY_PATH,
    AT_RECURSIVE,
    FSCONFIG_CMD_CREATE,
    FSCONFIG_SET_STRING,
    FSMOUNT_CLOEXEC,
    FSOPEN_CLOEXEC,
    MOVE_MOUNT_F_EMPTY_PATH,
    MOVE_MOUNT_T_EMPTY_PATH,
    OPEN_TREE_CLOEXEC,
    OPEN_TREE_CLONE,
    MountAttr,
    MountFlag,
)
from orlop.kernel.recording import (
    FsConfig,
    FsMount,
    FsOpen,
    Mount,
    MountSetattr,
    MoveMount,
    OpenTree,
    RecordingSyscalls,
)
from orlop.mounts.oci import oci_mount
from orlop.mounts.spec import MountPoint
from orlop.runtime import spec as oci
from orlop.runtime.failure import InitStepError
from orlop.runtime.finalize import finalize_rootfs
from orlop.runtime.imageroot import PAGE_SIZE, mount_overlay
from orlop.runtime.rootfs import RootfsState, prepare_rootfs

# mknod of /dev/null etc. in the fake rootfs; without CAP_MKNOD the runtime binds the
# host's nodes instead, which adds calls to every sequence.
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")

CLONE = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC
ATTACH = MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH
# The first two calls of every prepare_rootfs: "/" rslave, the rootfs bound onto itself.
PROLOGUE = [Mount(None, "/", None, MountFlag.REC | MountFlag.SLAVE),
            Mount("$ROOT", "$ROOT", None, MountFlag.BIND | MountFlag.REC)]


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    (tmp_path / "bundle" / "rootfs").mkdir(parents=True)
    return tmp_path / "bundle"


@pytest.fixture
def sc(bundle: Path) -> Iterator[RecordingSyscalls]:
    fake = RecordingSyscalls(root=str(bundle / "rootfs"))
    yield fake
    fake.close()


def _prepare(spec: oci.Spec, bundle: Path, sc: RecordingSyscalls) -> RootfsState:
    state = prepare_rootfs(spec, bundle, sc=sc)
    os.close(state.root_fd)
    return state


def _oci(mp: MountPoint, *, source_is_dir: bool = True) -> oci.Mount:
    return oci_mount(mp, source_is_dir=source_is_dir)


def test_host_bind(bundle: Path, sc: RecordingSyscalls, tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    spec = oci.Spec(mounts=[_oci(MountPoint(type="bind", destination="/data",
                                            source=str(host)))])
    _prepare(spec, bundle, sc)
    assert sc.calls == [
        *PROLOGUE,
        OpenTree("AT_FDCWD", str(host), CLONE | AT_RECURSIVE),
        MountSetattr("tree1", "", AT_EMPTY_PATH, 0, MountAttr.RDONLY),  # "rw" clears ro
        MoveMount("tree1", "", "fd:$ROOT/data", "", ATTACH),
        Mount(None, "fd:$ROOT/data", None, MountFlag.REC | MountFlag.PRIVATE),  # rprivate
    ]
    assert (bundle / "rootfs" / "data").is_dir()
    assert os.path.exists(bundle / "rootfs" / "dev" / "null")


def test_read_only_directory_bind_is_recursive(bundle: Path, sc: RecordingSyscalls,
                                                tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    spec = oci.Spec(mounts=[_oci(MountPoint(type="bind", destination="/data",
                                            source=str(host), rw=False))])
    _prepare(spec, bundle, sc)
    assert sc.calls[2:4] == [
        OpenTree("AT_FDCWD", str(host), CLONE | AT_RECURSIVE),
        MountSetattr("tree1", "", AT_EMPTY_PATH | AT_RECURSIVE, MountAttr.RDONLY, 0),  # rro
    ]


def test_file_bind_read_only(bundle: Path, sc: RecordingSyscalls, tmp_path: Path) -> None:
    host = tmp_path / "host.conf"
    host.write_text("x")
    spec = oci.Spec(mounts=[_oci(MountPoint(type="bind", destination="/etc/app.conf",
                                            source=str(host), rw=False),
                                 source_is_dir=False)])
    _prepare(spec, bundle, sc)
    assert sc.calls == [
        *PROLOGUE,
        OpenTree("AT_FDCWD", str(host), CLONE | AT_RECURSIVE),
        MountSetattr("tree1", "", AT_EMPTY_PATH, MountAttr.RDONLY, 0),  # "ro" (no submounts)
        MoveMount("tree1", "", "fd:$ROOT/etc/app.conf", "", ATTACH),
        Mount(None, "fd:$ROOT/etc/app.conf", None, MountFlag.REC | MountFlag.PRIVATE),
    ]
    assert (bundle / "rootfs" / "etc" / "app.conf").is_file()  # a file target for a file


def test_read_only_tmpfs(bundle: Path, sc: RecordingSyscalls) -> None:
    spec = oci.Spec(mounts=[oci.Mount("/scratch", "tmpfs", "tmpfs",
                                      ["nosuid", "nodev", "noexec", "ro", "size=65536k"])])
    state = prepare_rootfs(spec, bundle, sc=sc)
    try:
        # Mounted read-write (nested mount points may still be made in it) ...
        assert sc.calls == [
            *PROLOGUE,
            Mount("tmpfs", "fd:$ROOT/scratch", "tmpfs",
                  MountFlag.NOSUID | MountFlag.NODEV | MountFlag.NOEXEC, "size=65536k"),
        ]
        assert state.deferred_ro == ["/scratch"]
        # ... and made read-only last, after pivot_root (here: on the same root fd).
        sc.calls.clear()
        finalize_rootfs(state.root_fd, spec, state.deferred_ro, sc=sc)
        assert sc.calls == [MountSetattr("fd:$ROOT/scratch", "", AT_EMPTY_PATH,
                                         MountAttr.RDONLY)]
    finally:
        os.close(state.root_fd)


def test_volume_with_subpath(bundle: Path, sc: RecordingSyscalls, tmp_path: Path) -> None:
    from orlop.engine.containers import runner

    data = tmp_path / "volumes" / "v" / "_data"
    (data / "a" / "b").mkdir(parents=True)
    mp = MountPoint(type="volume", destination="/data", name="v", subpath="a/b")
    pinned = runner._with_source(mp, str(data), tmp_path / "pins", sc=sc)
    pin = pinned.source
    try:
        assert pin.startswith(str(tmp_path / "pins") + "/")
        # The engine pins the checked subpath (through the fd of the check) ...
        assert sc.calls == [Mount(f"fd:{data}/a/b", pin, None, MountFlag.BIND),
                            Mount(None, pin, None, MountFlag.PRIVATE)]
        sc.calls.clear()
        # ... and the runtime binds the pin, never the path that was checked.
        _prepare(oci.Spec(mounts=[_oci(pinned)]), bundle, sc)
        assert sc.calls == [
            *PROLOGUE,
            OpenTree("AT_FDCWD", pin, CLONE | AT_RECURSIVE),
            MountSetattr("tree1", "", AT_EMPTY_PATH, 0, MountAttr.RDONLY),
            MoveMount("tree1", "", "fd:$ROOT/data", "", ATTACH),
            Mount(None, "fd:$ROOT/data", None, MountFlag.REC | MountFlag.PRIVATE),
        ]
    finally:
        runner.PINNED.remove(pin)


def test_volume_subpath_escaping_is_refused_before_any_mount(
        sc: RecordingSyscalls, tmp_path: Path) -> None:
    from orlop.engine.containers import runner
    from orlop.errors import RuntimeFailedError

    data = tmp_path / "volumes" / "v" / "_data"
    data.mkdir(parents=True)
    (data / "out").symlink_to("/etc")
    mp = MountPoint(type="volume", destination="/data", name="v", subpath="out")
    with pytest.raises(RuntimeFailedError, match="path escapes the volume"):
        runner._with_source(mp, str(data), tmp_path / "pins", sc=sc)
    assert sc.calls == []


def test_proc_symlink_in_image_is_refused(bundle: Path, sc: RecordingSyscalls) -> None:
    (bundle / "rootfs" / "etc").mkdir()
    (bundle / "rootfs" / "proc").symlink_to("/etc")
    spec = oci.Spec(mounts=[oci.Mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"])])
    with pytest.raises(InitStepError, match="not a directory") as info:
        prepare_rootfs(spec, bundle, sc=sc)
    assert info.value.errno == errno.ENOTDIR
    assert sc.calls == PROLOGUE  # nothing mounted through the symlink


def test_bind_through_symlink_into_proc_is_refused(bundle: Path, sc: RecordingSyscalls,
                                                   tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (bundle / "rootfs" / "proc").mkdir()
    (bundle / "rootfs" / "data").symlink_to("/proc")
    spec = oci.Spec(mounts=[
        oci.Mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        _oci(MountPoint(type="bind", destination="/data", source=str(host))),
    ])
    with pytest.raises(InitStepError, match="resolves into /proc") as info:
        prepare_rootfs(spec, bundle, sc=sc)
    assert info.value.errno == errno.EPERM
    assert sc.calls == [
        *PROLOGUE,
        Mount("proc", "fd:$ROOT/proc", "proc",
              MountFlag.NOSUID | MountFlag.NOEXEC | MountFlag.NODEV),
        OpenTree("AT_FDCWD", str(host), CLONE | AT_RECURSIVE),
        MountSetattr("tree1", "", AT_EMPTY_PATH, 0, MountAttr.RDONLY),
    ]  # and no move_mount: the tree is dropped unattached


def test_masks_and_readonly_paths(bundle: Path, sc: RecordingSyscalls) -> None:
    root = bundle / "rootfs"
    (root / "proc" / "sys").mkdir(parents=True)
    (root / "proc" / "acpi").mkdir()
    (root / "proc" / "kcore").write_text("")
    spec = oci.Spec(linux=oci.Linux(readonly_paths=["/proc/sys"],
                                    masked_paths=["/proc/acpi", "/proc/kcore", "/nope"]),
                    root=oci.Root(readonly=True))
    state = prepare_rootfs(spec, bundle, sc=sc)
    try:
        sc.calls.clear()
        finalize_rootfs(state.root_fd, spec, state.deferred_ro, sc=sc)
    finally:
        os.close(state.root_fd)
    assert sc.calls == [
        OpenTree("fd:$ROOT/proc/sys", "", CLONE | AT_EMPTY_PATH | AT_RECURSIVE),
        MountSetattr("tree1", "", AT_EMPTY_PATH | AT_RECURSIVE, MountAttr.RDONLY),
        MoveMount("tree1", "", "fd:$ROOT/proc/sys", "", ATTACH),
        FsOpen("tmpfs", FSOPEN_CLOEXEC),
        FsConfig("fs1", FSCONFIG_CMD_CREATE),
        FsMount("fs1", FSMOUNT_CLOEXEC, MountAttr.RDONLY),
        MoveMount("mnt1", "", "fd:$ROOT/proc/acpi", "", ATTACH),
        OpenTree("fd:$ROOT/dev/null", "", CLONE | AT_EMPTY_PATH),
        MoveMount("tree2", "", "fd:$ROOT/proc/kcore", "", ATTACH),
        MountSetattr("AT_FDCWD", "/", 0, MountAttr.RDONLY),  # readonly root, after pivot
    ]


def _layers(base: Path, count: int, name_len: int) -> list[str]:
    paths = []
    for i in range(count):
        d = base / f"{i:0{name_len}d}" / "diff"
        d.mkdir(parents=True)
        paths.append(str(d))
    return paths


def test_overlay_short_lowerdir_is_one_mount(sc: RecordingSyscalls, tmp_path: Path) -> None:
    lowers = _layers(tmp_path / "layers", 3, 4)
    mount_overlay("/r", lowers, "/u", "/w", sc=sc)
    assert sc.calls == [Mount("overlay", "/r", "overlay", 0,
                              f"lowerdir={':'.join(lowers)},upperdir=/u,workdir=/w")]


def test_overlay_long_lowerdir_uses_relative_paths(sc: RecordingSyscalls,
                                                   tmp_path: Path) -> None:
    base = tmp_path / ("x" * 100)
    lowers = _layers(base / "layers", 40, 64)
    upper, work = base / "c" / "diff", base / "c" / "work"
    upper.mkdir(parents=True)
    work.mkdir()
    cwd = os.getcwd()
    mount_overlay("/r", lowers, str(upper), str(work), sc=sc)
    assert os.getcwd() == cwd
    rel = ":".join(f"layers/{i:064d}/diff" for i in range(40))
    assert len(rel) < PAGE_SIZE < len(":".join(lowers))
    assert sc.calls == [Mount("overlay", "/r", "overlay", 0,
                              f"lowerdir={rel},upperdir=c/diff,workdir=c/work")]


def test_overlay_longer_than_a_page_even_relative_uses_fsconfig(
        sc: RecordingSyscalls, tmp_path: Path) -> None:
    lowers = [f"/l/{i:0100d}" for i in range(60)]  # never looked at: no chdir needed
    mount_overlay("/r", lowers, "/u", "/w", sc=sc)
    assert sc.calls == [
        FsOpen("overlay", FSOPEN_CLOEXEC),
        *[FsConfig("fs1", FSCONFIG_SET_STRING, "lowerdir+", layer) for layer in lowers],
        FsConfig("fs1", FSCONFIG_SET_STRING, "upperdir", "/u"),
        FsConfig("fs1", FSCONFIG_SET_STRING, "workdir", "/w"),
        FsConfig("fs1", FSCONFIG_CMD_CREATE),
        FsMount("fs1", FSMOUNT_CLOEXEC),
        MoveMount("mnt1", "", "AT_FDCWD", "/r", MOVE_MOUNT_F_EMPTY_PATH),
    ]
