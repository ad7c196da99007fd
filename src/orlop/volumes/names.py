"""Volume name checks that come before any path is built from a name.

The syntax rule (Docker's ``[a-zA-Z0-9][a-zA-Z0-9_.-]+``) is shared with ``-v`` parsing
and lives in :mod:`orlop.mounts.validate`; this module adds what only the store needs.
A valid name never contains ``/`` and never starts with ``.``, so it is exactly one
path component under the volumes directory and can never collide with the store's own
``.tmp-*`` / ``.trash-*`` entries.
"""

from __future__ import annotations

import os
import re

from orlop.errors import InvalidVolumeNameError

_VALID = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
NAME_MAX = 255


def is_valid_name(name: str) -> bool:
    """True when ``name`` can be a volume (a cheap check for lookups: an invalid name is
    simply not found, and is never turned into a path)."""
    return _VALID.fullmatch(name) is not None and len(os.fsencode(name)) <= NAME_MAX


def check_create_name(name: str, volumes_dir: os.PathLike[str] | str) -> None:
    """Refuse a name ``volume create`` cannot use, with Docker's texts."""
    from orlop.mounts.volname import validate_volume_name  # `ls`, `inspect`: not needed

    validate_volume_name(name)
    if _VALID.fullmatch(name) is None:  # defence in depth: never trust one check for a path
        raise InvalidVolumeNameError(f'create {name}: "{name}" includes invalid characters for '
                                     "a local volume name")
    if len(os.fsencode(name)) > NAME_MAX:
        path = os.path.join(volumes_dir, name)
        raise InvalidVolumeNameError(
            f"create {name}: error while creating volume root path '{path}': "
            f"mkdir {path}: file name too long")
