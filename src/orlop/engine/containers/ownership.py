"""Podman's ``U`` mount option: the source belongs to the container's user before it starts.

``-v data:/d:U``, ``-v /host:/d:U``, ``--mount ...,U`` (or ``chown=true``) change the
owner and group of everything in the source, recursively, to the container's user and
group (``--user``, or the image's ``USER``, resolved in the container's own
/etc/passwd and /etc/group), before every start, as Podman does
(``libpod/container_internal_common.go``: ``ChangeHostPathOwnership(m.Source, true,
uid, gid)``).  On a tmpfs, ``U`` adds that user's ``uid=``/``gid=`` to the mount
options instead.

Safety, where Podman walks paths (``filepath.Walk`` and ``os.Lchown``): the source is
opened once and everything below it is reached by file descriptor, without following
a symlink (``volumes.fsutil.chown_tree``), so a symlink the container left in a volume
(``/d/x -> /etc``) has its own owner changed and never its target's.  A bind source is
followed when it is itself a symlink, as the mount follows it, and the directory it
leads to is checked against Podman's list of host directories it refuses to chown
(``/``, ``/etc``, ``/usr``, ``$HOME``...), to which Orlop adds any directory holding the
engine root (chowning it would hand every volume and layer to the container's user).
Every source, volumes too, is also compared with those directories by identity (device
and inode), so a local volume bound from ``/etc`` (``o=bind,device=/etc``) is refused,
and the walk never enters the engine root if it meets it.
"""

from __future__ import annotations

import os
import pwd
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

from orlop.engine.containers.users import resolve_user
from orlop.errors import InvalidMountError
from orlop.kernel.safepath import fd_path
from orlop.mounts.spec import MountPoint, MountSpec
from orlop.mounts.validate import go_quote, is_within
from orlop.volumes.fsutil import chown_tree

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from orlop.engine.models import Container
    from orlop.engine.services import Services

# Podman's pkg/chown DangerousHostPath, as it is.
_DANGEROUS: frozenset[str] = frozenset({
    "/", "/bin", "/boot", "/dev", "/etc", "/etc/passwd", "/etc/pki", "/etc/shadow", "/home",
    "/lib", "/lib64", "/media", "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys",
    "/tmp", "/usr", "/var", "/var/lib", "/var/log",
})


def _home_dirs() -> set[str]:
    """$HOME and the home of $SUDO_USER: Podman refuses those too."""
    homes = set()
    home = os.environ.get("HOME", "")
    if home:
        homes.add(os.path.realpath(home))
    sudo_user = os.environ.get("SUDO_USER", "")
    if sudo_user:
        try:
            homes.add(os.path.realpath(pwd.getpwnam(sudo_user).pw_dir))
        except KeyError:
            pass
    return homes


def refusal(real_source: str, engine_root: str) -> str | None:
    """Why a bind source (symlinks resolved) may not be chowned, or None."""
    if real_source in _DANGEROUS or real_source in _home_dirs():
        return "it is a system or home directory"
    if is_within(engine_root, real_source):
        return "it holds the engine's root"
    return None


def _identities(paths: Iterable[str]) -> set[tuple[int, int]]:
    out = set()
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        out.add((st.st_dev, st.st_ino))
    return out


def is_dangerous_directory(st: os.stat_result) -> bool:
    """The same refusal by identity rather than by name: a volume of the local driver
    with ``o=bind,device=/etc`` has a data directory that *is* /etc under another path,
    which Podman's name check lets through."""
    return (st.st_dev, st.st_ino) in _identities([*_DANGEROUS, *_home_dirs()])


def check_bind_chown(spec: MountSpec, engine_root: str) -> None:
    """At create: refuse ``U`` on a bind whose source is a directory Podman (or Orlop)
    never chowns, before anything exists for the container.

    Raises:
        InvalidMountError: ``chowning host path "/etc" is not allowed: ...``.
    """
    if spec.type != "bind" or not spec.chown:
        return
    why = refusal(os.path.realpath(spec.source), engine_root)
    if why is not None:
        raise InvalidMountError(f"chowning host path {go_quote(spec.source)} is not allowed: "
                                f"{why}")


def apply_ownership(engine: Services, c: Container, points: Sequence[MountPoint],
                    lowers: Sequence[Path], cdir: Path) -> list[MountPoint]:
    """Before a start: chown each ``U`` source to the container's user; returns the mount
    points with a ``U`` tmpfs given that user's ``uid=``/``gid=``.

    Call it once the volumes are mounted and copied up (their sources are final).

    Raises:
        InvalidMountError: a bind source Podman refuses to chown (Podman's text), or a
            source that is a symlink where none may be.
        RuntimeFailedError: the user or group is not in the container's files.
    """
    if not any(mp.chown for mp in points):
        return list(points)
    img_cfg = engine.images.get(c.image_id).container_config
    user = resolve_user(c.config.user or img_cfg.get("User") or "",
                        [cdir / "diff", *reversed(lowers)])
    root = os.path.realpath(engine.config.root)
    out: list[MountPoint] = []
    for mp in points:
        if mp.chown and mp.type == "tmpfs":
            mp = mp.replace(tmpfs_options=(*mp.tmpfs_options, f"uid={user.uid}",
                                            f"gid={user.gid}"))
        elif mp.chown:
            chown_source(mp, user.uid, user.gid, root)
        out.append(mp)
    return out


def chown_source(mp: MountPoint, uid: int, gid: int, engine_root: str) -> None:
    """Chown a bind's or volume's source and all below it, by file descriptor.

    A volume's source (its data directory, or the pin of its subpath) is the engine's
    own path and must not be a symlink; a bind's source is followed as the mount
    follows it, then checked where it really is.
    """
    flags = os.O_PATH | os.O_CLOEXEC | (0 if mp.type == "bind" else os.O_NOFOLLOW)
    fd = os.open(mp.source, flags)
    try:
        if mp.type == "bind":
            why = refusal(os.readlink(fd_path(fd)), engine_root)
            if why is not None:
                raise InvalidMountError(
                    f"chowning host path {go_quote(mp.source)} is not allowed. You can "
                    f"manually `chown -R {uid}:{gid} {mp.source}`")
        st = os.fstat(fd)
        if is_dangerous_directory(st):
            raise InvalidMountError(
                f"chowning host path {go_quote(mp.source)} is not allowed: it is a system or "
                "home directory under another name")
        if stat.S_ISLNK(st.st_mode):
            raise InvalidMountError(f"cannot chown {go_quote(mp.source)}: it is a symlink")
        if not stat.S_ISDIR(st.st_mode):
            if (st.st_uid, st.st_gid) != (uid, gid):
                os.chown(fd_path(fd), uid, gid)  # the pinned file, not a path walked again
            return
        dfd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
        try:
            chown_tree(dfd, uid, gid, frozenset(_identities([engine_root])))
        finally:
            os.close(dfd)
    finally:
        os.close(fd)


__all__ = ["apply_ownership", "check_bind_chown", "chown_source", "is_dangerous_directory",
           "refusal"]
