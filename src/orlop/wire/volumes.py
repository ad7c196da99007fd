"""Docker's JSON for volumes: the ``volume inspect`` object of a ``Volume`` (and Orlop's
``UsedBy`` addition), for the CLI's local backend and orlopd's ``/volumes`` routes alike.

The shape itself is ``volumes.model.inspect_dict``, a function of plain values: the
volume service's listing builds it straight from database rows (``list_inspect``, and
orlopd's kept answers, ``VolumeListCache``) without a ``Volume`` per row, for speed at
thousands of volumes, so that one definition stays below this package for now.
"""

from __future__ import annotations

from orlop.volumes.model import inspect_dict

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms)
if TYPE_CHECKING:
    from typing import Any, Protocol

    from orlop.volumes.model import Volume
    from orlop.volumes.service import VolumeService

    class VolumeUser(Protocol):
        """One container using a volume, as the volume service reports it (a protocol: the
        record's class moves within volumes/ without this module following it)."""

        @property
        def name(self) -> str: ...
        @property
        def id(self) -> str: ...
        @property
        def running(self) -> bool: ...
        @property
        def destination(self) -> str: ...
        @property
        def rw(self) -> bool: ...


def volume_json(v: Volume, usage: tuple[int, int] | None = None) -> dict[str, Any]:
    """Docker's ``volume inspect`` object; ``usage`` is ``(size in bytes, reference
    count)`` and adds Docker's ``UsageData``."""
    return inspect_dict(v.name, v.driver, str(v.mountpoint), v.created_at, v.labels,
                        v.options, usage)


def user_json(u: VolumeUser) -> dict[str, Any]:
    """One ``UsedBy`` entry (keys sorted, as Go's JSON of a map would be)."""
    return {"Destination": u.destination, "ID": u.id, "Name": u.name, "RW": u.rw,
            "Running": u.running}


def inspect_volume(service: VolumeService, name: str, size: bool = False) -> dict[str, Any]:
    """``volume inspect``'s object: Docker's, plus Orlop's ``UsedBy`` (the containers
    using the volume; see docs/differences.md) and ``UsageData`` when ``size``."""
    vol = service.get(name)
    out = service.with_plugin_fields(vol, volume_json(vol, service.usage(name) if size else None))
    out["UsedBy"] = [user_json(u) for u in service.users(name)]
    return out


__all__ = ["inspect_volume", "user_json", "volume_json"]
