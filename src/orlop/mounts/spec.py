"""Mount requests and resolved mount points.

``MountSpec`` is one user request (``-v``, ``--mount``, ``--tmpfs`` or an image
``VOLUME``), already parsed and validated.  ``MountPoint`` is what the engine
records per container once a spec is resolved (a volume created, a bind source
checked): moby's ``daemon/volume/mounts/mounts.go::MountPoint``.  Both have a record
form for the state database (``to_json``/``from_json``, snake_case); their Docker API
shapes (``HostConfig.Mounts`` entries, the ``Mounts`` list of inspect) are
:mod:`orlop.wire.mounts`'.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping

from orlop.errors import InvalidMountError
from orlop.records import FrozenRecord

# The values, at run time; the same as Literal types for the type checker only (no
# typing at run time, issue 17; tests/unit/mounts/test_mount_literals.py compares them).
MOUNT_TYPES: tuple[str, ...] = ("volume", "bind", "tmpfs")
BIND_RECURSIVE_VALUES: tuple[str, ...] = ("enabled", "disabled", "writable", "readonly")
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Literal

    MountType = Literal["volume", "bind", "tmpfs"]
    MountOrigin = Literal["volume-flag", "mount-flag", "tmpfs-flag", "image"]
    BindRecursive = Literal["enabled", "disabled", "writable", "readonly"]
else:
    MountType = MountOrigin = BindRecursive = str  # what a value of each is
DEFAULT_DRIVER = "local"
DEFAULT_BIND_PROPAGATION = "rprivate"


class FrozenMap(Mapping[str, str]):
    """A read-only, hashable str -> str mapping, so that frozen records stay hashable."""

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


def _frozen_map(data: Mapping[str, str] | None) -> FrozenMap:
    return data if isinstance(data, FrozenMap) else FrozenMap(data)


class MountSpec(FrozenRecord):
    """One mount request, parsed and validated; no volume exists for it yet.

    ``mode`` is what Docker shows as ``Mode`` in inspect for a local-driver mount: the
    ``-v`` option text (``"ro"``, ``"rw,z"``), ``"z"`` for a named ``-v`` volume without
    options and for every ``--mount type=volume`` (moby ``setBindModeIfNull``), ``""``
    otherwise.  ``raw`` keeps the user's text for ``HostConfig.Binds`` / ``Tmpfs``.
    """

    _fields = ("type", "target", "source", "read_only", "origin", "raw", "mode",
               "propagation", "copy_up", "create_host_path", "volume_driver",
               "volume_labels", "volume_options", "volume_subpath", "volume_snapshot",
               "bind_recursive", "tmpfs_size", "tmpfs_mode", "tmpfs_options", "chown")
    __slots__ = _fields
    type: MountType
    target: str
    source: str
    read_only: bool
    origin: MountOrigin
    raw: str
    mode: str
    propagation: str
    copy_up: bool
    create_host_path: bool
    volume_driver: str
    volume_labels: Mapping[str, str]
    volume_options: Mapping[str, str]
    volume_subpath: str
    # Orlop's: mount this snapshot of the volume (``-v NAME@SNAP:/dst``, ``--mount
    # ...,volume-snapshot=SNAP``), always read-only; the engine binds the snapshot's data.
    volume_snapshot: str
    bind_recursive: BindRecursive
    tmpfs_size: int | None
    tmpfs_mode: int | None
    tmpfs_options: tuple[str, ...]
    # Podman's ``U`` (``-v data:/d:U``, ``--mount ...,U``, ``--tmpfs /t:U``): before each
    # start, the source is chowned (recursively) to the container's user; a tmpfs is
    # mounted with that user's ``uid=``/``gid=`` (engine/containers/ownership.py).
    chown: bool

    def __init__(self, type: MountType, target: str, source: str = "",
                 read_only: bool = False, origin: MountOrigin = "mount-flag", raw: str = "",
                 mode: str = "", propagation: str = "", copy_up: bool = True,
                 create_host_path: bool = False, volume_driver: str = "",
                 volume_labels: Mapping[str, str] | None = None,
                 volume_options: Mapping[str, str] | None = None, volume_subpath: str = "",
                 volume_snapshot: str = "", bind_recursive: BindRecursive = "enabled",
                 tmpfs_size: int | None = None, tmpfs_mode: int | None = None,
                 tmpfs_options: tuple[str, ...] = (), chown: bool = False) -> None:
        # Callers may pass plain dicts, or a list of options: frozen here, so that the
        # spec really is immutable.
        self._set(type=type, target=target, source=source, read_only=read_only,
                  origin=origin, raw=raw, mode=mode, propagation=propagation,
                  copy_up=copy_up, create_host_path=create_host_path,
                  volume_driver=volume_driver, volume_labels=_frozen_map(volume_labels),
                  volume_options=_frozen_map(volume_options),
                  volume_subpath=volume_subpath, volume_snapshot=volume_snapshot,
                  bind_recursive=bind_recursive, tmpfs_size=tmpfs_size,
                  tmpfs_mode=tmpfs_mode, tmpfs_options=tuple(tmpfs_options), chown=chown)

    @property
    def anonymous(self) -> bool:
        """A volume request without a name: the engine makes a 64-hex one."""
        return self.type == "volume" and self.source == ""

    def to_json(self) -> dict[str, Any]:
        """A plain dict with stable snake_case keys, for the state database (a
        container's recorded ``--mount`` requests)."""
        out: dict[str, Any] = {}
        for name in self._fields:
            value = getattr(self, name)
            if isinstance(value, FrozenMap):
                value = dict(value)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MountSpec:
        """The reverse of ``to_json``; unknown keys are ignored (a newer Orlop may have
        written them).  The spec was validated when it was recorded.

        Raises:
            InvalidMountError: not a spec record.
        """
        if not isinstance(data, Mapping) or data.get("type") not in MOUNT_TYPES \
                or not isinstance(data.get("target"), str):
            raise InvalidMountError(f"invalid mount spec record: {data!r}")
        names = set(cls._fields)
        return cls(**{k: v for k, v in data.items() if k in names})


class MountPoint(FrozenRecord):
    """A mount as recorded for a container after the engine resolved its spec.

    ``source`` is the host path (a volume's ``_data`` dir, or, once the engine resolved
    a ``volume_subpath`` safely, that sub-directory; the bind source; ``""`` for tmpfs).
    ``from_volumes_from`` is the id of the container it was inherited from, or ``""``.
    """

    _fields = ("type", "destination", "source", "name", "driver", "mode", "rw",
               "propagation", "copy_up", "subpath", "bind_recursive", "tmpfs_size",
               "tmpfs_mode", "tmpfs_options", "origin", "from_volumes_from", "chown")
    __slots__ = _fields
    type: MountType
    destination: str
    source: str
    name: str
    driver: str
    mode: str
    rw: bool
    propagation: str
    copy_up: bool
    subpath: str
    bind_recursive: BindRecursive
    tmpfs_size: int | None
    tmpfs_mode: int | None
    tmpfs_options: tuple[str, ...]
    origin: MountOrigin | Literal[""]
    from_volumes_from: str
    chown: bool  # ``U``: chown the source to the container's user at each start

    def __init__(self, type: MountType, destination: str, source: str = "", name: str = "",
                 driver: str = "", mode: str = "", rw: bool = True, propagation: str = "",
                 copy_up: bool = True, subpath: str = "",
                 bind_recursive: BindRecursive = "enabled", tmpfs_size: int | None = None,
                 tmpfs_mode: int | None = None, tmpfs_options: tuple[str, ...] = (),
                 origin: MountOrigin | Literal[""] = "", from_volumes_from: str = "",
                 chown: bool = False) -> None:
        self._set(type=type, destination=destination, source=source, name=name,
                  driver=driver, mode=mode, rw=rw, propagation=propagation, copy_up=copy_up,
                  subpath=subpath, bind_recursive=bind_recursive, tmpfs_size=tmpfs_size,
                  tmpfs_mode=tmpfs_mode, tmpfs_options=tuple(tmpfs_options), origin=origin,
                  from_volumes_from=from_volumes_from, chown=chown)

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
                mode = "U" if spec.chown else ""
            return cls(type="volume", destination=spec.target, source=source,
                       name=name or spec.source, driver=driver, mode=mode,
                       rw=not spec.read_only, copy_up=spec.copy_up,
                       subpath=spec.volume_subpath, origin=spec.origin, chown=spec.chown)
        if spec.type == "bind":
            return cls(type="bind", destination=spec.target, source=spec.source,
                       mode=spec.mode, rw=not spec.read_only,
                       propagation=spec.propagation or DEFAULT_BIND_PROPAGATION,
                       copy_up=False, bind_recursive=spec.bind_recursive, origin=spec.origin,
                       chown=spec.chown)
        return cls(type="tmpfs", destination=spec.target, mode=spec.mode,
                   rw=not spec.read_only, copy_up=False, tmpfs_size=spec.tmpfs_size,
                   tmpfs_mode=spec.tmpfs_mode, tmpfs_options=spec.tmpfs_options,
                   origin=spec.origin, chown=spec.chown)

    def to_json(self) -> dict[str, Any]:
        """A plain dict with stable snake_case keys, for the state database."""
        out: dict[str, Any] = {}
        for name in self._fields:
            value = getattr(self, name)
            out[name] = list(value) if isinstance(value, tuple) else value
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
        for name in cls._fields:
            if name not in obj:
                continue
            value = obj[name]
            if name == "tmpfs_options":
                value = tuple(_expect_str_list(name, value))
            elif name in ("tmpfs_size", "tmpfs_mode"):
                if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                    raise InvalidMountError(f"invalid mount point record: {name}={value!r}")
            elif name in ("rw", "copy_up", "chown"):
                if not isinstance(value, bool):
                    raise InvalidMountError(f"invalid mount point record: {name}={value!r}")
            elif not isinstance(value, str):
                raise InvalidMountError(f"invalid mount point record: {name}={value!r}")
            kwargs[name] = value
        if kwargs.get("type") not in MOUNT_TYPES or "destination" not in kwargs:
            raise InvalidMountError(f"invalid mount point record: {dict(obj)!r}")
        if kwargs.get("bind_recursive", "enabled") not in BIND_RECURSIVE_VALUES:
            raise InvalidMountError(
                f"invalid mount point record: bind_recursive={kwargs['bind_recursive']!r}")
        return cls(**kwargs)


def _mode_was_defaulted(spec: MountSpec) -> bool:
    """True when ``spec.mode`` is Docker's default ``"z"`` rather than the user's text."""
    if spec.origin == "mount-flag":
        return True
    return spec.origin == "volume-flag" and spec.raw.count(":") < 2


def _expect_str_list(name: str, value: Any) -> list[str]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidMountError(f"invalid mount point record: {name}={value!r}")
    return list(value)
