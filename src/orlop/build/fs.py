"""The files of COPY, ADD and WORKDIR steps, written into a new layer.

Docker's classic builder makes these steps without running anything: the files go
straight into the image's next layer.  Here the layer is the upper directory of a
scratch overlay (the image's layers below it) mounted by a forked child in its own
mount namespace (engine/files/view.py's ``run_in_view``), so a parent directory that
already exists in the image is copied up with its own metadata, a destination that is
a symlink in the image is resolved inside the image (``openat2`` ``RESOLVE_IN_ROOT``),
and nothing is mounted on the host.  The upper directory then becomes the layer the
way ``commit`` makes one (engine/files/commit.py), minus the exclusion of volume mount
points: a COPY into a ``VOLUME`` path is part of the image (the classic builder's rule).

A RUN step, by contrast, runs in an ordinary container (build/steps.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import stat
import tarfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from orlop.build.ignore import Matcher
from orlop.errors import InvalidParameterError, SystemFailureError
from orlop.kernel.fdio import PipeProducer

if TYPE_CHECKING:
    from orlop.engine.engine import Engine
    from orlop.engine.models import Container


@dataclass(frozen=True)
class CopyOp:
    """One source of a COPY/ADD and where it goes in the image."""

    source: str  # host path (in the context, or an exported --from source)
    rel: str | None  # its path in the context (for .dockerignore); None: not from it
    dest_dir: str  # absolute directory in the image that receives it
    name: str  # for a file: its name in dest_dir; "" for a directory's content
    archive: bool = False  # ADD of a local tar: unpacked into dest_dir


@dataclass(frozen=True)
class Ownership:
    user: str = ""  # --chown's text: "" keeps root (0:0)
    chmod: int | None = None  # --chmod


@dataclass
class Scratch:
    """A layer being written: the overlay's directories under the engine's tmp/."""

    base: Path
    lowers: list[Path]

    @property
    def upper(self) -> Path:
        return self.base / "diff"


@contextlib.contextmanager
def scratch(engine: Engine, lowers: list[Path]) -> Iterator[Scratch]:
    base = engine.config.tmp_dir / f"build-{os.getpid()}-{secrets.token_hex(6)}"
    os.makedirs(engine.config.tmp_dir, exist_ok=True)
    base.mkdir(mode=0o700)
    try:
        for sub in ("diff", "work", "rootfs"):
            (base / sub).mkdir(mode=0o755)
        yield Scratch(base, lowers)
    finally:
        shutil.rmtree(base, ignore_errors=True)


_SCRATCH = re.compile(r"build-(?:ctx-)?(\d+)-[0-9a-f]+\Z")


def sweep_scratch(tmp_dir: Path) -> None:
    """Remove what a killed build left in tmp/ (scratch layers, extracted contexts): the
    directories named after a process that is gone (or was not running yet when the
    directory was last written: a recycled pid)."""
    from orlop.kernel.process import abandoned_entries

    for path in abandoned_entries(tmp_dir, _SCRATCH, 1):
        shutil.rmtree(path, ignore_errors=True)


def in_root(sc: Scratch, fn: Callable[[int], dict[str, Any]], *,
            child_close: Sequence[int] = (), parent_close: Sequence[int] = (),
            parent_work: Callable[[], None] | None = None) -> dict[str, Any]:
    """``fn(root_fd)`` in a forked child over the merged view of the layers and the
    scratch upper dir (overlayfs takes a single lower dir when there is an upper dir);
    the other arguments are run_in_view's (pipes between the child and the parent)."""
    from orlop.engine.files.view import View, run_in_view

    if not sc.lowers:  # FROM scratch: the upper dir is the whole root, no mount needed
        fd = os.open(sc.upper, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            if parent_work is None:
                return fn(fd)
            result: list[dict[str, Any]] = []
            t = threading.Thread(target=lambda: result.append(fn(fd)), daemon=True)
            t.start()
            try:
                parent_work()
            finally:
                t.join()
            return result[0] if result else {}
        finally:
            os.close(fd)
    view = View(container=cast("Container", None), lower_dirs=list(sc.lowers),
                upper=sc.upper, work=sc.base / "work", rootfs=sc.base / "rootfs",
                with_mounts=False)
    return run_in_view(view, fn, child_close=child_close, parent_close=parent_close,
                       parent_work=parent_work)


def has_content(path: Path) -> bool:
    with os.scandir(path) as it:
        return any(True for _ in it)


# --- ownership -------------------------------------------------------------------


def _lookup(root_fd: int, file: str, name: str) -> int | None:
    from orlop.kernel.safepath import open_in_root

    try:
        fd = open_in_root(root_fd, file, os.O_RDONLY)
    except OSError:
        return None
    with os.fdopen(fd, "r", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split(":")
            if len(parts) >= 3 and parts[0] == name and parts[2].isdigit():
                return int(parts[2])
    return None


def _primary_gid(root_fd: int, uid_name: str) -> int | None:
    from orlop.kernel.safepath import open_in_root

    try:
        fd = open_in_root(root_fd, "/etc/passwd", os.O_RDONLY)
    except OSError:
        return None
    with os.fdopen(fd, "r", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split(":")
            if len(parts) >= 4 and uid_name in (parts[0], parts[2]) and parts[3].isdigit():
                return int(parts[3])
    return None


def resolve_owner(root_fd: int, spec: str) -> tuple[int, int]:
    """``--chown user[:group]`` in the image's /etc/passwd and /etc/group (Docker: a
    user alone also sets the group to the same id or name... its primary group for a
    name, the same number for a number)."""
    if not spec:
        return 0, 0
    user, _, group = spec.partition(":")
    uid = int(user) if user.isdigit() else _chown_id(root_fd, "user", user)
    if not group:
        gid = uid if user.isdigit() else (_primary_gid(root_fd, user) or 0)
    elif group.isdigit():
        gid = int(group)
    else:
        gid = _chown_id(root_fd, "group", group)
    return uid, int(gid) if gid is not None else 0


def _chown_id(root_fd: int, kind: str, name: str) -> int:
    """The id of the user or group (``kind``) ``name`` in the image; Docker's error
    when it has none."""
    found = _lookup(root_fd, "/etc/passwd" if kind == "user" else "/etc/group", name)
    if found is None:
        id_kind = "uid" if kind == "user" else "gid"
        raise InvalidParameterError(
            f"unable to convert uid/gid chown string to host mapping: can't find {id_kind} "
            f"for {kind} {name}: no such {kind}: {name}")
    return found


# --- the copy --------------------------------------------------------------------


def _mkdirs(root_fd: int, path: str, owner: tuple[int, int]) -> int:
    """``mkdir -p`` in the root; new directories get ``owner`` (moby's
    MkdirAllAndChownNew).  Returns an O_RDONLY fd of the directory."""
    from orlop.kernel.safepath import clean_parts, mkdir_all_in_root, open_in_root

    parts = clean_parts(path)
    missing_from = len(parts)
    for i in range(len(parts), 0, -1):
        try:
            fd = open_in_root(root_fd, "/".join(parts[:i]), os.O_PATH)
            os.close(fd)
            break
        except FileNotFoundError:
            missing_from = i - 1
    os.close(mkdir_all_in_root(root_fd, path))
    if owner != (0, 0):
        for i in range(missing_from + 1, len(parts) + 1):
            fd = open_in_root(root_fd, "/".join(parts[:i]), os.O_PATH)
            try:
                os.chown(f"/proc/self/fd/{fd}", *owner)
            finally:
                os.close(fd)
    return open_in_root(root_fd, path, os.O_RDONLY | os.O_DIRECTORY)


def _write_tar(out_fd: int, op: CopyOp, ignore: Matcher) -> None:
    from orlop.archive.tarwriter import TarWriter, TreeOptions

    w = TarWriter(out_fd)
    flat = TreeOptions(descend=lambda _arc: False)
    st = os.stat(op.source)  # the source itself is followed (as moby, in the context)
    if not stat.S_ISDIR(st.st_mode):
        parent, _, base = op.source.rpartition("/")
        pfd = os.open(parent or "/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            w.add_entry(pfd, base, op.name, os.stat(base, dir_fd=pfd), flat)
        finally:
            os.close(pfd)
        w.close()
        return

    def walk(dir_fd: int, arc: str, rel: str | None) -> None:
        for name in sorted(os.listdir(dir_fd)):
            child_rel = f"{rel}/{name}" if rel not in ("", ".") else name
            if ignore and op.rel is not None and ignore.excluded(child_rel):
                if not ignore.has_exclusions:
                    continue
                # a "!" pattern may re-include something below: look, but skip the entry
                cst = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                if stat.S_ISDIR(cst.st_mode):
                    sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                                  | os.O_CLOEXEC, dir_fd=dir_fd)
                    try:
                        walk(sub, f"{arc}/{name}" if arc else name, child_rel)
                    finally:
                        os.close(sub)
                continue
            cst = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            child_arc = f"{arc}/{name}" if arc else name
            w.add_entry(dir_fd, name, child_arc, cst, flat)
            if stat.S_ISDIR(cst.st_mode):
                sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                              | os.O_CLOEXEC, dir_fd=dir_fd)
                try:
                    walk(sub, child_arc, child_rel)
                finally:
                    os.close(sub)

    dfd = os.open(op.source, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        walk(dfd, "", op.rel)
    finally:
        os.close(dfd)
    w.close()


def piped(produce: Callable[[int], None], consume: Callable[[Any], None]) -> None:
    """``produce(write_fd)`` in a thread, ``consume(stream)`` here.  The producer's error
    wins (the consumer's is then only a short stream); an OSError of the producer is a
    source that could not be read."""
    producer = PipeProducer(produce, "build-tar")
    consumer_error: BaseException | None = None
    try:
        with os.fdopen(producer.read_fd, "rb", buffering=1 << 20) as stream:
            consume(stream)
    except BaseException as err:
        consumer_error = err
    failure = producer.join()
    if failure is not None:
        if isinstance(failure, OSError):
            raise SystemFailureError(f"cannot read the build context: {failure}") from failure
        raise failure
    if consumer_error is not None:
        raise consumer_error


def copy_into(root_fd: int, ops: list[CopyOp], own: Ownership, ignore: Matcher,
              mkdir: str = "") -> dict[str, Any]:
    """In the child: every op into the root, then ``mkdir`` (WORKDIR) if given."""
    from orlop.archive.extract import extract_tar

    owner = resolve_owner(root_fd, own.user) if ops else (0, 0)

    def fix(member: tarfile.TarInfo) -> None:
        member.uid, member.gid = owner
        member.uname = member.gname = ""
        if own.chmod is not None and not member.issym():
            member.mode = own.chmod

    for op in ops:
        dest_fd = _mkdirs(root_fd, op.dest_dir, owner)
        try:
            if op.archive:
                with open(op.source, "rb") as f:
                    extract_tar(f, dest_fd, keep_owner=True, digest=False)
                continue
            def produce(w: int, op: CopyOp = op) -> None:
                _write_tar(w, op, ignore)

            def consume(stream: Any, fd: int = dest_fd) -> None:
                extract_tar(stream, fd, keep_owner=True, digest=False, on_entry=fix)

            piped(produce, consume)
        finally:
            os.close(dest_fd)
    if mkdir:
        os.close(_mkdirs(root_fd, mkdir, (0, 0)))
    return {}


def export_paths(root_fd: int, paths: list[str], out_dir: str) -> dict[str, Any]:
    """In the child (``COPY --from``): each path of the image, its symlinks resolved in
    the image, copied to ``out_dir/<n>/<basename>`` on the host; returns the kinds."""
    from orlop.archive.extract import extract_tar
    from orlop.archive.tarwriter import TarWriter
    from orlop.kernel.safepath import open_in_root

    kinds: list[str] = []
    for n, path in enumerate(paths):
        try:
            fd = open_in_root(root_fd, path, os.O_PATH)
        except FileNotFoundError:
            raise InvalidParameterError(
                f"COPY failed: stat {path}: file does not exist") from None
        try:
            st = os.fstat(fd)
            kinds.append("dir" if stat.S_ISDIR(st.st_mode) else "file")
            target = os.path.join(out_dir, str(n))
            os.mkdir(target, 0o755)
            base = path.rstrip("/").rpartition("/")[2] or "root"
            tfd = os.open(target, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

            def produce(w_fd: int, fd: int = fd, base: str = base) -> None:
                w = TarWriter(w_fd)
                w.add_path_fd(fd, base)
                w.close()

            def consume(s: Any, tfd: int = tfd) -> None:
                extract_tar(s, tfd, keep_owner=True, digest=False)

            try:
                piped(produce, consume)
            finally:
                os.close(tfd)
        finally:
            os.close(fd)
    return {"kinds": kinds}


def is_archive(path: str) -> bool:
    """What ADD unpacks: a tar, plain or compressed (moby's archive.IsArchivePath)."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    if head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00" \
            or head[:4] == b"\x28\xb5\x2f\xfd":
        return True
    return len(head) >= 262 and head[257:262] == b"ustar"


__all__ = ["CopyOp", "Ownership", "Scratch", "copy_into", "export_paths", "has_content",
           "in_root", "is_archive", "resolve_owner", "scratch"]
