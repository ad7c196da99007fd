"""Docker's JSON for mounts, both ways: a request's ``HostConfig.Mounts`` entry
(``mount.Mount``) from a ``MountSpec`` and back, and the ``Mounts`` entry of ``inspect``
and of the list rows from a recorded ``MountPoint``.

A ``--mount`` flag crosses the API once as this shape: the CLI parses the CSV into a
``MountSpec`` (mounts/parser.py), :func:`to_api_mount` writes the body's entry, and
orlopd reads it back with :func:`from_api_mount`, which validates it as the daemon does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orlop.errors import InvalidMountError
from orlop.mounts.parser import finish_mount_spec
from orlop.mounts.spec import (
    DEFAULT_BIND_PROPAGATION,
    DEFAULT_DRIVER,
    MOUNT_TYPES,
    MountPoint,
    MountSpec,
)
from orlop.mounts.validate import mount_config_error, validate_container_path


def mount_point_json(mp: MountPoint) -> dict[str, Any]:
    """Docker's ``Mounts`` entry of ``docker inspect``, keys in Docker's order.

    ``Name`` and ``Driver`` appear for volumes only (Go ``omitempty``); a bind
    without a recorded propagation shows ``rprivate``, volumes and tmpfs ``""``.
    """
    out: dict[str, Any] = {"Type": mp.type}
    if mp.type == "volume":
        out["Name"] = mp.name
    out["Source"] = mp.source if mp.type != "tmpfs" else ""
    out["Destination"] = mp.destination
    if mp.type == "volume":
        out["Driver"] = mp.driver or DEFAULT_DRIVER
    out["Mode"] = mp.mode
    out["RW"] = mp.rw
    if mp.type == "bind":
        out["Propagation"] = mp.propagation or DEFAULT_BIND_PROPAGATION
    else:
        out["Propagation"] = mp.propagation
    return out


def to_api_mount(spec: MountSpec) -> dict[str, Any]:
    """Docker's ``HostConfig.Mounts`` entry (``mount.Mount``) for a spec.

    Empty fields are left out, as Go's ``omitempty`` does:
    ``{"Type":"tmpfs","Target":"/t","TmpfsOptions":{"SizeBytes":1048576,"Mode":1016}}``.
    """
    out: dict[str, Any] = {"Type": spec.type}
    if spec.source:
        out["Source"] = spec.source
    out["Target"] = spec.target
    if spec.read_only:
        out["ReadOnly"] = True
    if spec.chown:
        out["Chown"] = True  # Orlop's: Podman's U, which Docker's Mount has no field for
    if spec.type == "bind":
        bind: dict[str, Any] = {}
        if spec.propagation:
            bind["Propagation"] = spec.propagation
        if spec.bind_recursive == "disabled":
            bind["NonRecursive"] = True
        elif spec.bind_recursive == "writable":
            bind["ReadOnlyNonRecursive"] = True
        elif spec.bind_recursive == "readonly":
            bind["ReadOnlyForceRecursive"] = True
        if bind:
            out["BindOptions"] = bind
    elif spec.type == "volume":
        vol: dict[str, Any] = {}
        if not spec.copy_up:
            vol["NoCopy"] = True
        if spec.volume_labels:
            vol["Labels"] = dict(spec.volume_labels)
        if spec.volume_subpath:
            vol["Subpath"] = spec.volume_subpath
        if spec.volume_snapshot:
            vol["Snapshot"] = spec.volume_snapshot  # Orlop's
        driver: dict[str, Any] = {}
        if spec.volume_driver:
            driver["Name"] = spec.volume_driver
        if spec.volume_options:
            driver["Options"] = dict(spec.volume_options)
        if driver:
            vol["DriverConfig"] = driver
        if vol:
            out["VolumeOptions"] = vol
    else:
        tmpfs: dict[str, Any] = {}
        if spec.tmpfs_size:
            tmpfs["SizeBytes"] = spec.tmpfs_size
        if spec.tmpfs_mode:
            tmpfs["Mode"] = spec.tmpfs_mode
        if spec.tmpfs_options:
            tmpfs["Options"] = [w.split("=", 1) for w in spec.tmpfs_options]
        if tmpfs:
            out["TmpfsOptions"] = tmpfs
    return out


def from_api_mount(data: Mapping[str, Any]) -> MountSpec:
    """Parse and validate a ``HostConfig.Mounts`` entry, as the daemon does for the API.

    Orlop's ``Chown: true`` is Podman's ``U`` (``--mount ...,U`` from a remote CLI).
    Field types are checked first (a clear error naming the field), then moby's
    ``validateMountConfig`` rules with Docker's texts.  Unknown keys are ignored, as
    Go's JSON decoder does.  The bind-source existence check is left to the caller
    (``parser.validate_bind_source``).

    Raises:
        InvalidMountError: a wrong type, or a config Docker refuses.
        InvalidVolumeNameError: a volume name the local driver refuses.
    """
    if not isinstance(data, Mapping):
        raise InvalidMountError(f"invalid mount: expected an object, got {_json_kind(data)}")
    mtype = _get(data, "Type", str, "")
    source = _get(data, "Source", str, "")
    target = _get(data, "Target", str, "")
    read_only = _get(data, "ReadOnly", bool, False)
    chown = _get(data, "Chown", bool, False)  # Orlop's (Podman's U)
    _get(data, "Consistency", str, "")  # macOS only: accepted and ignored, as on Linux
    bind = _get_object(data, "BindOptions")
    vol = _get_object(data, "VolumeOptions")
    tmpfs = _get_object(data, "TmpfsOptions")

    if mtype not in MOUNT_TYPES:
        if target:
            validate_container_path(target)
        raise mount_config_error(mtype, "mount type unknown")
    if target == "":
        raise mount_config_error(mtype, "field Target must not be empty")
    # Docker rejects an option object of another type even when it is empty.
    for present, owner, name in ((bind, "bind", "BindOptions"), (vol, "volume", "VolumeOptions"),
                                 (tmpfs, "tmpfs", "TmpfsOptions")):
        if present is not None and mtype != owner:
            try:
                validate_container_path(target)
            except InvalidMountError as err:
                raise mount_config_error(mtype, err.message) from None
            raise mount_config_error(mtype, f"field {name} must not be specified")

    kwargs: dict[str, Any] = {}
    if bind is not None:
        kwargs["propagation"] = _get(bind, "Propagation", str, "", "BindOptions.")
        flags = [k for k in ("NonRecursive", "ReadOnlyNonRecursive", "ReadOnlyForceRecursive")
                 if _get(bind, k, bool, False, "BindOptions.")]
        _get(bind, "CreateMountpoint", bool, False, "BindOptions.")
        if len(flags) > 1:
            raise mount_config_error(mtype, f"BindOptions: {' and '.join(flags)} "
                                            "cannot be set together")
        if flags:
            kwargs["bind_recursive"] = {"NonRecursive": "disabled",
                                        "ReadOnlyNonRecursive": "writable",
                                        "ReadOnlyForceRecursive": "readonly"}[flags[0]]
    if vol is not None:
        kwargs["copy_up"] = not _get(vol, "NoCopy", bool, False, "VolumeOptions.")
        kwargs["volume_labels"] = _get_str_map(vol, "Labels", "VolumeOptions.")
        kwargs["volume_subpath"] = _get(vol, "Subpath", str, "", "VolumeOptions.")
        kwargs["volume_snapshot"] = _get(vol, "Snapshot", str, "", "VolumeOptions.")
        drv = _get_object(vol, "DriverConfig", "VolumeOptions.")
        if drv is not None:
            kwargs["volume_driver"] = _get(drv, "Name", str, "", "VolumeOptions.DriverConfig.")
            kwargs["volume_options"] = _get_str_map(drv, "Options", "VolumeOptions.DriverConfig.")
    if tmpfs is not None:
        size = _get(tmpfs, "SizeBytes", int, 0, "TmpfsOptions.")
        mode = _get(tmpfs, "Mode", int, 0, "TmpfsOptions.")
        kwargs["tmpfs_size"] = size or None
        kwargs["tmpfs_mode"] = mode or None
        kwargs["tmpfs_options"] = tuple(_tmpfs_api_options(tmpfs.get("Options")))
    spec = MountSpec(type=mtype, target=target, source=source,
                     read_only=read_only, origin="mount-flag", chown=chown,
                     raw=json.dumps(dict(data), sort_keys=True), **kwargs)
    return finish_mount_spec(spec)


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, Mapping) else type(value).__name__


_KIND_NAMES: dict[type, str] = {str: "a string", bool: "a boolean", int: "an integer"}


def _get(obj: Mapping[str, Any], key: str, kind: type, default: Any, prefix: str = "") -> Any:
    value = obj.get(key)
    if value is None:
        return default
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        raise InvalidMountError(f"invalid mount: field {prefix}{key} must be "
                                f"{_KIND_NAMES[kind]}, got {_json_kind(value)}")
    return value


def _get_object(obj: Mapping[str, Any], key: str, prefix: str = "") -> Mapping[str, Any] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InvalidMountError(
            f"invalid mount: field {prefix}{key} must be an object, got {_json_kind(value)}")
    return value


def _get_str_map(obj: Mapping[str, Any], key: str, prefix: str) -> dict[str, str]:
    value = _get_object(obj, key, prefix)
    if value is None:
        return {}
    for k, v in value.items():
        if not isinstance(v, str):
            raise InvalidMountError(f"invalid mount: field {prefix}{key}[{k}] must be a "
                                    f"string, got {_json_kind(v)}")
    return dict(value)


def _tmpfs_api_options(value: Any) -> list[str]:
    """``TmpfsOptions.Options`` (API 1.46): ``[["noexec"], ["uid", "1000"]]``."""
    if value is None:
        return []
    words: list[str] = []
    if not isinstance(value, list):
        raise InvalidMountError("invalid mount: field TmpfsOptions.Options must be an array, "
                                f"got {_json_kind(value)}")
    for item in value:
        if (not isinstance(item, list) or not 1 <= len(item) <= 2
                or not all(isinstance(p, str) for p in item)):
            raise InvalidMountError("invalid mount: each TmpfsOptions.Options entry must be "
                                    f"[flag] or [key, value], got {item!r}")
        words.append("=".join(item))
    return words


__all__ = ["from_api_mount", "mount_point_json", "to_api_mount"]
