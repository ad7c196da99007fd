"""File-descriptor based helpers for the volume store.

Every path below the volumes directory is reached one component at a time from an
open directory fd with ``O_NOFOLLOW`` (or openat2 ``RESOLVE_NO_SYMLINKS``), so a
symlink planted in the store (``volumes/x/_data -> /etc``) is never followed: the
CVE-2018-15664 / CVE-2021-30465 class (resolve a path, then use it after it changed).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_dir(name: str, dir_fd: int, flags: int = DIR_FLAGS) -> int:
    """Open the directory ``name`` (one component) below ``dir_fd``, never via a symlink."""
    if "/" in name or name in ("", ".", ".."):
        raise OSError(errno.EINVAL, "not a single path component", name)
    return os.open(name, flags | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)


@contextmanager
def opened_dir(name: str, dir_fd: int, flags: int = DIR_FLAGS) -> Iterator[int]:
    fd = open_dir(name, dir_fd, flags)
    try:
        yield fd
    finally:
        os.close(fd)


def is_mountpoint(dir_fd: int, name: str) -> bool:
    """Whether ``name`` below ``dir_fd`` is the root of another mount (bind mounts too).

    openat2 with RESOLVE_NO_XDEV fails with EXDEV exactly when resolving ``name`` crosses
    a mount, which st_dev comparison cannot tell for a bind mount of the same filesystem.
    """
    # Here, not at import: openat2 is ctypes (~1.5 ms of imports), and `volume ls`,
    # `inspect` and a `create` that succeeds never ask.
    from orlop.kernel.flags import RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV
    from orlop.kernel.fs import openat2

    try:
        fd = openat2(dir_fd, name, os.O_PATH | os.O_NOFOLLOW,
                     RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
    except OSError as err:
        if err.errno == errno.EXDEV:
            return True
        if err.errno == errno.ENOENT:
            return False
        raise
    os.close(fd)
    return False


def write_file(dir_fd: int, name: str, data: bytes, mode: int = 0o600) -> None:
    """Write a whole file atomically: temp name, fsync, rename over, fsync the directory."""
    tmp = f".{name}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                 mode, dir_fd=dir_fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    os.fsync(dir_fd)


def read_file(dir_fd: int, name: str, limit: int = 1 << 20) -> bytes | None:
    """The content of a regular file below ``dir_fd``, or None when it does not exist."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", name)
        return os.read(fd, limit)
    finally:
        os.close(fd)


def remove_tree(dir_fd: int, name: str) -> None:
    """``rm -rf name`` below ``dir_fd``, refusing to descend into another mount.

    shutil.rmtree is fd-based (no symlink is followed) but crosses mount points; a
    volume whose bind or tmpfs mount failed to go away would have the *host's* data
    deleted through it (``o=bind,device=/srv/data``).  Here a sub-directory that is a
    mount point stops the removal with EBUSY instead.
    """
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dir_fd)
        return
    if is_mountpoint(dir_fd, name):
        raise OSError(errno.EBUSY, "refusing to remove a mount point", name)
    fd = open_dir(name, dir_fd)
    try:
        _empty_dir(fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)


def remove_path(path: str | os.PathLike[str]) -> None:
    """:func:`remove_tree` of an absolute path's last component, below its parent opened
    as it is (the engine's own directories: a container's, a staging one).  Where
    ``shutil.rmtree(path, ignore_errors=True)`` was: the same, except that a mount left
    inside stops it (EBUSY) instead of having what it shows deleted; callers that
    ignored errors suppress ``OSError``."""
    parent, name = os.path.split(os.fspath(path))
    fd = os.open(parent or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        remove_tree(fd, name)
    finally:
        os.close(fd)


def _empty_dir(fd: int) -> None:
    with os.scandir(fd) as it:
        entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
    for child, is_dir in entries:
        if is_dir:
            remove_tree(fd, child)
        else:
            try:
                os.unlink(child, dir_fd=fd)
            except IsADirectoryError:  # replaced by a directory meanwhile
                remove_tree(fd, child)
            except FileNotFoundError:
                pass


def tree_size(dir_fd: int) -> int:
    """Apparent size in bytes of everything below ``dir_fd``, as Docker's ``du``-like
    ``directory.Size``: symlinks not followed, a hard-linked file counted once."""
    total = 0
    seen: set[tuple[int, int]] = set()
    stack = [os.dup(dir_fd)]
    try:
        while stack:
            fd = stack.pop()
            try:
                with os.scandir(fd) as it:
                    for entry in it:
                        st = entry.stat(follow_symlinks=False)
                        if stat.S_ISDIR(st.st_mode):
                            try:
                                stack.append(open_dir(entry.name, fd))
                            except OSError:
                                continue  # vanished, or a mount we may not enter
                            continue
                        if st.st_nlink > 1:
                            key = (st.st_dev, st.st_ino)
                            if key in seen:
                                continue
                            seen.add(key)
                        total += st.st_size
            finally:
                os.close(fd)
    finally:
        for fd in stack:
            os.close(fd)
    return total


def chown_tree(dir_fd: int, uid: int, gid: int,
               skip: frozenset[tuple[int, int]] = frozenset()) -> int:
    """``chown -R uid:gid`` below and including the directory ``dir_fd``, never through a
    symlink: Podman's ``U`` (``ChangeHostPathOwnership``), by file descriptor.

    Each entry is changed with fchownat(AT_SYMLINK_NOFOLLOW) on the fd of its parent, so
    a symlink gets its own owner changed and its target is never touched, even when
    the entry is swapped for a symlink between the look and the change; a directory is
    entered with ``O_NOFOLLOW`` from its parent's fd, so the walk cannot be led out of the
    tree.  An entry whose owner is already right is left alone (no ctime change), as
    in Podman.  A directory that is another mount's root is not entered (nor changed):
    Podman's walk crosses mounts, which for a bind of a host directory would reach
    whatever is mounted below it.  A directory whose ``(st_dev, st_ino)`` is in ``skip``
    (the engine root, reached through a volume bound from a directory above it) is
    neither changed nor entered.

    Returns:
        How many entries were changed.
    """
    changed = 0
    st = os.fstat(dir_fd)
    if (st.st_uid, st.st_gid) != (uid, gid):
        os.fchown(dir_fd, uid, gid)
        changed += 1
    stack = [os.dup(dir_fd)]
    try:
        while stack:
            fd = stack.pop()
            try:
                with os.scandir(fd) as it:
                    names = [e.name for e in it]
                for name in names:
                    try:
                        est = os.stat(name, dir_fd=fd, follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # removed meanwhile
                    is_dir = stat.S_ISDIR(est.st_mode)
                    if is_dir and ((est.st_dev, est.st_ino) in skip
                                   or is_mountpoint(fd, name)):
                        continue
                    if (est.st_uid, est.st_gid) != (uid, gid):
                        try:
                            os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
                        except FileNotFoundError:
                            continue
                        changed += 1
                    if is_dir:
                        try:
                            stack.append(open_dir(name, fd))
                        except (FileNotFoundError, NotADirectoryError):
                            continue  # removed, or swapped for a file meanwhile
                        except OSError as err:
                            if err.errno != errno.ELOOP:
                                raise
                            # swapped for a symlink meanwhile: not followed
            finally:
                os.close(fd)
    finally:
        for fd in stack:
            os.close(fd)
    return changed
