"""Pure mount parsing and validation: ``-v``, ``--mount``, ``--tmpfs``, ``--volumes-from``.

Each input becomes one validated ``MountSpec`` (``parser``); ``plan`` merges them in
Docker's precedence; the engine resolves specs into ``MountPoint``s (``spec``) and
writes them into config.json (``oci``).  Nothing in this package does I/O.
"""

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
