"""Looking inside a volume without copying it out: a folder's entries, a file's first bytes.

What the dashboard's volume page needs (server/dashboard/), on the same ground as ``volume
cp`` (volumecp.py): the volume held by a reference while it is read (``volume_root``),
every path resolved inside the volume by fd with RESOLVE_IN_ROOT (``..`` stops at the
volume's top, an absolute symlink means the volume's own path), the last component never
followed.  A symlink is listed as a symlink with its target text; it is neither entered
nor read: a link in a volume pointing at ``/etc/shadow`` shows ``-> /etc/shadow`` and
nothing more.  No host path is ever built from a volume path.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orlop.engine.files.view import lstat_in_root, reopen
from orlop.engine.files.volumecp import volume_root
from orlop.errors import InvalidParameterError, NotFoundError

if TYPE_CHECKING:
    from orlop.engine.engine import Engine

MAX_ENTRIES = 5000  # a folder with more is listed up to this many (and says so)


@dataclass(frozen=True)
class Entry:
    """One directory entry, as ``ls -l`` would show it (the entry itself, not a target)."""

    name: str  # may hold any byte but '/' and NUL (undecodable bytes surrogate-escaped)
    kind: str  # "dir", "file", "symlink" or "other"
    size: int
    mode: int  # st_mode, type bits included
    uid: int
    gid: int
    mtime: float
    link_target: str = ""  # a symlink's target text, never resolved


@dataclass(frozen=True)
class Listing:
    path: str  # the folder, cleaned: "/" or "/a/b"
    entries: list[Entry]
    truncated: bool  # more than MAX_ENTRIES


@dataclass(frozen=True)
class Head:
    """The first bytes of a regular file (a preview)."""

    path: str
    size: int  # the whole file's size
    data: bytes  # at most the limit asked for


def clean_path(path: str) -> str:
    """``a//b/./c`` -> ``/a/b/c``; ``..`` is refused (a browser has no business with it,
    and inside the root it would only mean the parent, which the page links to)."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidParameterError(f"invalid path {path!r}: '..' is not allowed")
    if any("\0" in p for p in parts):
        raise InvalidParameterError("invalid path: NUL byte")
    return "/" + "/".join(parts)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISREG(mode):
        return "file"
    return "other"


def _lstat(root: int, name: str, path: str) -> tuple[os.stat_result, int]:
    try:
        return lstat_in_root(root, path, follow=False)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFoundError(f"no such file or folder {path} in volume {name}") from None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise InvalidParameterError(
                f"{path} in volume {name}: too many levels of symbolic links") from None
        raise


def list_dir(engine: Engine, name: str, path: str) -> Listing:
    """The entries of the folder ``path`` of volume ``name``, by name.  ``path`` itself
    must be a real directory: a symlink (even to a directory) is refused, not entered."""
    path = clean_path(path)
    with volume_root(engine.volumes, name) as root:
        st, pfd = _lstat(root, name, path)
        try:
            if not stat.S_ISDIR(st.st_mode):
                raise InvalidParameterError(f"{path} in volume {name} is not a folder")
            dfd = reopen(pfd, os.O_RDONLY | os.O_DIRECTORY)
        finally:
            os.close(pfd)
        try:
            entries: list[Entry] = []
            truncated = False
            with os.scandir(dfd) as it:
                for de in it:
                    if len(entries) >= MAX_ENTRIES:
                        truncated = True
                        break
                    try:
                        est = de.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # removed while listing
                    target = ""
                    if stat.S_ISLNK(est.st_mode):
                        try:
                            target = os.readlink(de.name, dir_fd=dfd)
                        except OSError:
                            target = "?"
                    entries.append(Entry(de.name, _kind(est.st_mode), est.st_size,
                                         est.st_mode, est.st_uid, est.st_gid,
                                         est.st_mtime, target))
        finally:
            os.close(dfd)
    entries.sort(key=lambda e: (e.kind != "dir", e.name))
    return Listing(path, entries, truncated)


def read_head(engine: Engine, name: str, path: str, limit: int) -> Head:
    """At most ``limit`` bytes from the start of the regular file ``path``; a symlink,
    a device, a fifo or a folder is refused (never opened for reading: a fifo would
    block, a device could be anything)."""
    path = clean_path(path)
    with volume_root(engine.volumes, name) as root:
        st, pfd = _lstat(root, name, path)
        try:
            if not stat.S_ISREG(st.st_mode):
                raise InvalidParameterError(
                    f"{path} in volume {name} is not a regular file ({_kind(st.st_mode)})")
            fd = reopen(pfd, os.O_RDONLY)  # the pinned inode: no path to swap
        finally:
            os.close(pfd)
        try:
            chunks: list[bytes] = []
            left = limit
            while left > 0:
                chunk = os.read(fd, min(left, 1 << 16))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
        finally:
            os.close(fd)
    return Head(path, st.st_size, b"".join(chunks))


__all__ = ["MAX_ENTRIES", "Entry", "Head", "Listing", "clean_path", "list_dir", "read_head"]
