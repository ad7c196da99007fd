"""The build context: a directory of the host, or a tar extracted into one.

``orlop build DIR`` reads the directory in place (no tar is made); ``orlop build -``,
``POST /build`` and ``-H`` get a tar, which is extracted with the image code's safe
extractor (never writing outside the staging directory) into the engine's ``tmp/``,
removed after the build.  The sources of COPY/ADD are resolved here: relative to the
context root, never outside it (moby's "Forbidden path outside the build context"),
globs matched per path component as Go's ``filepath.Match``, and .dockerignore applied.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import os
import posixpath
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from orlop.build.ignore import Matcher, read_patterns
from orlop.errors import InvalidParameterError

if TYPE_CHECKING:
    from orlop.build.options import BuildOptions
    from orlop.engine.engine import Engine

_GLOB = frozenset("*?[")


@dataclass
class BuildContext:
    root: str  # host directory ("" for a build without context: Dockerfile on stdin)
    dockerfile: str  # the Dockerfile's text
    ignore: Matcher = field(default_factory=lambda: Matcher([]))
    dockerfile_name: str = "Dockerfile"

    def resolve(self, src: str, cmd: str) -> list[tuple[str, str]]:
        """(host path, path in the context) of every source ``src`` names."""
        if not self.root:
            raise InvalidParameterError(
                f"{cmd} failed: file not found in build context or excluded by "
                f".dockerignore: stat {src}: file does not exist")
        clean = posixpath.normpath("/" + src.replace("\\", "/")).lstrip("/") or "."
        if posixpath.normpath(src).startswith("../") or posixpath.normpath(src) == "..":
            raise InvalidParameterError(
                f"{cmd} failed: forbidden path outside the build context: {src} ()")
        if any(ch in _GLOB for ch in clean):
            matches = self._glob(clean)
            if not matches:
                raise InvalidParameterError(f"{cmd} failed: no source files were specified")
            # A match that is a symlink with nothing at its target inside the context
            # (one to /etc/passwd or ../x) fails the step, as moby's classic builder
            # does (dockerd 20.10: "stat link.txt: file does not exist"); it is never
            # skipped silently.
            found = []
            for rel in matches:
                host = self._in_scope(rel)
                if host is None:
                    raise _not_in_context(cmd, rel)
                found.append((host, rel))
            return found
        host = self._in_scope(clean)
        if host is None or (clean != "." and self.ignore.excluded(clean)):
            raise _not_in_context(cmd, src)
        return [(host, clean)]

    def source_hash(self, paths: list[tuple[str, str | None]]) -> str:
        """The text moby's classic builder gives COPY/ADD sources (builder/dockerfile
        copy.go), in the step's cache key and its history: ``file:<tarsum>`` for a file,
        ``dir:<sha256 of the sorted tarsums of the directory and all below it>``,
        ``multi:<sha256 of the sources' texts>`` for several; an entry that is a symlink
        counts as its target in the context (moby's Hash follows it in scope), or by its
        path when there is none.  ``paths``: (resolved host path, path in the context),
        the latter None for a downloaded file (named by its base name)."""
        root = os.path.realpath(self.root) if self.root else ""
        infos = []
        for host, rel in paths:
            st = os.stat(host)
            if rel is None or not root:
                infos.append("file:" + _tarsum(os.path.basename(host), st, host))
            elif stat.S_ISDIR(st.st_mode):
                infos.append(_join_hash("dir", sorted(self._dir_sums(root, host))))
            else:
                infos.append("file:" + _tarsum(os.path.relpath(host, root), st, host))
        return infos[0] if len(infos) == 1 else _join_hash("multi", infos)

    def _dir_sums(self, root: str, top: str) -> list[str]:
        """moby's ``walkSource``: the directory itself (unless the context root) and
        everything below it, each by ``Hash`` of its path in the context."""
        base = os.path.relpath(top, root)
        out = [] if base == "." else [self._entry_sum(root, base)]
        keep_all = self.ignore.has_exclusions  # an exception may re-include: hash all
        for dirpath, dirs, files in os.walk(top):
            dirs.sort()
            for name in [*dirs, *files]:
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                if not keep_all and self.ignore.excluded(rel):
                    continue
                out.append(self._entry_sum(root, rel))
        return out

    def _entry_sum(self, root: str, rel: str) -> str:
        host = os.path.join(root, rel)
        st = os.lstat(host)
        if stat.S_ISLNK(st.st_mode):
            target = self._in_scope(rel)
            if target is None:
                return rel
            rel, host, st = os.path.relpath(target, root), target, os.lstat(target)
        return _tarsum(rel, st, host)

    def _in_scope(self, rel: str) -> str | None:
        """The host path ``rel`` names in the context, its symlinks followed *inside* the
        context as moby's FollowSymlinkInScope does (a link to /etc/passwd means
        CONTEXT/etc/passwd), resolved by openat2(RESOLVE_IN_ROOT) on the context's fd;
        None where nothing is there."""
        from orlop.kernel.safepath import open_in_root

        root_fd = os.open(self.root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fd = open_in_root(root_fd, rel)
        except OSError:  # ENOENT, ENOTDIR, ELOOP: not in the context
            return None
        finally:
            os.close(root_fd)
        try:
            # The name the kernel keeps for the object found (inside the context by
            # construction); the copy reads it next, in this same build.
            return os.readlink(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)

    def _glob(self, pattern: str) -> list[str]:
        parts = pattern.split("/")
        found = [""]
        for part in parts:
            nxt = []
            for base in found:
                d = os.path.join(self.root, base) if base else self.root
                if any(ch in _GLOB for ch in part):
                    try:
                        names = sorted(os.listdir(d))
                    except OSError:
                        continue
                    nxt += [f"{base}/{n}" if base else n for n in names
                            if fnmatch.fnmatchcase(n, part)]
                else:
                    cand = f"{base}/{part}" if base else part
                    if os.path.lexists(os.path.join(self.root, cand)):
                        nxt.append(cand)
            found = nxt
        return [f for f in found if not self.ignore.excluded(f)]


def _not_in_context(cmd: str, src: str) -> InvalidParameterError:
    return InvalidParameterError(
        f"{cmd} failed: file not found in build context or excluded by "
        f".dockerignore: stat {src}: file does not exist")


def _tarsum(name: str, st: os.stat_result, host: str) -> str:
    """moby's tarsum v1 of one context entry (pkg/tarsum ``v1TarHeaderSelect``): the
    sha256 of the header's name, mode, uid, gid, size, typeflag, linkname, uname, gname
    (both empty), devmajor and devminor, then the content; never the mtime.  The header
    is the one the docker CLI (28, moby/go-archive) writes into the context tar: the
    name relative to the context (a directory's with ``/``), the permission bits without
    the file type, owner 0:0."""
    mode = st.st_mode
    size, link, major, minor = 0, "", 0, 0
    if stat.S_ISREG(mode):
        flag, size = "0", st.st_size
    elif stat.S_ISDIR(mode):
        flag, name = "5", name.rstrip("/") + "/"
    elif stat.S_ISLNK(mode):
        flag, link = "2", os.readlink(host)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        flag = "3" if stat.S_ISCHR(mode) else "4"
        major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    else:
        flag = "6"
    h = hashlib.sha256(f"name{name}mode{stat.S_IMODE(mode)}uid0gid0size{size}typeflag{flag}"
                       f"linkname{link}unamegnamedevmajor{major}devminor{minor}".encode())
    if flag == "0":
        with open(host, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def image_source_hash(root_fd: int, srcs: list[str]) -> str:
    """The text moby's classic builder gives ``COPY --from`` sources: its lazySource
    over the stage's or image's root (builder/remotecontext/lazycontext.go), hashed as
    COPY from the context is (``file:``, ``dir:``, ``multi:``), but each entry's header
    as the daemon's archive.FileInfoHeader makes it from ``lstat``: the name relative to
    the root, the mode with Go's file-type bits, the real owner and the names the host
    gives it (uid 0 is "root"), ``security.capability`` as an xattr.  Every path is
    resolved inside the root (FollowSymlinkInScope).  ``root_fd``: the merged root."""
    infos = []
    for src in srcs:
        rel = posixpath.normpath("/" + src.lstrip("/"))[1:] or "."
        found = _lazy_resolve(root_fd, rel)
        if found is None:  # dockerd 20.10: "stat nope" for /nope
            raise InvalidParameterError(f"COPY failed: stat {rel}: file does not exist")
        path, st = found
        if not stat.S_ISDIR(st.st_mode):
            infos.append("file:" + _lazy_hash(root_fd, path, st))
            continue
        sums = []
        top = "" if path == "." else path
        if top:
            sums.append(_lazy_hash(root_fd, top, st))
        for dirpath, dirs, files in _walk_in(root_fd, top):
            for name in [*dirs, *files]:
                entry = _lazy_resolve(root_fd, f"{dirpath}/{name}" if dirpath else name)
                if entry is not None:  # moby skips what it cannot hash (a dangling link)
                    sums.append(_lazy_hash(root_fd, *entry))
        infos.append(_join_hash("dir", sorted(sums)))
    return infos[0] if len(infos) == 1 else _join_hash("multi", infos)


def _walk_in(root_fd: int, top: str) -> Iterator[tuple[str, list[str], list[str]]]:
    """os.walk's (dirpath, dirs, files) of ``top`` under ``root_fd``, never following
    a symlink (filepath.Walk)."""
    fd = os.open(top or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                 dir_fd=root_fd)
    try:
        for dirpath, dirs, files, _dfd in os.fwalk(dir_fd=fd):
            dirs.sort()
            rel = os.path.normpath(os.path.join(top, dirpath)) if top else \
                os.path.normpath(dirpath)
            yield ("" if rel == "." else rel), dirs, sorted(files)
    finally:
        os.close(fd)


def _lazy_resolve(root_fd: int, rel: str) -> tuple[str, os.stat_result] | None:
    """``rel`` with every symlink followed inside the root: its path relative to the root
    and its lstat; None where nothing is there."""
    from orlop.kernel.safepath import open_in_root

    try:
        fd = open_in_root(root_fd, rel)
    except OSError:
        return None
    try:
        root = os.readlink(f"/proc/self/fd/{root_fd}")
        path = os.path.relpath(os.readlink(f"/proc/self/fd/{fd}"), root)
        return path, os.fstat(fd)
    finally:
        os.close(fd)


def _owner_name(table: Any, ident: int) -> str:
    try:
        return str(table(ident)[0])
    except (KeyError, OverflowError):
        return ""


def _lazy_hash(root_fd: int, path: str, st: os.stat_result) -> str:
    """tarsum v1 of one entry of an image's root (moby remotecontext.NewFileHash)."""
    import grp
    import pwd

    mode = st.st_mode
    size, link, major, minor = 0, "", 0, 0
    name = path
    if stat.S_ISREG(mode):
        flag, size = "0", st.st_size
    elif stat.S_ISDIR(mode):
        flag, name = "5", path + "/"
    elif stat.S_ISLNK(mode):
        flag, link = "2", os.readlink(path, dir_fd=root_fd)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        flag = "3" if stat.S_ISCHR(mode) else "4"
        major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    else:
        flag = "6"
    uname = _owner_name(pwd.getpwuid, st.st_uid)
    gname = _owner_name(grp.getgrgid, st.st_gid)
    h = hashlib.sha256(f"name{name}mode{mode}uid{st.st_uid}gid{st.st_gid}size{size}"
                       f"typeflag{flag}linkname{link}uname{uname}gname{gname}"
                       f"devmajor{major}devminor{minor}".encode())
    if not stat.S_ISLNK(mode):
        try:
            cap = os.getxattr(f"/proc/self/fd/{root_fd}/{path}", "security.capability",
                              follow_symlinks=False)
        except OSError:
            cap = None
        if cap is not None:
            h.update(b"security.capability" + cap)
    if flag == "0" and size:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=root_fd)
        with os.fdopen(fd, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def _join_hash(prefix: str, items: list[str]) -> str:
    """moby's ``hashStringSlice``: the sha256 of the items joined with commas."""
    return f"{prefix}:{hashlib.sha256(','.join(items).encode()).hexdigest()}"


def check_local(path: str, dockerfile: str | None) -> None:
    """The docker CLI's own checks of ``build DIR`` before it sends anything, with its
    texts: the directory exists, and so does the Dockerfile (``-f``, relative to the
    current directory, or ``DIR/Dockerfile``)."""
    if not os.path.isdir(path):
        raise InvalidParameterError(f'unable to prepare context: path "{path}" not found')
    df = dockerfile if dockerfile else os.path.join(os.path.abspath(path), "Dockerfile")
    if not os.path.exists(df):
        raise InvalidParameterError(
            f"unable to prepare context: unable to evaluate symlinks in Dockerfile path: "
            f"lstat {os.path.abspath(df)}: no such file or directory")


def _ignore_of(root: str) -> Matcher:
    try:
        with open(os.path.join(root, ".dockerignore"), encoding="utf-8") as f:
            return Matcher(read_patterns(f.read()))
    except FileNotFoundError:
        return Matcher([])


@contextlib.contextmanager
def from_tar(engine: Engine, stream: BinaryIO, dockerfile: str = "Dockerfile",
             remote: str = "") -> Iterator[BuildContext]:
    """The context of ``POST /build``: a tar (or, as Docker accepts, a bare Dockerfile)
    extracted under the engine's tmp/ for the duration of the build."""
    import secrets

    from orlop.archive.extract import extract_tar

    if remote:
        from orlop.errors import UnsupportedError

        raise UnsupportedError(
            f"remote build contexts ({remote}) are not supported: Orlop never reaches the "
            "network; send the context as a tar")
    tmp = engine.config.tmp_dir / f"build-ctx-{os.getpid()}-{secrets.token_hex(6)}"
    os.makedirs(engine.config.tmp_dir, exist_ok=True)
    tmp.mkdir(mode=0o700)
    try:
        with _seekable(stream, engine.config.tmp_dir) as body:
            head = body.read(1024)
            body.seek(0)
            if not _looks_like_tar(head):  # a Dockerfile alone (`docker build - < Dockerfile`)
                yield BuildContext(root=str(tmp),
                                   dockerfile=body.read().decode("utf-8", "replace"))
                return
            if not _compressed(head):
                # The docker CLI appends a Dockerfile from outside the context (-f) without
                # the padding of its last block and without the end-of-archive blocks (Go's
                # tar writer left unclosed); Go's reader takes EOF there as the end.
                size = body.seek(0, os.SEEK_END)
                body.write(b"\0" * ((-size) % 512 + 1024))
                body.seek(0)
            fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                extract_tar(body, fd, keep_owner=False, allow_devices=False, digest=False)
            finally:
                os.close(fd)
        name = dockerfile or "Dockerfile"
        path = os.path.join(tmp, posixpath.normpath("/" + name).lstrip("/"))
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (FileNotFoundError, IsADirectoryError):
            raise InvalidParameterError(
                f"Cannot locate specified Dockerfile: {name}") from None
        yield BuildContext(root=str(tmp), dockerfile=text, ignore=_ignore_of(str(tmp)),
                           dockerfile_name=name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _seekable(stream: BinaryIO, tmp_dir: Any) -> Iterator[BinaryIO]:
    """The stream itself if it is a writable, seekable file (orlopd's spooled body), else
    a copy in an anonymous temporary file."""
    import tempfile

    try:
        stream.seek(0, os.SEEK_CUR)
        writable = stream.writable()
    except (OSError, ValueError, AttributeError):
        writable = False
    if writable:
        yield stream
        return
    with tempfile.TemporaryFile(dir=tmp_dir) as f:
        shutil.copyfileobj(stream, f, 1 << 20)
        f.seek(0)
        yield f


def _compressed(head: bytes) -> bool:
    return head[:2] == b"\x1f\x8b" or head[:3] == b"BZh" or head[:6] == b"\xfd7zXZ\x00" \
        or head[:4] == b"\x28\xb5\x2f\xfd"


def _looks_like_tar(head: bytes) -> bool:
    if _compressed(head):
        return True
    return (len(head) >= 262 and head[257:262] == b"ustar") or head == b"\0" * len(head)


@contextlib.contextmanager
def context_tar(path: str, opts: BuildOptions, dockerfile_text: str | None
                ) -> Iterator[tuple[BinaryIO, str, int]]:
    """What the docker CLI sends to ``POST /build`` for ``build DIR``: the directory as
    a tar without what .dockerignore excludes (the Dockerfile and .dockerignore always
    go), the Dockerfile under its path in the context, or (``-f`` outside the context
    or ``-f -``) under a name of its own.  Yields (stream, dockerfile name, size)."""
    import secrets
    import tempfile

    from orlop.archive.tarwriter import TarWriter, TreeOptions

    if not os.path.isdir(path):
        raise InvalidParameterError(f'unable to prepare context: path "{path}" not found')
    root = os.path.abspath(path)
    ignore = _ignore_of(root)
    name = "Dockerfile"
    extra: bytes | None = None
    if dockerfile_text is not None:
        name, extra = f".dockerfile.{secrets.token_hex(10)}", dockerfile_text.encode()
    elif opts.dockerfile:
        df = os.path.abspath(opts.dockerfile)
        rel = os.path.relpath(df, root)
        if rel.startswith("../"):
            with open(df, "rb") as f:
                name, extra = f".dockerfile.{secrets.token_hex(10)}", f.read()
        else:
            name = rel
    keep = {name, ".dockerignore"}
    with tempfile.TemporaryFile(dir=os.environ.get("TMPDIR")) as spool:
        w = TarWriter(spool.fileno())
        flat = TreeOptions(descend=lambda _arc: False, owner=(0, 0))

        def walk(dir_fd: int, rel: str) -> None:
            for entry in sorted(os.listdir(dir_fd)):
                child = f"{rel}/{entry}" if rel else entry
                st = os.stat(entry, dir_fd=dir_fd, follow_symlinks=False)
                is_dir = stat.S_ISDIR(st.st_mode)
                skip = child not in keep and ignore.excluded(child)
                if skip and not (is_dir and ignore.has_exclusions):
                    continue
                if not skip:
                    w.add_entry(dir_fd, entry, child, st, flat)
                if is_dir:
                    sub = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                                  | os.O_CLOEXEC, dir_fd=dir_fd)
                    try:
                        walk(sub, child)
                    finally:
                        os.close(sub)

        dfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            walk(dfd, "")
        finally:
            os.close(dfd)
        if extra is not None:
            w.add_bytes(name, extra, mode=0o600)
        w.close()
        size = spool.tell()
        spool.seek(0)
        yield spool, name, size
