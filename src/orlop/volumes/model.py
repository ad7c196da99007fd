"""The volume as the rest of Orlop sees it, and the row-level shape of its Docker inspect
form (``inspect_dict``; wire/volumes.py renders a ``Volume`` with it).

Anonymous volumes carry the label ``com.docker.volume.anonymous: ""``, as Docker >= 23
gives them (Docker 20.10 gave none).  Orlop follows current Docker here because its
``volume prune`` semantics (anonymous volumes only unless ``--all``) are defined by
that label in Docker, and scripts filter on it (``-f label=com.docker.volume.anonymous``).
The ``anonymous`` column of the database stays the truth Orlop itself prunes by.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from orlop.tuples import NamedTuple

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms)
if TYPE_CHECKING:
    from typing import Any

ANONYMOUS_LABEL = "com.docker.volume.anonymous"
LOCAL_DRIVER = "local"


class Volume(NamedTuple):
    """One volume, as recorded in the state database.

    ``labels`` and ``options`` keep the difference between ``None`` and ``{}`` because
    Docker echoes it back in ``volume inspect`` (``null`` for CLI 28 and auto-created
    volumes, ``{}`` when a client sent an empty map).
    """

    name: str
    driver: str
    mountpoint: Path
    created_at: str  # RFC 3339, whole seconds, UTC with "Z", as Docker prints CreatedAt
    labels: dict[str, str] | None
    options: dict[str, str] | None
    anonymous: bool = False


def inspect_dict(name: str, driver: str, mountpoint: str, created_at: str,
                 labels: Mapping[str, str] | None, options: Mapping[str, str] | None,
                 usage: tuple[int, int] | None = None) -> dict[str, Any]:
    """THE wire shape of a volume, Docker's ``volume inspect`` object: keys (and map
    keys) sorted as Go's JSON does, ``None`` kept apart from ``{}``.

    A function of plain values rather than of a :class:`Volume`, so that
    ``VolumeService.list_inspect`` can build it straight from database rows (no
    ``Volume`` and no ``Path`` per row: at 10,000 volumes those cost more than the query)
    while every volume object on the wire still comes from this one definition.
    """
    out: dict[str, Any] = {
        "CreatedAt": created_at,
        "Driver": driver,
        "Labels": _sorted(labels),
        "Mountpoint": mountpoint,
        "Name": name,
        "Options": _sorted(options),
        "Scope": "local",
    }
    if usage is not None:
        out["UsageData"] = {"RefCount": usage[1], "Size": usage[0]}
    return out


def _sorted(m: Mapping[str, str] | None) -> dict[str, str] | None:
    return None if m is None else {k: m[k] for k in sorted(m)}
