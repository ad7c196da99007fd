"""Orlop's built-in OCI runtime: a config.json + rootfs in, a running container out.

The engine calls :func:`launch` in-process; ``orlop-runtime`` (runtime/cli.py) offers
the same as runc's verbs.  Nothing here knows about images or volumes: the bundle is
the whole contract.
"""

from orlop.runtime.launcher import Launched, launch
from orlop.runtime.mountopts import MountOptions, parse_mount_options
from orlop.runtime.spec import (
    ANNOTATION_LOWERDIR,
    ANNOTATION_UPPERDIR,
    ANNOTATION_WORKDIR,
    Capabilities,
    Linux,
    Mount,
    Namespace,
    Process,
    Rlimit,
    Root,
    Spec,
    User,
    default_spec,
)

__all__ = [
    "ANNOTATION_LOWERDIR", "ANNOTATION_UPPERDIR", "ANNOTATION_WORKDIR", "Capabilities",
    "Launched", "Linux", "Mount", "MountOptions", "Namespace", "Process", "Rlimit", "Root",
    "Spec", "User", "default_spec", "launch", "parse_mount_options",
]
