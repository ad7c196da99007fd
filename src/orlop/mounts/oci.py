"""A resolved mount point as an OCI runtime-spec ``mounts`` entry (config.json).

Follows moby ``daemon/oci_linux.go::setMounts``: binds and volumes are ``rbind``
(``bind`` when recursion is disabled) with ``ro``/``rw`` and a propagation mode;
tmpfs gets Docker's ``nosuid,nodev,noexec`` defaults merged with the user's words.
"""

from __future__ import annotations

from typing import Any

from orlop.mounts.spec import DEFAULT_BIND_PROPAGATION, MountPoint
from orlop.mounts.tmpfs import convert_tmpfs_options


def oci_mount(mp: MountPoint) -> dict[str, Any]:
    """The config.json entry for ``mp``.

    For a volume with a ``subpath`` the engine must first replace ``mp.source`` with the
    sub-directory it resolved safely inside the volume (openat2 ``RESOLVE_BENEATH``):
    joining strings here could follow a symlink out of the volume.

    Read-only binds are ``ro`` (not recursively read-only) unless
    ``bind_recursive == "readonly"``, which asks for ``rro``.  Docker >= 25 uses ``rro``
    by default where the kernel supports it; Orlop keeps Docker 24's ``ro`` default.

    Raises:
        InvalidMountError: a tmpfs word Docker does not accept (only possible for a
            hand-made record; parsing already refused it).
    """
    if mp.type == "tmpfs":
        _, options = convert_tmpfs_options(mp.tmpfs_size, mp.tmpfs_mode, mp.tmpfs_options,
                                           read_only=not mp.rw)
        return {"destination": mp.destination, "type": "tmpfs", "source": "tmpfs",
                "options": options}
    bind_word = "bind" if mp.bind_recursive == "disabled" else "rbind"
    if mp.rw:
        access = "rw"
    elif mp.bind_recursive == "readonly":
        access = "rro"
    else:
        access = "ro"
    return {"destination": mp.destination, "type": "bind", "source": mp.source,
            "options": [bind_word, access, mp.propagation or DEFAULT_BIND_PROPAGATION]}
