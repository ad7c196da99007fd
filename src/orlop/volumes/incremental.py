"""The content of an incremental volume export: what changed between a snapshot (the
base) and the volume's content now (or a later snapshot), as an OCI layer diff.

What is written, walking both trees side by side by name (never following a symlink):

* an entry of the new tree that the base lacks, or whose type, mode, owner, size,
  mtime (nanoseconds), device number or symlink target differs: the entry itself (a
  new or replaced directory with everything below it);
* a directory present in both: its header when its own metadata changed, then the
  comparison goes on inside it;
* a name the base has and the new tree lacks: an OCI whiteout ``.wh.NAME`` in its
  directory (image-spec layer.md), which ``volume import`` applies and any OCI layer
  tool understands.  Deletions travel as whiteouts, not as a manifest, so the archive
  stays a plain tar a layer tool can apply.  The price: a changed name that itself starts
  with ``.wh.`` cannot be told from a whiteout, and is refused.
* hard links: when one name of a multiply-linked file is written, all its names are
  (the first as data, the others as links to it), so a link is never split into copies.

Change detection is rsync's quick check (size and mtime, plus mode, owner and type): a
snapshot keeps every mtime to the nanosecond (copy.py), so an unchanged file compares
equal and a written one differs, unless a tool wrote the same size and then set the old
mtime back, which the quick check cannot see.  A change of extended attributes alone
changes no mtime and is not seen either.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from orlop.archive.tarwriter import TarWriter, TreeOptions
from orlop.archive.whiteout import WHITEOUT_PREFIX
from orlop.errors import UnsupportedError
from orlop.kernel.safepath import open_nofollow_in_root

_HEADER_ONLY = TreeOptions(descend=lambda _p: False)


@dataclass
class IncrementalStats:
    changed: int = 0
    deleted: int = 0
    # (dev, ino) -> archive names of multiply-linked files seen in the new tree
    links: dict[tuple[int, int], list[tuple[str, str]]] = field(default_factory=dict)
    # (dev, ino) -> archive names written for it (by the comparison)
    written: dict[tuple[int, int], set[str]] = field(default_factory=dict)


def _differs(a: os.stat_result, b: os.stat_result) -> bool:
    if stat.S_IFMT(a.st_mode) != stat.S_IFMT(b.st_mode):
        return True
    if (a.st_mode, a.st_uid, a.st_gid, a.st_mtime_ns) != (b.st_mode, b.st_uid, b.st_gid,
                                                           b.st_mtime_ns):
        return True
    if stat.S_ISREG(a.st_mode):
        return a.st_size != b.st_size
    if stat.S_ISCHR(a.st_mode) or stat.S_ISBLK(a.st_mode):
        return a.st_rdev != b.st_rdev
    return False


def _lstat(name: str, dir_fd: int | None) -> os.stat_result | None:
    if dir_fd is None:
        return None
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _open_dir(name: str, dir_fd: int) -> int:
    return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                   dir_fd=dir_fd)


def write_incremental(w: TarWriter, new_fd: int, base_fd: int) -> IncrementalStats:
    """Write the changes from the tree ``base_fd`` to the tree ``new_fd`` (module
    docstring); the root directory ``./`` is always written (its owner and mode)."""
    stats = IncrementalStats()
    w.add_tree(new_fd, "", _HEADER_ONLY, include_root=True)
    _diff_dir(w, new_fd, base_fd, "", stats)
    _complete_links(w, new_fd, stats)
    return stats


def _diff_dir(w: TarWriter, new_fd: int, base_fd: int, prefix: str,
              stats: IncrementalStats) -> None:
    new_names = sorted(os.listdir(new_fd))
    base_names = set(os.listdir(base_fd))
    for name in sorted(base_names - set(new_names)):
        arc = f"{prefix}/{name}" if prefix else name
        _check_name(arc, name)
        w.add_bytes(f"{prefix}/{WHITEOUT_PREFIX}{name}" if prefix
                    else WHITEOUT_PREFIX + name, b"")
        stats.deleted += 1
    for name in new_names:
        st = _lstat(name, new_fd)
        if st is None:
            continue  # removed while we read: as if it never was
        arc = f"{prefix}/{name}" if prefix else name
        old = _lstat(name, base_fd) if name in base_names else None
        if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
            stats.links.setdefault((st.st_dev, st.st_ino), []).append((prefix, name))
        if stat.S_ISDIR(st.st_mode) and old is not None and stat.S_ISDIR(old.st_mode):
            if _differs(st, old):
                _check_name(arc, name)
                w.add_entry(new_fd, name, arc, st, _HEADER_ONLY)
                stats.changed += 1
            nfd = _open_dir(name, new_fd)
            try:
                bfd = _open_dir(name, base_fd)
                try:
                    _diff_dir(w, nfd, bfd, arc, stats)
                finally:
                    os.close(bfd)
            finally:
                os.close(nfd)
            continue
        if old is not None and not _differs(st, old):
            continue
        _check_name(arc, name)
        w.add_entry(new_fd, name, arc, st, TreeOptions())
        if not stat.S_ISDIR(st.st_mode):
            stats.written.setdefault((st.st_dev, st.st_ino), set()).add(arc)
        stats.changed += 1


def _complete_links(w: TarWriter, new_fd: int, stats: IncrementalStats) -> None:
    """Every other name of a multiply-linked file that was written (the writer makes
    them hard links to the first name it wrote)."""
    for key, names in stats.links.items():
        done = stats.written.get(key)
        if not done:
            continue
        for prefix, name in names:
            arc = f"{prefix}/{name}" if prefix else name
            if arc in done:
                continue
            # Resolved inside the tree only; the inode is checked against the one seen.
            parent = open_nofollow_in_root(new_fd, prefix, os.O_RDONLY | os.O_DIRECTORY)
            try:
                st = _lstat(name, parent)
                if st is None or (st.st_dev, st.st_ino) != key:
                    continue
                w.add_entry(parent, name, arc, st, TreeOptions())
            finally:
                os.close(parent)


def _check_name(arc: str, name: str) -> None:
    if name.startswith(WHITEOUT_PREFIX):
        raise UnsupportedError(
            f"volume export --since: {arc} starts with {WHITEOUT_PREFIX!r}, which an "
            "incremental archive uses for deletions (OCI whiteouts); export in full")


__all__ = ["IncrementalStats", "write_incremental"]
