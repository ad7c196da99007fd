"""The volumes directory (``<root>/volumes``): its staging names, RENAME_NOREPLACE and
the per-volume lock, shared by the service, reconciliation, rename and import.

What lives below a volume's own directory is its driver's business (drivers/base.py);
this module only knows the entries of ``volumes/`` itself: ``<name>`` per volume,
``.tmp-<pid>-<uuid>`` being built and ``.trash-<pid>-<uuid>`` being deleted.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from orlop.errors import SystemFailureError, VolumeNotFoundError
from orlop.volumes.fsutil import open_dir, opened_dir, remove_tree

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from pathlib import Path

TMP_PREFIX = ".tmp-"
TRASH_PREFIX = ".trash-"
VOLUME_DIR_MODE = 0o701  # as Docker: others may traverse to _data, not list volumes
VOLUMES_DIR_MODE = 0o701


def staging_name(prefix: str = TMP_PREFIX) -> str:
    """``.tmp-<pid>-<uuid>`` / ``.trash-<pid>-<uuid>`` (in ``volumes/``): the pid tells
    reconcile() in another process whether the maker still runs; one a kill leaves is
    deleted by the next reconcile()."""
    return f"{prefix}{os.getpid()}-{os.urandom(16).hex()}"


def maker_alive(name: str, mtime: float) -> bool:
    """Whether the process named in a :func:`staging_name` (``<prefix><pid>-...``) still
    runs, and is the one that made the entry (it started before ``mtime``)."""
    from orlop.kernel.process import process_alive_since  # reconcile's, not a verb's

    pid = name.split("-")[1]
    return pid.isdigit() and process_alive_since(int(pid), mtime)


def remove_abandoned_dir(name: str, parent_fd: int) -> bool:
    """Remove the staging or trash directory ``name`` unless its maker still runs;
    whether it was removed.  Its lock is taken first (BlockingIOError: a create or
    remove in progress in another process); free, its maker may still be between
    mkdir() and flock(), hence the pid check."""
    with opened_dir(name, parent_fd) as fd:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if maker_alive(name, os.fstat(fd).st_mtime):
            return False
        remove_tree(parent_fd, name)
    return True


def rename_noreplace(dir_fd: int, old: str, new: str) -> None:
    """rename(old, new) that fails with EEXIST instead of replacing ``new``.

    renameat2(RENAME_NOREPLACE) where the filesystem has it; elsewhere (EINVAL: some
    network and FUSE filesystems) an empty placeholder made with mkdir (which fails if
    ``new`` exists) is atomically replaced.  The callers hold the database write lock,
    so no other Orlop process renames volume directories meanwhile.
    """
    # Here, not at import: the kernel's ctypes wrappers (~1.5 ms) are needed by what
    # renames a volume into place (create, import, rename), never by `ls` or `inspect`.
    from orlop.kernel import fs
    from orlop.kernel.consts import RENAME_NOREPLACE

    try:
        fs.renameat2(dir_fd, old, dir_fd, new, RENAME_NOREPLACE)
    except OSError as err:
        if err.errno != errno.EINVAL:
            raise
        os.mkdir(new, 0o700, dir_fd=dir_fd)
        os.rename(old, new, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


class VolumesDir:
    """``<root>/volumes``, opened by fd and locked per volume."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path_str = str(path)

    @contextmanager
    def open(self) -> Iterator[int]:
        """The volumes directory, created on first use (``ls`` never needs it)."""
        try:
            os.makedirs(self.path, VOLUMES_DIR_MODE, exist_ok=True)
            fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as err:
            raise SystemFailureError(
                f"cannot use {self.path} for volumes: {err.strerror}") from err
        try:
            yield fd
        finally:
            os.close(fd)

    @contextmanager
    def locked(self, vfd: int, name: str, *, missing_ok: bool = False
               ) -> Iterator[int | None]:
        """An exclusive flock on the volume's directory, yielding its fd.

        The lock lives on the directory inode, so it needs no lock files; after taking
        it we check that the name still points at that inode (a remove may have renamed
        it to the trash while we waited) and start again if not.  ``None`` is yielded
        for a missing directory when ``missing_ok``.
        """
        for _ in range(100):
            try:
                fd = open_dir(name, vfd)
            except FileNotFoundError:
                if missing_ok:
                    yield None
                    return
                raise VolumeNotFoundError(name) from None
            except OSError as err:
                if err.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise SystemFailureError(
                        f"volume {name}: {self.path / name} is not a directory (a "
                        "symlink or file is in its place); refusing to use it") from err
                raise
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    now = os.stat(name, dir_fd=vfd, follow_symlinks=False)
                except FileNotFoundError:
                    now = None
                mine = os.fstat(fd)
                if now is None or (now.st_ino, now.st_dev) != (mine.st_ino, mine.st_dev):
                    continue
                yield fd
                return
            finally:
                os.close(fd)
        raise SystemFailureError(f"volume {name}: its directory keeps changing")
