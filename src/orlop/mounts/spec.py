"""Mount requests and resolved mount points, and their Docker API shapes.

``MountSpec`` is one user request (``-v``, ``--mount``, ``--tmpfs`` or an image
``VOLUME``), already parsed and validated.  ``MountPoint`` is what the engine
records per container once a spec is resolved (a volume created, a bind source
checked): moby's ``daemon/volume/mounts/mounts.go::MountPoint``.  Docker's wire
names (``HostConfig.Mounts`` entries, the ``Mounts`` list of inspect) are produced
only by the ``to_*``/``from_*`` functions here, in one place each.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, get_args

from orlop.errors import InvalidMountError

MountType = Literal["volume", "bind", "tmpfs"]
MountOrigin = Literal["volume-flag", "mount-flag", "tmpfs-flag", "image"]
BindRecursive = Literal["enabled", "disabled", "writable", "readonly"]

MOUNT_TYPES: tuple[str, ...] = get_args(MountType)
BIND_RECURSIVE_VALUES: tuple[str, ...] = get_args(BindRecursive)
DEFAULT_DRIVER = "local"
DEFAULT_BIND_PROPAGATION = "rprivate"


class FrozenMap(Mapping[str, str]):
    """A read-only, hashable str -> str mapping, so that frozen dataclasses stay hashable."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, str] | None = None) -> None:
        self._data: dict[str, str] = dict(data or {})

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self._data == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


def _empty_map() -> FrozenMap:
    return FrozenMap()


@dataclass(frozen=True)
class MountSpec:
    """One mount request, parsed and validated; no volume exists for it yet.

    ``mode`` is what Docker shows as ``Mode`` in inspect for a local-driver mount: the
    ``-v`` option text (``"ro"``, ``"rw,z"``), ``"z"`` for a named ``-v`` volume without
    options and for every ``--mount type=volume`` (moby ``setBindModeIfNull``), ``""``
    otherwise.  ``raw`` keeps the user's text for ``HostConfig.Binds`` / ``Tmpfs``.
    """

    type: MountType
    target: str
    source: str = ""
    read_only: bool = False
    origin: MountOrigin = "mount-flag"
    raw: str = ""
    mode: str = ""
    propagation: str = ""
    copy_up: bool = True
    create_host_path: bool = False
    volume_driver: str = ""
    volume_labels: Mapping[str, str] = field(default_factory=_empty_map)
    volume_options: Mapping[str, str] = field(default_factory=_empty_map)
    volume_subpath: str = ""
    bind_recursive: BindRecursive = "enabled"
    tmpfs_size: int | None = None
    tmpfs_mode: int | None = None
    tmpfs_options: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Callers may pass plain dicts; freeze them so the spec really is immutable.
        if not isinstance(self.volume_labels, FrozenMap):
            object.__setattr__(self, "volume_labels", FrozenMap(self.volume_labels))
        if not isinstance(self.volume_options, FrozenMap):
            object.__setattr__(self, "volume_options", FrozenMap(self.volume_options))
        options: object = self.tmpfs_options  # a list from a careless caller
        if not isinstance(options, tuple):
            object.__setattr__(self, "tmpfs_options", tuple(self.tmpfs_options))

    @property
    def anonymous(self) -> bool:
        """A volume request without a name: the engine makes a 64-hex one."""
        return self.type == "volume" and self.source == ""


@dataclass(frozen=True)
class MountPoint:
    """A mount as recorded for a container after the engine resolved its spec.

    ``source`` is the host path (a volume's ``_data`` dir, or, once the engine resolved
    a ``volume_subpath`` safely, that sub-directory; the bind source; ``""`` for tmpfs).
    ``from_volumes_from`` is the id of the container it was inherited from, or ``""``.
    """

    type: MountType
    destination: str
    source: str = ""
    name: str = ""
    driver: str = ""
    mode: str = ""
    rw: bool = True
    propagation: str = ""
    copy_up: bool = True
    subpath: str = ""
    bind_recursive: BindRecursive = "enabled"
    tmpfs_size: int | None = None
    tmpfs_mode: int | None = None
    tmpfs_options: tuple[str, ...] = ()
    origin: MountOrigin | Literal[""] = ""
    from_volumes_from: str = ""

    def __post_init__(self) -> None:
        options: object = self.tmpfs_options  # a list from a careless caller
        if not isinstance(options, tuple):
            object.__setattr__(self, "tmpfs_options", tuple(self.tmpfs_options))

    @classmethod
    def from_spec(cls, spec: MountSpec, *, source: str = "", name: str = "",
                  driver: str = DEFAULT_DRIVER) -> MountPoint:
        """The mount point for a resolved spec.

        Args:
            spec: the request.
            source: the volume's host path (volumes) — ignored for binds and tmpfs.
            name: the volume's name (the generated one for an anonymous volume).
            driver: the volume's driver; Docker's default ``Mode`` of ``"z"`` applies to
                ``local`` volumes only.
        """
        if spec.type == "volume":
            mode = spec.mode
            if driver != DEFAULT_DRIVER and _mode_was_defaulted(spec):
                mode = ""
            return cls(type="volume", destination=spec.target, source=source,
                       name=name or spec.source, driver=driver, mode=mode,
                       rw=not spec.read_only, copy_up=spec.copy_up,
                       subpath=spec.volume_subpath, origin=spec.origin)
        if spec.type == "bind":
            return cls(type="bind", destination=spec.target, source=spec.source,
                       mode=spec.mode, rw=not spec.read_only,
                       propagation=spec.propagation or DEFAULT_BIND_PROPAGATION,
                       copy_up=False, bind_recursive=spec.bind_recursive, origin=spec.origin)
        return cls(type="tmpfs", destination=spec.target, mode=spec.mode,
                   rw=not spec.read_only, copy_up=False, tmpfs_size=spec.tmpfs_size,
                   tmpfs_mode=spec.tmpfs_mode, tmpfs_options=spec.tmpfs_options,
                   origin=spec.origin)

    def to_json(self) -> dict[str, Any]:
        """A plain dict with stable snake_case keys, for the state database."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str) -> MountPoint:
        """The reverse of ``to_json``; missing keys take their defaults, unknown keys are
        ignored (a newer Orlop may have written them).

        Raises:
            InvalidMountError: a key with a value of the wrong type.
        """
        obj: Any = json.loads(data) if isinstance(data, str) else data
        if not isinstance(obj, Mapping):
            raise InvalidMountError(f"invalid mount point record: {obj!r}")
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in obj:
                continue
            value = obj[f.name]
            if f.name == "tmpfs_options":
                value = tuple(_expect_str_list(f.name, value))
            elif f.name in ("tmpfs_size", "tmpfs_mode"):
                if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                    raise InvalidMountError(f"invalid mount point record: {f.name}={value!r}")
            elif f.name in ("rw", "copy_up"):
                if not isinstance(value, bool):
                    raise InvalidMountError(f"invalid mount point record: {f.name}={value!r}")
            elif not isinstance(value, str):
                raise InvalidMountError(f"invalid mount point record: {f.name}={value!r}")
            kwargs[f.name] = value
        if kwargs.get("type") not in MOUNT_TYPES or "destination" not in kwargs:
            raise InvalidMountError(f"invalid mount point record: {dict(obj)!r}")
        if kwargs.get("bind_recursive", "enabled") not in BIND_RECURSIVE_VALUES:
            raise InvalidMountError(
                f"invalid mount point record: bind_recursive={kwargs['bind_recursive']!r}")
        return cls(**kwargs)

    def to_inspect(self) -> dict[str, Any]:
        """Docker's ``Mounts`` entry of ``docker inspect``, keys in Docker's order.

        ``Name`` and ``Driver`` appear for volumes only (Go ``omitempty``); a bind
        without a recorded propagation shows ``rprivate``, volumes and tmpfs ``""``.
        """
        out: dict[str, Any] = {"Type": self.type}
        if self.type == "volume":
            out["Name"] = self.name
        out["Source"] = self.source if self.type != "tmpfs" else ""
        out["Destination"] = self.destination
        if self.type == "volume":
            out["Driver"] = self.driver or DEFAULT_DRIVER
        out["Mode"] = self.mode
        out["RW"] = self.rw
        if self.type == "bind":
            out["Propagation"] = self.propagation or DEFAULT_BIND_PROPAGATION
        else:
            out["Propagation"] = self.propagation
        return out


def _mode_was_defaulted(spec: MountSpec) -> bool:
    """True when ``spec.mode`` is Docker's default ``"z"`` rather than the user's text."""
    if spec.origin == "mount-flag":
        return True
    return spec.origin == "volume-flag" and spec.raw.count(":") < 2


def _expect_str_list(name: str, value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidMountError(f"invalid mount point record: {name}={value!r}")
    return list(value)


# --- Docker Engine API: HostConfig.Mounts entries (mount.Mount) -------------------------


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

    Field types are checked first (a clear error naming the field), then moby's
    ``validateMountConfig`` rules with Docker's texts.  Unknown keys are ignored, as
    Go's JSON decoder does.  The bind-source existence check is left to the caller
    (``parser.validate_bind_source``).

    Raises:
        InvalidMountError: a wrong type, or a config Docker refuses.
        InvalidVolumeNameError: a volume name the local driver refuses.
    """
    from orlop.mounts.parser import finish_mount_spec  # parser imports this module
    from orlop.mounts.validate import mount_config_error, validate_container_path

    if not isinstance(data, Mapping):
        raise InvalidMountError(f"invalid mount: expected an object, got {_json_kind(data)}")
    mtype = _get(data, "Type", str, "")
    source = _get(data, "Source", str, "")
    target = _get(data, "Target", str, "")
    read_only = _get(data, "ReadOnly", bool, False)
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
                     read_only=read_only, origin="mount-flag",
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
