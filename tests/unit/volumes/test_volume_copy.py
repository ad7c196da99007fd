"""copy_tree_fd on crafted trees: links never followed, hard links, special files,
sparse files, set-id bits, xattrs and times kept."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from orlop.volumes.copy import copy_tree_fd

ROOT = os.geteuid() == 0


@pytest.fixture
def trees(tmp_path: Path) -> tuple[Path, Path]:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    return src, dst


def _copy(src: Path, dst: Path, **kw: bool) -> None:
    sfd = os.open(src, os.O_RDONLY | os.O_DIRECTORY)
    dfd = os.open(dst, os.O_RDONLY | os.O_DIRECTORY)
    try:
        copy_tree_fd(sfd, dfd, **kw)
    finally:
        os.close(sfd)
        os.close(dfd)


def _walk(root: Path) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            yield os.path.relpath(os.path.join(dirpath, n), root)


def test_copy_symlink_outside_copied_as_link_not_followed(
        trees: tuple[Path, Path], tmp_path: Path) -> None:
    src, dst = trees
    secret = tmp_path / "secret"
    secret.write_text("host secret")
    os.symlink(str(secret), src / "abs")
    os.symlink("../../../../etc/shadow", src / "rel")
    os.symlink("/nonexistent/dangling", src / "dangling")
    (src / "dirlink_target").mkdir()
    os.symlink(str(tmp_path), src / "dirlink")
    _copy(src, dst)
    assert os.readlink(dst / "abs") == str(secret)
    assert os.readlink(dst / "rel") == "../../../../etc/shadow"
    assert os.readlink(dst / "dangling") == "/nonexistent/dangling"
    assert (dst / "dirlink").is_symlink()
    # Nothing behind a link was copied.
    assert sorted(_walk(dst)) == sorted(["abs", "rel", "dangling", "dirlink",
                                         "dirlink_target"])


def test_copy_hardlinks_stay_hardlinks(trees: tuple[Path, Path]) -> None:
    src, dst = trees
    (src / "a").write_text("shared")
    (src / "sub").mkdir()
    os.link(src / "a", src / "sub" / "b")
    os.link(src / "a", src / "c")
    _copy(src, dst)
    ino = {os.stat(dst / p).st_ino for p in ("a", "sub/b", "c")}
    assert len(ino) == 1
    assert os.stat(dst / "a").st_nlink == 3
    assert os.stat(dst / "a").st_ino != os.stat(src / "a").st_ino


def test_copy_fifo_and_socket_created_not_opened(trees: tuple[Path, Path]) -> None:
    src, dst = trees
    os.mkfifo(src / "fifo", 0o640)
    _copy(src, dst)  # would block forever if the FIFO were opened for reading
    st = os.lstat(dst / "fifo")
    assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640


@pytest.mark.skipif(not ROOT, reason="mknod of a device needs root")
def test_copy_device_node(trees: tuple[Path, Path]) -> None:
    src, dst = trees
    os.mknod(src / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    _copy(src, dst)
    st = os.lstat(dst / "null")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)


def test_copy_sparse_file_stays_sparse(trees: tuple[Path, Path]) -> None:
    src, dst = trees
    size = 64 << 20
    with open(src / "sparse", "wb") as f:
        f.write(b"head")
        f.seek(32 << 20)
        f.write(b"middle")
        f.truncate(size)
    if os.stat(src / "sparse").st_blocks * 512 > 1 << 20:
        pytest.skip("this filesystem does not make sparse files")
    _copy(src, dst)
    st = os.stat(dst / "sparse")
    assert st.st_size == size
    assert st.st_blocks * 512 < 1 << 20
    data = (dst / "sparse").read_bytes()
    assert data[:4] == b"head" and data[32 << 20:(32 << 20) + 6] == b"middle"
    assert data.count(0) == size - 10


def test_copy_modes_setid_times_and_root_metadata(trees: tuple[Path, Path]) -> None:
    src, dst = trees
    f = src / "suid"
    f.write_text("#!/bin/sh\n")
    (src / "d").mkdir()
    (src / "d" / "inner").write_text("x")
    if ROOT:
        os.chown(f, 1234, 1234)
        os.chown(src, 1234, 1234)
    os.chmod(f, 0o4755)
    os.chmod(src / "d", 0o2750)
    os.chmod(src, 0o750)
    os.utime(f, ns=(1_000_000_000, 2_000_000_000))
    os.utime(src / "d", ns=(3_000_000_000, 4_000_000_000))
    _copy(src, dst)
    assert stat.S_IMODE(os.stat(dst / "suid").st_mode) == 0o4755
    assert stat.S_IMODE(os.stat(dst / "d").st_mode) == 0o2750
    assert os.stat(dst / "suid").st_mtime_ns == 2_000_000_000
    assert os.stat(dst / "d").st_mtime_ns == 4_000_000_000  # set after its children
    assert stat.S_IMODE(os.stat(dst).st_mode) == 0o750
    if ROOT:
        assert (os.stat(dst / "suid").st_uid, os.stat(dst).st_gid) == (1234, 1234)


def test_copy_without_root_metadata_leaves_root_alone(trees: tuple[Path, Path]) -> None:
    src, dst = trees
    os.chmod(src, 0o700)
    os.chmod(dst, 0o755)
    _copy(src, dst, root_metadata=False)
    assert stat.S_IMODE(os.stat(dst).st_mode) == 0o755


def test_copy_user_xattrs(trees: tuple[Path, Path]) -> None:
    src, dst = trees
    (src / "f").write_text("x")
    try:
        os.setxattr(src / "f", "user.orlop", b"value")
        os.setxattr(src, "user.root", b"r")
    except OSError as err:
        if err.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            pytest.skip("no user xattrs on this filesystem")
        raise
    _copy(src, dst)
    assert os.getxattr(dst / "f", "user.orlop") == b"value"
    assert os.getxattr(dst, "user.root") == b"r"


def test_copy_existing_entry_is_an_error_not_a_merge(trees: tuple[Path, Path]) -> None:
    src, dst = trees
    (src / "f").write_text("new")
    (dst / "f").write_text("old")
    with pytest.raises(FileExistsError):
        _copy(src, dst)
    assert (dst / "f").read_text() == "old"


def test_copy_into_symlinked_destination_entry_not_followed(
        trees: tuple[Path, Path], tmp_path: Path) -> None:
    src, dst = trees
    victim = tmp_path / "victim"
    victim.write_text("keep")
    (src / "f").write_text("payload")
    os.symlink(victim, dst / "f")  # planted in the destination
    with pytest.raises(FileExistsError):
        _copy(src, dst)
    assert victim.read_text() == "keep"


def test_copy_deep_tree_content(trees: tuple[Path, Path]) -> None:
    src, dst = trees
    p = src
    for i in range(30):
        p = p / f"d{i}"
        p.mkdir()
        (p / "f").write_text(str(i))
    _copy(src, dst)
    assert sorted(_walk(dst)) == sorted(_walk(src))
    assert (dst / "d0" / "d1" / "f").read_text() == "1"


@pytest.mark.skipif(not ROOT, reason="security.capability and chown need root")
def test_copy_file_capability_survives_chown(trees: tuple[Path, Path]) -> None:
    import struct

    src, dst = trees
    f = src / "ping"
    f.write_text("binary")
    os.chown(f, 1234, 1234)
    # VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE, permitted = CAP_NET_RAW (bit 13)
    cap = struct.pack("<5I", 0x02000001, 1 << 13, 0, 0, 0)
    os.setxattr(f, "security.capability", cap)
    os.setxattr(f, "trusted.orlop", b"t")
    _copy(src, dst)
    assert os.getxattr(dst / "ping", "security.capability") == cap
    assert os.getxattr(dst / "ping", "trusted.orlop") == b"t"
    assert os.stat(dst / "ping").st_uid == 1234
