"""Docker's prune reports (``POST /containers/prune``, ``/volumes/prune``, ``/networks/prune``,
``/build/prune``): what the
engine removed (engine/prune.py), in the shape both faces send or print."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orlop.engine.engine import Engine


def prune_containers(engine: Engine, filters: Mapping[str, list[str]] | None = None
                     ) -> dict[str, Any]:
    """``container prune`` / ``POST /containers/prune``."""
    from orlop.engine.prune import prune_containers as prune

    deleted, reclaimed = prune(engine, filters)
    return {"ContainersDeleted": deleted, "SpaceReclaimed": reclaimed}


def volumes_report(removed: list[str], reclaimed: int) -> dict[str, Any]:
    """``POST /volumes/prune``'s answer (and its ``--dry-run`` preview's)."""
    return {"VolumesDeleted": removed, "SpaceReclaimed": reclaimed}


def volumes_from_report(report: Mapping[str, Any]) -> tuple[list[str], int]:
    """The inverse of :func:`volumes_report`: the names removed and the bytes reclaimed
    (``null`` fields read as none, as Go decodes them)."""
    return list(report.get("VolumesDeleted") or []), int(report.get("SpaceReclaimed") or 0)


def build_cache_report(deleted: list[str], reclaimed: int) -> dict[str, Any]:
    """``POST /build/prune``'s answer (``docker builder prune``, ``system prune``)."""
    return {"CachesDeleted": deleted or None, "SpaceReclaimed": reclaimed}


def networks_report(deleted: list[str]) -> dict[str, Any]:
    """``POST /networks/prune``'s answer."""
    return {"NetworksDeleted": deleted}


__all__ = ["build_cache_report", "networks_report", "prune_containers", "volumes_from_report",
           "volumes_report"]
