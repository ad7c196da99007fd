"""Pure mount parsing and validation: ``-v``, ``--mount``, ``--tmpfs``, ``--volumes-from``.

Each input becomes one validated ``MountSpec`` (``parser``); ``plan`` merges them in
Docker's precedence; the engine resolves specs into ``MountPoint``s (``spec``) and
writes them into config.json (``oci``).  Nothing in this package does I/O.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms)
if TYPE_CHECKING:
    from typing import Any

    from orlop.mounts.oci import oci_mount
    from orlop.mounts.parser import (
        check_duplicates,
        clean_target,
        convert_tmpfs_options,
        parse_image_volume,
        parse_mount_flag,
        parse_tmpfs_flag,
        parse_volume_flag,
        parse_volumes_from,
        validate_bind_source,
        validate_volume_name,
    )
    from orlop.mounts.plan import MountPlan, VolumesFrom, merge_mounts, sort_mounts
    from orlop.mounts.spec import MountPoint, MountSpec, MountType

# Loaded on first use (PEP 562): `volume create` validates a name with mounts.volname
# and must not pay for the parsers and the specs' dataclasses.
_LAZY = {
    "oci_mount": "oci",
    "check_duplicates": "parser",
    "clean_target": "parser",
    "convert_tmpfs_options": "parser",
    "parse_image_volume": "parser",
    "parse_mount_flag": "parser",
    "parse_tmpfs_flag": "parser",
    "parse_volume_flag": "parser",
    "parse_volumes_from": "parser",
    "validate_bind_source": "parser",
    "validate_volume_name": "parser",
    "MountPlan": "plan",
    "VolumesFrom": "plan",
    "merge_mounts": "plan",
    "sort_mounts": "plan",
    "MountPoint": "spec",
    "MountSpec": "spec",
    "MountType": "spec",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'orlop.mounts' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"orlop.mounts.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "MountPlan",
    "MountPoint",
    "MountSpec",
    "MountType",
    "VolumesFrom",
    "check_duplicates",
    "clean_target",
    "convert_tmpfs_options",
    "merge_mounts",
    "oci_mount",
    "parse_image_volume",
    "parse_mount_flag",
    "parse_tmpfs_flag",
    "parse_volume_flag",
    "parse_volumes_from",
    "sort_mounts",
    "validate_bind_source",
    "validate_volume_name",
]
