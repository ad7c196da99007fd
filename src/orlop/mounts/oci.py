"""A resolved mount point as an OCI runtime-spec ``mounts`` entry (config.json).

Follows moby ``daemon/oci_linux.go::setMounts``: binds and volumes are ``rbind``
(``bind`` when recursion is disabled) with ``rw``, ``rro`` or ``ro`` and a propagation mode;
tmpfs gets Docker's ``nosuid,nodev,noexec`` defaults merged with the user's words.
"""

from __future__ import annotations

from orlop.errors import InvalidMountError
from orlop.mounts.spec import DEFAULT_BIND_PROPAGATION, MountPoint
from orlop.mounts.tmpfs import convert_tmpfs_options
from orlop.runtime.spec import Mount


def oci_mount(mp: MountPoint, rro_error: str | None = None, *,
              source_is_dir: bool = True) -> Mount:
    """The config.json entry for ``mp``.

    For a volume with a ``subpath`` the engine must first replace ``mp.source`` with the
    sub-directory it resolved safely inside the volume (openat2 ``RESOLVE_BENEATH``):
    joining strings here could follow a symlink out of the volume.

    Read-only binds and volumes are recursively read-only (``rro``: every submount of
    the source read-only too), as in Docker >= 25 (moby PR #45278): a plain ``ro`` bind
    of a directory holding a mount leaves that mount writable in the container.
    ``bind-recursive=writable`` (API ``ReadOnlyNonRecursive``) asks for the old ``ro``;
    ``bind-recursive=readonly`` (``ReadOnlyForceRecursive``) insists on ``rro``.

    Args:
        mp: the resolved mount point.
        rro_error: ``None`` when the kernel and the runtime can make a mount recursively
            read-only; otherwise why not (moby ``supportsRecursivelyReadOnly``).  Then
            a default read-only mount falls back to ``ro``, as Docker's does, and a
            forced one is refused.
        source_is_dir: False for a file (a file bind, a volume subpath naming a file):
            nothing can be mounted below a file, so ``ro`` already is recursive (and
            crun 1.8 cannot apply ``rro`` to a file target).

    Raises:
        InvalidMountError: a tmpfs word Docker does not accept (only possible for a
            hand-made record; parsing already refused it), or ``bind-recursive=readonly``
            where ``rro`` is not supported.
    """
    if mp.type == "tmpfs":
        _, options = convert_tmpfs_options(mp.tmpfs_size, mp.tmpfs_mode, mp.tmpfs_options,
                                           read_only=not mp.rw)
        return Mount(mp.destination, "tmpfs", "tmpfs", options)
    bind_word = "bind" if mp.bind_recursive == "disabled" else "rbind"
    if mp.rw:
        access = "rw"
    elif mp.bind_recursive in ("writable", "disabled") or not source_is_dir:
        # "disabled": a non-recursive bind has no submounts, so "ro" is all there is to
        # do, and crun would read "rro" as a request to bind recursively.
        access = "ro"
    elif rro_error is None:
        access = "rro"
    elif mp.bind_recursive == "readonly":
        raise InvalidMountError(rro_error)
    else:
        access = "ro"
    return Mount(mp.destination, "bind", mp.source,
                 [bind_word, access, mp.propagation or DEFAULT_BIND_PROPAGATION])
