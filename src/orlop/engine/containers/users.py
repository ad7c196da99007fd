"""Resolve `-u user[:group]` to numeric ids from the container's own /etc/passwd and /etc/group.

The files are read from the container's layers (its writable layer first, then the
image's layers top-down) with paths resolved inside each layer, so an image whose
/etc/passwd is a symlink to the host's cannot make us read the host's file.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path

from orlop.errors import RuntimeFailedError
from orlop.kernel.safepath import open_in_root
from orlop.records import FrozenRecord


class ResolvedUser(FrozenRecord):
    _fields = ("uid", "gid", "additional_gids", "home")
    __slots__ = _fields
    uid: int
    gid: int
    additional_gids: tuple[int, ...]
    home: str

    def __init__(self, uid: int, gid: int, additional_gids: tuple[int, ...],
                 home: str) -> None:
        self._set(uid=uid, gid=gid, additional_gids=additional_gids, home=home)


def _read_from_layers(dirs: Sequence[Path], name: str) -> str:
    for d in dirs:
        try:
            root = os.open(d, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fd = open_in_root(root, name, os.O_RDONLY)
        except OSError as err:
            if err.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENXIO):
                continue
            raise
        finally:
            os.close(root)
        with os.fdopen(fd, "r", errors="replace") as f:
            return f.read(1 << 20)
    return ""


def _entries(text: str, fields: int) -> list[list[str]]:
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) >= fields:
            out.append(parts)
    return out


def resolve_user(spec: str, layer_dirs: Sequence[Path],
                 group_add: Sequence[str] = ()) -> ResolvedUser:
    """``layer_dirs``: the writable layer first, then image layers from the top;
    ``group_add``: ``--group-add`` names or gids, appended to the user's supplementary
    groups (from the image's /etc/group) as Docker does."""
    user, _, group = (spec or "0").partition(":")
    passwd = _entries(_read_from_layers(layer_dirs, "etc/passwd"), 7)
    groups = _entries(_read_from_layers(layer_dirs, "etc/group"), 4)
    uid: int | None = None
    gid: int | None = None
    home = "/"
    name = ""
    for p in passwd:
        if p[0] == user or (user.isdigit() and p[2] == user):
            uid, gid, home, name = int(p[2]), int(p[3]), p[5] or "/", p[0]
            break
    if uid is None:
        if not user.isdigit():
            raise RuntimeFailedError(
                f"unable to find user {user}: no matching entries in passwd file")
        uid, gid = int(user), 0
    if group:
        for g in groups:
            if g[0] == group or (group.isdigit() and g[2] == group):
                gid = int(g[2])
                break
        else:
            if not group.isdigit():
                raise RuntimeFailedError(
                    f"unable to find group {group}: no matching entries in group file")
            gid = int(group)
    assert gid is not None
    # runc's GetExecUser: every /etc/group entry of the primary gid or listing the user,
    # in file order (so `id` shows groups=0(root) for root, as in Docker).
    extra: tuple[int, ...] = ()
    for g in groups:
        if g[2].isdigit() and (int(g[2]) == gid or (name and name in g[3].split(","))) \
                and int(g[2]) not in extra:
            extra = (*extra, int(g[2]))
    for wanted in group_add:
        for g in groups:
            if g[0] == wanted and g[2].isdigit():
                added = int(g[2])
                break
        else:
            if not wanted.isdigit():
                raise RuntimeFailedError(
                    f"Unable to find group {wanted}: no matching entries in group file")
            added = int(wanted)
        if added not in extra:
            extra = (*extra, added)
    return ResolvedUser(uid=uid, gid=gid, additional_gids=extra, home=home)
