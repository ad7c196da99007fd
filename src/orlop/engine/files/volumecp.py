"""``volume cp``: host <-> volume and volume <-> volume, with no container.

The same copier as ``cp`` (engine/files/cp.py), run on the volume's ``_data`` directory fd
instead of a container's root: a volume path is resolved inside the volume by fd with
RESOLVE_IN_ROOT (``..`` stops at the volume's top, a symlink in the volume that points
at ``/etc`` means the volume's own ``etc``: CVE-2018-15664's lesson), the tar is written
by TarWriter (never following a link) and extracted by ``extract_tar`` (every entry
resolved inside the destination).  The naming rules are docker cp's (hostcopy.py):
``SRC`` to an existing directory lands inside it under its own name, to a missing path
it takes that name, ``SRC/.`` copies a directory's content.

No fork is needed: the root is a plain directory, not a container's mount namespace.
While copying, the volume is held by a reference (``VolumeService.mount``), so no
``volume rm`` takes it away mid-copy and a ``size=`` volume's filesystem is mounted.
Without ``-a`` the copied files belong to the user running the copy (as ``cp``), with
``-a`` they keep their owners.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any

from orlop.engine.files.cp import CpResult, archive_child, extract_child, probe_child
from orlop.engine.files.hostcopy import (
    _pipe_through,
    clean,
    container_destination,
    contents_only,
    host_destination,
    host_source,
    write_host_source,
)
from orlop.engine.files.hostcopy import base as _base
from orlop.engine.files.view import describe, lstat_in_root
from orlop.errors import InvalidParameterError, NotFoundError

if TYPE_CHECKING:
    from orlop.engine.services import Services
    from orlop.volumes.service import VolumeService


@contextmanager
def volume_root(svc: VolumeService, name: str) -> Iterator[int]:
    """The volume's data directory fd, the volume held by a reference meanwhile.

    Under the operation marker (state/inflight.py): a copy killed midway leaves its
    reference, which the next command's repair releases (no live process holds it)."""
    ref = f"volume-cp-{uuid.uuid4().hex[:12]}"
    with svc.operation():
        svc.mount(name, ref)
        try:
            fd = svc.open_data_dir(name)
            try:
                yield fd
            finally:
                os.close(fd)
        finally:
            svc.unmount(name, ref)


def _run(produce: Callable[[int], dict[str, Any]], consume: Callable[[IO[bytes]], Any]
         ) -> dict[str, Any]:
    out: list[dict[str, Any]] = []
    _pipe_through(lambda fd: out.append(produce(fd)), consume)
    return out[0] if out else {"size": 0, "kind": "dir"}


def _extract_into(root_fd: int, dest_dir: str, keep_owner: bool
                  ) -> Callable[[IO[bytes]], Any]:
    def consume(stream: IO[bytes]) -> Any:
        return extract_child(dest_dir, stream, -1, keep_owner=keep_owner)(root_fd)
    return consume


def copy_out(engine: Services, name: str, src: str, dest: str, *, archive: bool = False
             ) -> CpResult:
    """``volume cp VOLUME:SRC DEST`` (DEST on the host)."""
    from orlop.archive.extract import extract_tar

    src = clean(src)
    hd = host_destination(src, dest)
    dir_fd = os.open(hd.target_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with volume_root(engine.volumes, name) as root:
            def produce(fd: int) -> dict[str, Any]:
                result: dict[str, Any] = archive_child(
                    f"volume {name}", src, fd, prefix=hd.prefix, follow=False,
                    include_root=hd.include_root,
                    expect="file" if hd.expect_file
                    else "dir" if hd.expect_dir else "")(root)
                return result

            res = _run(produce, lambda stream: extract_tar(
                stream, dir_fd, keep_owner=archive, allow_devices=False, whiteouts="keep"))
    finally:
        os.close(dir_fd)
    return CpResult(int(res["size"]), str(res["kind"]))


def stream_out(engine: Services, name: str, src: str, out_fd: int) -> CpResult:
    """The tar of VOLUME:SRC on ``out_fd`` (orlopd's ``GET .../archive``; ``volume cp
    VOLUME:SRC -``): entries named after SRC's base, ``SRC/.`` gives its content."""
    src = clean(src)
    prefix = "" if contents_only(src) else _base(src)
    with volume_root(engine.volumes, name) as root:
        res = archive_child(f"volume {name}", src, out_fd, prefix=prefix, follow=False,
                            include_root=True, expect="")(root)
    return CpResult(int(res["size"]), str(res["kind"]))


def stat_path(engine: Services, name: str, path: str) -> tuple[os.stat_result, str]:
    """What PATH is in the volume, not following a last symlink, and that symlink's target
    (absolute in the volume); Docker's "Could not find the file" when it is missing."""
    import stat

    clean_path = "/" + "/".join(p for p in path.split("/") if p not in ("", "."))
    with volume_root(engine.volumes, name) as root:
        try:
            st, fd = lstat_in_root(root, clean_path, follow=False)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError(f"Could not find the file {path} in volume {name}") from None
        try:
            target = ""
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink("", dir_fd=fd)
                if not target.startswith("/"):
                    target = os.path.normpath(os.path.join(os.path.dirname(clean_path),
                                                           target))
        finally:
            os.close(fd)
        return st, target


def stream_in(engine: Services, name: str, dest: str, stream: IO[bytes], *,
              archive: bool = False) -> CpResult:
    """Extract a tar into the directory VOLUME:DEST (orlopd's ``PUT .../archive``)."""
    dest = clean(dest)
    with volume_root(engine.volumes, name) as root:
        kind = probe_child(dest)(root)["kind"]
        if kind == "missing":
            raise NotFoundError("no such directory")
        if kind != "dir":
            raise InvalidParameterError(f'destination "{name}:{dest}" must be a directory')
        res = extract_child(dest, stream, -1, keep_owner=archive)(root)
    return CpResult(int(res["size"]), "dir")


def copy_in(engine: Services, name: str, src: str, dest: str, *, archive: bool = False
            ) -> CpResult:
    """``volume cp SRC VOLUME:DEST`` (SRC on the host)."""
    dest = clean(dest)
    src_abs, sst = host_source(src, False)
    with volume_root(engine.volumes, name) as root:
        kind = probe_child(dest)(root)["kind"]
        target_dir, prefix, include_root = container_destination(src, src_abs, sst, dest,
                                                                 kind)

        def produce(fd: int) -> dict[str, Any]:
            size = write_host_source(fd, src_abs, prefix, archive=True, follow_link=False,
                                     include_root=include_root)
            return {"size": size, "kind": describe(sst)}

        res = _run(produce, _extract_into(root, target_dir, archive))
    return CpResult(int(res["size"]), describe(sst))


def copy_between(engine: Services, src_vol: str, src: str, dst_vol: str, dest: str, *,
                 archive: bool = False) -> CpResult:
    """``volume cp A:SRC B:DEST``: one tar stream from A's copier into B's extractor."""
    src, dest = clean(src), clean(dest)
    if src_vol == dst_vol and _inside(dest, src) and not contents_only(src):
        raise InvalidParameterError(
            f"cannot copy a directory, '{src_vol}:{src}', into itself, '{dst_vol}:{dest}'")
    with volume_root(engine.volumes, src_vol) as a_root, \
            volume_root(engine.volumes, dst_vol) as b_root:
        try:
            sst, sfd = lstat_in_root(a_root, src, follow=False)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError(f"Could not find the file {src} in volume {src_vol}") from None
        os.close(sfd)
        kind = probe_child(dest)(b_root)["kind"]
        target_dir, prefix, include_root = container_destination(src, src, sst, dest, kind)
        if src_vol == dst_vol and _below(a_root, src, target_dir):
            raise InvalidParameterError(
                f"cannot copy a directory, '{src_vol}:{src}', into itself, "
                f"'{dst_vol}:{dest}'")

        def produce(fd: int) -> dict[str, Any]:
            result: dict[str, Any] = archive_child(
                f"volume {src_vol}", src, fd, prefix=prefix, follow=False,
                include_root=include_root, expect="")(a_root)
            return result

        res = _run(produce, _extract_into(b_root, target_dir, archive))
    return CpResult(int(res["size"]), str(res["kind"]))


def _below(root: int, src: str, target_dir: str) -> bool:
    """Whether the directory TARGET_DIR, as resolved in the volume (symlinks included), is
    SRC or below it: by inode, walking ``..`` up to the volume's top."""
    from orlop.kernel.safepath import open_in_root

    try:
        sfd = open_in_root(root, src, os.O_PATH)
        dfd = open_in_root(root, target_dir, os.O_PATH | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        want = os.fstat(sfd)
        top = os.fstat(root)
        cur = dfd
        for _ in range(4096):
            st = os.fstat(cur)
            if (st.st_dev, st.st_ino) == (want.st_dev, want.st_ino):
                return True
            if (st.st_dev, st.st_ino) == (top.st_dev, top.st_ino):
                return False
            up = os.open("..", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=cur)
            if cur != dfd:
                os.close(cur)
            cur = up
        return True  # deeper than any sane tree: refuse
    finally:
        if cur != dfd:
            os.close(cur)
        os.close(sfd)
        os.close(dfd)


def _inside(path: str, top: str) -> bool:
    """Whether PATH is TOP or below it (lexically, both cleaned; enough to refuse a copy
    of a directory into itself, which would never end)."""
    p = [x for x in path.split("/") if x not in ("", ".")]
    t = [x for x in top.split("/") if x not in ("", ".")]
    return p[:len(t)] == t


__all__ = ["copy_between", "copy_in", "copy_out", "stat_path", "stream_in", "stream_out",
           "volume_root"]
