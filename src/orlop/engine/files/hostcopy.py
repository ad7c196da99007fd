"""The host's half of ``docker cp`` when the container's half is across the API.

``GET /containers/{id}/archive?path=SRC`` answers a tar whose entries are named after
SRC's base name (``data/``, ``data/f``; ``SRC/.`` gives the content at the top); the
docker CLI renames them to what the destination asks for (moby ``pkg/archive``
``RebaseArchiveEntries``) and extracts them.  Going the other way it makes a tar of the
host path, named for the destination, and ``PUT``s it.  The naming rules are those of
the in-process ``cp`` (engine/files/cp.py), so ``orlop -H ... cp`` lands the same files.

The tar comes from the daemon, and the daemon may be hostile or compromised, so the
client trusts none of it: :func:`rebase_entries` refuses an absolute name, a ``..``
and any name outside the copied path (hard-link targets too), and the rebased stream is
extracted with ``orlop.archive.extract.extract_tar``, which resolves every entry inside
the destination directory by fd and never writes through a symlink out of it
(CVE-2018-15664, CVE-2019-14271's lesson that the client must not trust the daemon's
archive either), without the archive's owners and without device nodes, as
engine/files/cp.py extracts on the host.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any, cast

from orlop.errors import InvalidArchiveError, InvalidParameterError, NotFoundError, OrlopError
from orlop.kernel.fdio import PipeProducer

# Go's os.FileMode bits in X-Docker-Container-Path-Stat's "mode".
GO_DIR = 1 << 31
GO_SYMLINK = 1 << 27
# device, named pipe, socket, char device, irregular
GO_OTHER_TYPES = (1 << 26) | (1 << 25) | (1 << 24) | (1 << 21) | (1 << 19)


def stat_kind(st: dict[str, Any] | None) -> str:
    """"missing", "dir", "symlink", "file" or "other", from a ContainerPathStat."""
    if st is None:
        return "missing"
    mode = int(st.get("mode") or 0)
    if mode & GO_DIR:
        return "dir"
    if mode & GO_SYMLINK:
        return "symlink"
    if mode & GO_OTHER_TYPES:
        return "other"
    return "file"


def clean(path: str) -> str:
    """Container paths are absolute: relative ones start at the container's root."""
    return "/" + path.lstrip("/") if path else "/"


def contents_only(path: str) -> bool:
    return path == "." or path.endswith("/.")


def base(path: str) -> str:
    parts = [p for p in path.split("/") if p not in ("", ".")]
    return parts[-1] if parts else "."


@dataclass(frozen=True)
class HostDestination:
    """Where ``cp CONTAINER:SRC DEST`` lands on the host (docker cp's rules)."""

    target_dir: str  # the existing directory the archive is extracted into
    prefix: str  # the name SRC takes there ("" = its contents, for SRC/.)
    include_root: bool  # whether SRC's own directory entry is written
    expect_file: bool  # DEST names an existing non-directory: SRC must not be a directory
    expect_dir: bool = False  # DEST is a missing ``dir/``: made from SRC, which must be one


def check_source_kind(hd: HostDestination, src: str, kind: str) -> None:
    """docker cp's refusals once SRC's kind is known (moby ``PrepareArchiveCopy``):
    ``dir/`` on a non-directory, a directory onto an existing file, a file onto a
    missing ``dest/`` (``ErrDirNotExists``)."""
    if src.endswith("/") and kind != "dir":
        raise InvalidParameterError(f"{src}: not a directory")
    if hd.expect_file and kind == "dir":
        raise InvalidParameterError(
            f'cannot copy a directory to the file "{hd.prefix}": the destination '
            "must be a directory")
    if hd.expect_dir and kind != "dir":
        raise NotFoundError("no such directory")


def host_destination(src: str, dest: str) -> HostDestination:
    """docker cp's reading of DEST, with its texts, before anything is read or written
    (the local and the remote ``cp`` share it)."""
    dest_abs = os.path.abspath(dest)
    contents = contents_only(src)
    if os.path.isdir(dest_abs):
        return HostDestination(dest_abs, "" if contents else base(src), not contents, False)
    parent = os.path.dirname(dest_abs)
    if not os.path.isdir(parent):
        # the docker CLI's ValidateOutputPath (docker 28)
        raise NotFoundError(f'invalid output path: directory "{parent}" does not exist')
    # A missing DEST (``dest`` or ``dest/``) takes SRC's place: a directory copied to
    # ``./missing/`` is made there (moby PrepareArchiveCopy); a file to it is refused
    # once its kind is known (check_source_kind).
    exists = os.path.lexists(dest_abs)
    return HostDestination(parent, os.path.basename(dest_abs), True, exists,
                           dest.endswith("/") and not exists)


def host_source(src: str, follow_link: bool) -> tuple[str, os.stat_result]:
    """``cp SRC CONTAINER:DEST``'s SRC on the host: its absolute path and its stat
    (``-L`` follows a symlink), with docker cp's texts for a missing one or a
    ``dir/`` that is not a directory (the local and the remote ``cp`` share it)."""
    src_abs = os.path.abspath(src)
    try:
        sst = os.stat(src_abs) if follow_link else os.lstat(src_abs)
    except FileNotFoundError:
        raise NotFoundError(f"lstat {src_abs}: no such file or directory") from None
    if src.endswith("/") and not stat.S_ISDIR(sst.st_mode):
        raise InvalidParameterError(f"{src}: not a directory")
    return src_abs, sst


def container_destination(src: str, src_abs: str, sst: os.stat_result, dest: str,
                          kind: str) -> tuple[str, str, bool]:
    """Where SRC lands in the container, given what DEST is there (``kind``: "dir",
    "file", "missing"...): (directory to extract into, SRC's name there, whether SRC's
    own directory entry is written), with docker cp's refusals."""
    contents = contents_only(src)
    if kind == "dir":
        return dest, ("" if contents else base(src_abs)), not contents
    if dest.endswith("/") and not stat.S_ISDIR(sst.st_mode):
        # moby PrepareArchiveCopy: a missing ``dest/`` is made only from a directory
        raise NotFoundError("no such directory")
    if kind != "missing" and stat.S_ISDIR(sst.st_mode):
        raise InvalidParameterError(
            f'cannot overwrite non-directory "{dest}" with directory "{src}"')
    return os.path.dirname(dest.rstrip("/")) or "/", base(dest), True


def _refuse(name: str, why: str) -> InvalidArchiveError:
    return InvalidArchiveError(f'invalid tar entry "{name}": {why}')


def _rebase(name: str, old: str, new: str) -> str | None:
    """``old/x`` -> ``new/x``; None for the root entry of a content-only copy (``new``
    empty).  Raises for a name that is not below ``old`` or that climbs."""
    if name.startswith("/"):
        raise _refuse(name, "absolute names are not accepted from the daemon")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _refuse(name, "the path is outside of the destination")
    if old:
        if not parts or parts[0] != old:
            raise _refuse(name, f"not below the copied path {old!r}")
        parts = parts[1:]
    rel = "/".join(parts)
    if not new:
        return rel or None
    return f"{new}/{rel}" if rel else new


def rebase_entries(src: IO[bytes], out: IO[bytes], old: str, new: str) -> None:
    """Copy the tar ``src`` to ``out`` with every name below ``old`` renamed below
    ``new`` (``old`` empty: names at the top; ``new`` empty: the root entry dropped)."""
    from orlop.archive.extract import iter_members

    tout = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)
    try:
        for tin, member in iter_members(src):
            name = _rebase(member.name, old, new)
            if name is None:
                continue
            if member.islnk():
                target = _rebase(member.linkname, old, new)
                if target is None:
                    raise _refuse(member.name, "a hard link to the destination itself")
                member.linkname = target
            # A PAX path/linkpath record would win over the new name when written.
            member.pax_headers = {k: v for k, v in member.pax_headers.items()
                                  if k not in ("path", "linkpath")}
            member.name = name + ("/" if member.isdir() else "")
            data = tin.extractfile(member) if member.isreg() else None
            tout.addfile(member, data)
    finally:
        tout.close()


def _pipe_through(produce: Callable[[int], None], consume: Callable[[IO[bytes]], Any]) -> Any:
    """``produce(fd)`` in a thread writes into a pipe that ``consume(stream)`` reads.
    The producer's error wins (the consumer then only sees a truncated stream); an
    early stop of the consumer only ends the producer (EPIPE)."""
    producer = PipeProducer(produce, "orlop-cp-rebase")
    stream = os.fdopen(producer.read_fd, "rb", buffering=1 << 20)
    try:
        result = consume(stream)
    except OrlopError:
        stream.close()
        failure = producer.join()
        if failure is not None:
            raise failure from None
        raise
    finally:
        stream.close()
    failure = producer.join()
    if failure is not None:
        raise failure
    return result


def _rebased(src: IO[bytes], old: str, new: str) -> Callable[[int], None]:
    def produce(fd: int) -> None:
        with os.fdopen(fd, "wb", buffering=1 << 20, closefd=False) as out:
            rebase_entries(src, out, old, new)
    return produce


def extract_rebased(src: IO[bytes], dest_dir_fd: int, old: str, new: str, *,
                    keep_owner: bool = False) -> None:
    """Extract the daemon's tar ``src`` into ``dest_dir_fd``, renamed ``old`` -> ``new``,
    never outside that directory (``keep_owner``: ``volume cp -a``)."""
    from orlop.archive.extract import extract_tar

    _pipe_through(_rebased(src, old, new),
                  lambda stream: extract_tar(stream, dest_dir_fd, keep_owner=keep_owner,
                                             allow_devices=False, whiteouts="keep",
                                             digest=False))


def write_rebased(src: IO[bytes], out_fd: int, old: str, new: str) -> None:
    """The daemon's tar ``src`` renamed ``old`` -> ``new``, checked, written to ``out_fd``
    (``cp -L CTR:LINK -``: the tar of the link's target under the link's name)."""
    with os.fdopen(out_fd, "wb", buffering=1 << 20, closefd=False) as out:
        rebase_entries(src, out, old, new)


def write_host_source(out_fd: int, src: str, prefix: str, *, follow_link: bool,
                      include_root: bool, archive: bool,
                      progress: Callable[[int], None] | None = None) -> int:
    """A tar of the host path ``src`` named ``prefix`` (engine/files/cp.py's naming).  Without
    ``archive`` (``cp -a``) every entry belongs to root, as Docker's daemon makes the
    copied files the container's root's; the daemon keeps the tar's owners.
    ``progress``: called with the bytes of tar written so far (cp's progress line)."""
    from orlop.archive.tarwriter import TarWriter, TreeOptions

    w = TarWriter(out_fd, progress=None if progress is None else lambda _n: progress(w.size))
    opts = TreeOptions(owner=None if archive else (0, 0))
    if follow_link:
        fd = os.open(src, os.O_PATH | os.O_CLOEXEC)
        try:
            w.add_path_fd(fd, prefix, opts, include_root=include_root)
        finally:
            os.close(fd)
    else:
        parent = os.open(os.path.dirname(src) or "/", os.O_RDONLY | os.O_DIRECTORY
                         | os.O_CLOEXEC)
        try:
            name = os.path.basename(src)
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode) and not include_root:
                dfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                              | os.O_CLOEXEC, dir_fd=parent)
                try:
                    w.add_tree(dfd, prefix, opts, include_root=False)
                finally:
                    os.close(dfd)
            else:
                w.add_entry(parent, name, prefix, st, opts)
        finally:
            os.close(parent)
    w.close()
    return w.size


class ReportingReader:
    """A readable passing on what it reads, reporting the running total to
    ``progress`` (the bytes of tar ``cp`` moved, as the docker CLI counts them)."""

    def __init__(self, inner: Any, progress: Callable[[int], None] | None = None) -> None:
        self.inner = inner
        self.progress = progress
        self.size = 0

    def read(self, n: int = -1, /) -> bytes:
        data: bytes = self.inner.read(n)
        if data:
            self.size += len(data)
            if self.progress is not None:
                self.progress(self.size)
        return data


def pipe_chunks(produce: Callable[[int], object], size: int = 1 << 20) -> Iterator[bytes]:
    """The bytes ``produce(fd)`` writes, from a thread, as an iterator (a request body).
    The producer's error is raised after its last chunk."""
    producer = PipeProducer(produce, "orlop-cp-tar")
    try:
        with os.fdopen(producer.read_fd, "rb", buffering=0) as stream:
            while True:
                data = cast(bytes, stream.read(size))
                if not data:
                    break
                yield data
    finally:
        failure = producer.join()
    if failure is not None:
        raise failure


__all__ = ["ReportingReader", "base", "check_source_kind", "clean", "contents_only",
           "extract_rebased", "pipe_chunks", "rebase_entries", "stat_kind", "write_host_source",
           "write_rebased"]
