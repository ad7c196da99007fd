"""COPY's layer written straight as a tar into the image store (the fast path).

A COPY's layer is its files plus the directories above them.  Rather than writing the
files through a scratch overlay and then reading the upper directory back into a layer
(three passes over every file, build/fs.py), the tar of the layer is produced directly
from the sources and extracted once by the store: the parent directories that exist in
the image are written with the image's own metadata (what a copy-up would have put in
the upper directory), new ones as ``mkdir -p`` makes them for the copy (0755, the
``--chown`` owner).  A destination whose path crosses a symlink of the image needs the
image's own resolution: :class:`Fallback` sends the step to the overlay path.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from orlop.build.ignore import Matcher

if TYPE_CHECKING:
    from orlop.archive.tarwriter import TarWriter
    from orlop.build.fs import CopyOp

OPAQUE = "trusted.overlay.opaque"


class Fallback(Exception):  # noqa: N818 - a signal, not an error
    """The fast path does not apply to this step."""


class ImageView:
    """Look-ups in an image's layer directories (overlay format), top layer first."""

    def __init__(self, layer_dirs: Sequence[Path]) -> None:
        self.layers = [str(d) for d in reversed(layer_dirs)]

    def lookup(self, rel: str) -> os.stat_result | None:
        """The ``lstat`` of ``rel`` in the merged image, None if absent; Fallback when a
        parent is a symlink."""
        parts = [p for p in rel.split("/") if p]
        if not parts:
            return None
        for layer in self.layers:
            hidden = False
            present = True
            for i in range(1, len(parts)):
                anc = os.path.join(layer, *parts[:i])
                try:
                    st = os.lstat(anc)
                except FileNotFoundError:
                    present = False
                    break
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    return None
                if stat.S_ISLNK(st.st_mode):
                    raise Fallback(anc)
                if not stat.S_ISDIR(st.st_mode):
                    return None
                try:
                    if os.getxattr(anc, OPAQUE) == b"y":
                        hidden = True
                except OSError:
                    pass
            if present:
                try:
                    found = os.lstat(os.path.join(layer, *parts))
                except (FileNotFoundError, NotADirectoryError):
                    found = None
                if found is not None:
                    if stat.S_ISCHR(found.st_mode) and found.st_rdev == 0:
                        return None
                    return found
            if hidden:
                return None
        return None


def _dir_entry(w: TarWriter, arc: str, st: os.stat_result | None,
               owner: tuple[int, int]) -> None:
    import tarfile

    info = tarfile.TarInfo(arc.rstrip("/") + "/")
    info.type = tarfile.DIRTYPE
    if st is None:
        info.mode, (info.uid, info.gid), info.mtime = 0o755, owner, int(time.time())
    else:
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid, info.mtime = st.st_uid, st.st_gid, int(st.st_mtime)
    w._header(info)  # a bare header, as TarWriter.add_dir writes (the owner is ours)


def parents(w: TarWriter, view: ImageView, dirs: Sequence[str], owner: tuple[int, int]
            ) -> None:
    """Every directory of ``dirs`` and above (parents first), once."""
    seen: set[str] = set()
    for d in dirs:
        parts = [p for p in d.split("/") if p]
        for i in range(1, len(parts) + 1):
            rel = "/".join(parts[:i])
            if rel in seen:
                continue
            seen.add(rel)
            st = view.lookup(rel)
            if st is not None and stat.S_ISLNK(st.st_mode):
                raise Fallback(rel)
            if st is not None and not stat.S_ISDIR(st.st_mode):
                raise Fallback(rel)  # a file where a directory is wanted: Docker's error
            _dir_entry(w, rel, st, owner)


def write_ops(out_fd: int, view: ImageView, ops: Sequence[CopyOp], owner: tuple[int, int],
              ignore: Matcher) -> None:
    """The layer of a COPY from the build context."""
    from orlop.archive.tarwriter import TarWriter, TreeOptions

    w = TarWriter(out_fd)
    parents(w, view, [op.dest_dir for op in ops], owner)
    opts = TreeOptions(descend=lambda _arc: False, owner=owner)
    for op in ops:
        base = op.dest_dir.strip("/")
        if op.name:
            arc = f"{base}/{op.name}" if base else op.name
            parent, _, name = op.source.rpartition("/")
            pfd = os.open(parent or "/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                w.add_entry(pfd, name, arc, os.stat(name, dir_fd=pfd,
                                                    follow_symlinks=False), opts)
            finally:
                os.close(pfd)
            continue
        dfd = os.open(op.source, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            _walk(w, dfd, base, op.rel, op.rel is not None and bool(ignore), ignore, opts)
        finally:
            os.close(dfd)
    w.close()


def _walk(w: TarWriter, dir_fd: int, arc: str, rel: str | None, filtered: bool,
          ignore: Matcher, opts: object) -> None:
    from orlop.archive.tarwriter import TreeOptions

    assert isinstance(opts, TreeOptions)
    for name in sorted(os.listdir(dir_fd)):
        child_rel = (f"{rel}/{name}" if rel not in ("", ".") else name) if rel is not None \
            else None
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        child_arc = f"{arc}/{name}" if arc else name
        skip = filtered and child_rel is not None and ignore.excluded(child_rel)
        if skip and not (stat.S_ISDIR(st.st_mode) and ignore.has_exclusions):
            continue
        if not skip:
            w.add_entry(dir_fd, name, child_arc, st, opts)
        if stat.S_ISDIR(st.st_mode):
            sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                          dir_fd=dir_fd)
            try:
                _walk(w, sub, child_arc, child_rel, filtered, ignore, opts)
            finally:
                os.close(sub)


def write_from_image(out_fd: int, root_fd: int, view: ImageView, paths: Sequence[str],
                     dest: str, dest_is_dir: bool, owner: tuple[int, int]) -> None:
    """In the child over the source image (``COPY --from``): the layer with each path,
    resolved inside the source image, copied to ``dest`` of the destination image."""
    from orlop.archive.tarwriter import TarWriter, TreeOptions
    from orlop.errors import InvalidParameterError
    from orlop.kernel.safepath import open_in_root

    fds: list[tuple[int, os.stat_result, str]] = []
    try:
        for path in paths:
            try:
                fd = open_in_root(root_fd, path, os.O_PATH)
            except FileNotFoundError:
                raise InvalidParameterError(
                    f"COPY failed: stat {path}: file does not exist") from None
            fds.append((fd, os.fstat(fd), path))
        w = TarWriter(out_fd)
        dest_rel = dest.strip("/")
        targets: list[tuple[int, str, bool]] = []
        dirs = []
        for fd, st, path in fds:
            if stat.S_ISDIR(st.st_mode):
                targets.append((fd, dest_rel, True))
                dirs.append(dest_rel)
            elif dest_is_dir:
                name = path.rstrip("/").rpartition("/")[2]
                targets.append((fd, f"{dest_rel}/{name}" if dest_rel else name, False))
                dirs.append(dest_rel)
            else:
                targets.append((fd, dest_rel, False))
                dirs.append(dest_rel.rpartition("/")[0])
        parents(w, view, [d for d in dirs if d], owner)
        opts = TreeOptions(owner=owner)
        for fd, arc, is_dir in targets:
            w.add_path_fd(fd, arc, opts, include_root=not is_dir)
        w.close()
    finally:
        for fd, _st, _p in fds:
            os.close(fd)


__all__ = ["Fallback", "ImageView", "parents", "write_from_image", "write_ops"]
