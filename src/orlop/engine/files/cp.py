"""``cp`` between a container and the host, both directions, as Docker's CLI and daemon do.

Container side (a forked child, orlop.engine.files.view): the path is resolved in the
container's root by fd, so it means what it means inside the container — a path in a
volume or a bind mount reads and writes the volume (reference 2.15) — and no symlink
in the container can lead outside it (CVE-2018-15664).  The tar written out of the
container is made by orlop.archive.tarwriter (never following a link); the tar read
into the container is extracted by orlop.archive.extract.extract_tar (every entry
resolved inside the destination directory).

Host side: the host path is the user's own; it is read by fd with the same writer,
and a tar from the container is extracted with ``extract_tar`` into the host directory
(so a hostile container tar cannot leave it either), without the container's owners
(Docker's CLI extracts with NoLchown) and without device nodes.

Naming follows ``docker cp``: ``SRC`` copied to an existing directory lands inside it
under its own name, to a missing path it takes that name, and ``SRC/.`` copies the
content of the directory.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from orlop.archive.extract import extract_tar
from orlop.archive.tarwriter import TarWriter, TreeOptions
from orlop.engine.files.hostcopy import (
    ReportingReader,
    container_destination,
    host_destination,
    host_source,
    write_host_source,
)
from orlop.engine.files.hostcopy import base as _base
from orlop.engine.files.hostcopy import clean as _clean
from orlop.engine.files.hostcopy import contents_only as _contents_only
from orlop.engine.files.view import View, describe, is_readonly, lstat_in_root, opened, run_in_view
from orlop.errors import InvalidParameterError, NotFoundError, PermissionDeniedError
from orlop.kernel.safepath import open_in_root

if TYPE_CHECKING:
    from orlop.engine.services import Services


@dataclass(frozen=True)
class CpResult:
    size: int  # bytes of the tar stream moved
    kind: str  # what the source was: "dir", "file", "symlink", "other"


def _not_found(path: str, where: str) -> NotFoundError:
    """Docker's text; ``where`` is "container NAME" (or "volume NAME" for volume cp)."""
    return NotFoundError(f"Could not find the file {path} in {where}")


# --- out of the container --------------------------------------------------------------


def archive_child(where: str, src: str, out_fd: int, *, prefix: str, follow: bool,
                  include_root: bool, expect: str, whole_seconds: bool = False) -> Any:
    """``fn(root_fd)`` writing the tar of SRC (resolved inside the root by fd) to
    ``out_fd``: run in the container's view, or on a volume's directory (volumecp).
    ``whole_seconds``: times as moby's archive.FileInfoHeader writes them for ``docker
    cp`` (truncated to the second, so no PAX record for them: the same bytes, and the
    same "Successfully copied" size, as dockerd's)."""
    def fn(root_fd: int) -> dict[str, Any]:
        try:
            st, fd = lstat_in_root(root_fd, src, follow=follow)
        except (FileNotFoundError, NotADirectoryError):
            raise _not_found(src, where) from None
        try:
            kind = describe(st)
            if src.endswith("/") and kind != "dir":
                raise InvalidParameterError(f"{src}: not a directory")
            if expect == "file" and kind == "dir":
                raise InvalidParameterError(
                    f'cannot copy a directory to the file "{prefix}": the destination '
                    "must be a directory")
            if expect == "dir" and kind != "dir":
                raise NotFoundError("no such directory")  # a file onto a missing dest/
            w = TarWriter(out_fd)
            opts = TreeOptions(whole_seconds=whole_seconds)
            if kind == "dir" or (follow and kind == "file"):
                w.add_path_fd(fd, prefix, opts, include_root=include_root)
            else:
                # Not followed: the entry itself (a symlink stays a symlink), by its
                # parent fd and name, exactly as the walk of a tree writes it.
                parts = [p for p in src.split("/") if p not in ("", ".")]
                parent = open_in_root(root_fd, "/".join(parts[:-1]),
                                      os.O_RDONLY | os.O_DIRECTORY)
                try:
                    w.add_entry(parent, parts[-1], prefix, st, opts)
                finally:
                    os.close(parent)
            w.close()
            return {"size": w.size, "kind": kind}
        finally:
            os.close(fd)
    return fn


def copy_out_stream(engine: Services, ref: str, src: str, out_fd: int, *,
                    follow_link: bool = False) -> CpResult:
    """``cp CONTAINER:SRC -``: a tar of SRC on ``out_fd`` (entries ``data/``, ``data/f``)."""
    src = _clean(src)
    prefix = "" if _contents_only(src) else _base(src)
    with opened(engine, ref) as view:
        res = run_in_view(view, archive_child(_where(view), src, out_fd, prefix=prefix,
                                               follow=follow_link, include_root=True,
                                               expect="", whole_seconds=True))
    return CpResult(int(res["size"]), str(res["kind"]))


def copy_out_to_host(engine: Services, ref: str, src: str, dest: str, *,
                     follow_link: bool = False,
                     progress: Callable[[int], None] | None = None) -> CpResult:
    """``cp CONTAINER:SRC DEST``; ``progress``: the bytes of tar received so far."""
    src = _clean(src)
    hd = host_destination(src, dest)
    target_dir, prefix, include_root = hd.target_dir, hd.prefix, hd.include_root
    expect = "file" if hd.expect_file else "dir" if hd.expect_dir else ""
    dir_fd = os.open(target_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with opened(engine, ref) as view:
            rfd, wfd = os.pipe()
            stream = os.fdopen(rfd, "rb", buffering=1 << 20)

            def drain() -> None:
                with stream:
                    extract_tar(ReportingReader(stream, progress), dir_fd, keep_owner=False,
                                allow_devices=False, whiteouts="keep")

            try:
                res = run_in_view(
                    view, archive_child(_where(view), src, wfd, prefix=prefix, follow=follow_link,
                                         include_root=include_root, expect=expect,
                                         whole_seconds=True),
                    child_close=[rfd], parent_close=[wfd], parent_work=drain)
            finally:
                stream.close()
    finally:
        os.close(dir_fd)
    return CpResult(int(res["size"]), str(res["kind"]))


# --- into the container ----------------------------------------------------------------


def _where(view: View) -> str:
    return f"container {view.container.name}"


def probe_child(dest: str) -> Any:
    """``fn(root_fd)`` telling what DEST is in the root: {"kind": "dir"|"file"|...}."""
    def fn(root_fd: int) -> dict[str, Any]:
        try:
            st, fd = lstat_in_root(root_fd, dest, follow=True)
        except FileNotFoundError:
            return {"kind": "missing"}
        except NotADirectoryError:
            raise NotFoundError("no such directory") from None
        os.close(fd)
        return {"kind": describe(st)}
    return fn


def extract_child(dest_dir: str, in_stream: IO[bytes] | None, in_fd: int, *,
                  keep_owner: bool, readonly_rootfs: bool = False) -> Any:
    """``fn(root_fd)`` extracting a tar into the directory DEST_DIR of the root (every
    entry resolved inside it by extract_tar)."""
    def fn(root_fd: int) -> dict[str, Any]:
        try:
            dfd = open_in_root(root_fd, dest_dir, os.O_RDONLY | os.O_DIRECTORY)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError("no such directory") from None
        try:
            if is_readonly(dfd):
                # Docker's texts: a :ro volume or bind, or a --read-only rootfs.
                if readonly_rootfs and os.fstat(dfd).st_dev == os.fstat(root_fd).st_dev:
                    raise PermissionDeniedError("container rootfs is marked read-only")
                raise PermissionDeniedError("mounted volume is marked read-only")
            stream = in_stream if in_stream is not None else os.fdopen(in_fd, "rb",
                                                                       buffering=1 << 20)
            st = extract_tar(stream, dfd, keep_owner=keep_owner, allow_devices=True,
                             whiteouts="keep")
            return {"size": st.tar_size, "kind": "dir"}
        finally:
            os.close(dfd)
    return fn


def copy_in_stream(engine: Services, ref: str, dest: str, in_fd: int, *,
                   archive: bool = False) -> CpResult:
    """``cp - CONTAINER:DEST``: extract a tar from ``in_fd`` into the directory DEST."""
    dest = _clean(dest)
    with opened(engine, ref) as view:
        kind = run_in_view(view, probe_child(dest))["kind"]
        if kind == "missing":
            raise NotFoundError("no such directory")
        if kind != "dir":
            raise InvalidParameterError(f'destination "{view.container.name}:{dest}" must be '
                                        "a directory")
        res = run_in_view(view, extract_child(dest, None, in_fd, keep_owner=True,
                                                 readonly_rootfs=view.readonly_rootfs))
    return CpResult(int(res["size"]), "dir")


def copy_in_from_host(engine: Services, ref: str, src: str, dest: str, *,
                      archive: bool = False, follow_link: bool = False,
                      progress: Callable[[int], None] | None = None) -> CpResult:
    """``cp SRC CONTAINER:DEST``: without ``-a`` the files belong to root in the container;
    ``progress``: the bytes of tar sent so far."""
    dest = _clean(dest)
    src_abs, sst = host_source(src, follow_link)
    with opened(engine, ref) as view:
        kind = run_in_view(view, probe_child(dest))["kind"]
        target_dir, prefix, include_root = container_destination(src, src_abs, sst, dest,
                                                                 kind)
        if kind == "missing" and \
                run_in_view(view, probe_child(target_dir))["kind"] == "missing":
            raise _not_found(target_dir, _where(view))  # dockerd's answer to the PUT
        rfd, wfd = os.pipe()

        def feed() -> None:
            try:
                write_host_source(wfd, src_abs, prefix, archive=True, follow_link=follow_link,
                                  include_root=include_root, progress=progress)
            except BrokenPipeError:
                pass  # the child stopped reading: its error is reported
            finally:
                os.close(wfd)

        res = run_in_view(view, extract_child(target_dir, None, rfd, keep_owner=archive,
                                              readonly_rootfs=view.readonly_rootfs),
                          child_close=[wfd], parent_close=[rfd], parent_work=feed)
    return CpResult(int(res["size"]), describe(sst))


__all__ = ["CpResult", "copy_in_from_host", "copy_in_stream", "copy_out_stream",
           "copy_out_to_host"]
