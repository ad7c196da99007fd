"""``container prune`` and ``system prune``: what goes, decided once for the CLI's local
backend and orlopd's ``POST /containers/prune``.

Only containers that are not running go (exited, created, dead), as Docker: a paused or
restarting container is left alone.  Filters are Docker's for prune: ``label``,
``label!`` and ``until`` (a timestamp or a Go duration, "created before").  The space
reclaimed is the size of each removed container's writable layer, measured before it
goes, as Docker reports it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from orlop.errors import InvalidParameterError, OrlopError

if TYPE_CHECKING:
    from orlop.engine.engine import Engine
    from orlop.engine.services import Services

PRUNABLE = ("exited", "created", "dead")
_FILTERS = ("label", "label!", "until")


def labels_match(labels: Mapping[str, str], want: list[str], negate: bool) -> bool:
    """Docker's prune ``label=k[=v]`` (all must match) / ``label!=k[=v]`` (none may)."""
    def one(item: str) -> bool:
        key, sep, value = item.partition("=")
        return key in labels and (not sep or labels[key] == value)

    if negate:
        return not any(one(item) for item in want)
    return all(one(item) for item in want)


def passes(filters: Mapping[str, list[str]], labels: Mapping[str, str], created: str) -> bool:
    """Whether an object with ``labels``, created at ``created`` (RFC 3339), is pruned
    under the ``label``/``label!``/``until`` filters (already checked by check_filters)."""
    from orlop.engine.timefmt import parse_rfc3339

    if "label" in filters and not labels_match(labels, filters["label"], negate=False):
        return False
    if "label!" in filters and not labels_match(labels, filters["label!"], negate=True):
        return False
    if filters.get("until") and parse_rfc3339(created) >= until_epoch(filters["until"]):
        return False
    return True


def check_filters(filters: Mapping[str, list[str]], extra: tuple[str, ...] = ()) -> None:
    for key in filters:
        if key not in _FILTERS + extra:
            raise InvalidParameterError(f"Invalid filter '{key}'")
    if filters.get("until"):
        until_epoch(filters["until"])


def until_epoch(values: list[str]) -> float:
    from orlop.engine.events import cli_timestamp, parse_timestamp

    if len(values) > 1:
        raise InvalidParameterError("more than one until filter specified")
    return parse_timestamp(cli_timestamp(values[0], time.time())) / 1e9


def prune_containers(engine: Engine, filters: Mapping[str, list[str]] | None = None
                     ) -> tuple[list[str], int]:
    """Remove every stopped container passing ``filters``: the ids removed and the
    bytes reclaimed (wire/prune.py makes Docker's report of them)."""
    from orlop.engine.sysinfo import dir_size

    f = {k: list(v) for k, v in (filters or {}).items()}
    check_filters(f)
    deleted: list[str] = []
    reclaimed = 0
    for c in engine.list_containers(all_=True):
        if c.status not in PRUNABLE:
            continue
        if not passes(f, c.config.labels, c.created):
            continue
        size = dir_size(str(engine.config.containers_dir / c.id / "diff"))
        with contextlib.suppress(OrlopError):  # started or removed meanwhile: skipped
            engine.remove_container(c.id)
            deleted.append(c.id)
            reclaimed += size
    return deleted, reclaimed


def prune_volumes(engine: Services, all_: bool, filters: Mapping[str, list[str]] | None,
                  dry_run: bool = False) -> tuple[list[str], int]:
    """``volume prune``: the volume service's prune with ``until`` parsed as image and
    container prune parse it (a Go duration or a timestamp)."""
    until = until_epoch(list(filters["until"])) if filters and filters.get("until") else None
    return engine.volumes.prune(all=all_, filters=filters, until=until, dry_run=dry_run)


__all__ = ["PRUNABLE", "check_filters", "labels_match", "passes", "prune_containers",
           "prune_volumes", "until_epoch"]
