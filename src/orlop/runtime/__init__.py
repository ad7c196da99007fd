"""Orlop's built-in OCI runtime: a config.json + rootfs in, a running container out.

The engine calls :func:`launch` in-process; ``orlop-runtime`` (runtime/cli.py) offers
the same as runc's verbs.  Nothing here knows about images or volumes: the bundle is
the whole contract.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any

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

# Loaded on first use (PEP 562): `orlop exec` imports orlop.runtime.exec, and with it
# this package, and must not pay for the launcher and the rootfs machinery; `volume
# create` needs only the mount options, not the spec's dataclasses.
_SPEC = ("ANNOTATION_LOWERDIR", "ANNOTATION_UPPERDIR", "ANNOTATION_WORKDIR", "Capabilities",
         "Linux", "Mount", "Namespace", "Process", "Rlimit", "Root", "Spec", "User",
         "default_spec")
_LAZY = {**dict.fromkeys(_SPEC, "spec"), "Launched": "launcher", "launch": "launcher",
         "MountOptions": "mountopts", "parse_mount_options": "mountopts"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'orlop.runtime' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"orlop.runtime.{module}"), name)
    globals()[name] = value
    return value

__all__ = [
    "ANNOTATION_LOWERDIR", "ANNOTATION_UPPERDIR", "ANNOTATION_WORKDIR", "Capabilities",
    "Launched", "Linux", "Mount", "MountOptions", "Namespace", "Process", "Rlimit", "Root",
    "Spec", "User", "default_spec", "launch", "parse_mount_options",
]
