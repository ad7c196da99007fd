"""Docker's volume filters (``ls -f``, ``prune --filter``) as a small, pure algebra.

Parsing and matching are separate from the database so they can be unit-tested and so
``list()`` stays one query followed by an in-memory pass (10,000 volumes in a few ms).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from orlop.errors import InvalidParameterError
from orlop.tuples import NamedTuple

# Docker's accepted keys (moby daemon/volume/service/convert.go).  Orlop also accepts
# ``label!`` in ``ls``: Docker refuses it there but it is harmless and symmetric with prune.
# Orlop adds ``used-by`` (ls: a container name or id) and ``until`` (prune: Docker's
# until of image/container prune, created before a time or duration).
LIST_KEYS = frozenset({"dangling", "name", "driver", "label", "label!", "used-by"})
PRUNE_KEYS = frozenset({"label", "label!", "all", "until"})

_TRUE = ("true", "1")
_FALSE = ("false", "0")


class VolumeFilter(NamedTuple):
    """A parsed filter set; every given criterion must hold (Docker ANDs keys)."""

    dangling: bool | None = None
    names: tuple[str, ...] = ()
    drivers: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # "k" or "k=v": each must match
    not_labels: tuple[str, ...] = ()  # "k" or "k=v": none may match
    all: bool = False  # prune only: consider named volumes too
    used_by: tuple[str, ...] = ()  # container names or ids: applied by the query
    until: tuple[str, ...] = ()  # prune only: parsed by the engine (engine.prune)

    @property
    def selects_all(self) -> bool:
        """No criterion that can reject a volume: ``list()`` then skips the match pass."""
        return (self.dangling is None and not self.names and not self.drivers
                and not self.labels and not self.not_labels)

    def match(self, name: str, driver: str, labels: Mapping[str, str] | None,
              in_use: bool | None = None) -> bool:
        """Whether a volume passes.  ``in_use`` is needed only when ``dangling`` is set."""
        if self.dangling is not None:
            if in_use is None:
                raise ValueError("the dangling filter needs the in-use state")
            if self.dangling == in_use:
                return False
        if self.names and not any(_name_matches(p, name) for p in self.names):
            return False
        if self.drivers and not any(_name_matches(d, driver) for d in self.drivers):
            return False
        lab = labels or {}
        if not all(label_matches(spec, lab) for spec in self.labels):
            return False
        return not any(label_matches(spec, lab) for spec in self.not_labels)


def parse_filter_args(args: Iterable[str]) -> dict[str, list[str]]:
    """``["dangling=true", "label=a=b"]`` (the CLI's repeated ``-f``) -> a filter mapping."""
    out: dict[str, list[str]] = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep:
            # Docker CLI: `bad format of filter (expected name=value)`
            raise InvalidParameterError(f"bad format of filter (expected name=value): {arg}")
        key = key.strip()
        # "label!=k=v" partitions as ("label!", "k=v"), which is what we want.
        out.setdefault(key.lower() if key.lower() in LIST_KEYS | PRUNE_KEYS else key,
                       []).append(value)
    return out


def filter_key(filters: Mapping[str, Sequence[str]] | None
               ) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A hashable form of a filter mapping, equal for equal filters whatever the order of
    the keys (a cache key: the values keep their order, which only error texts show)."""
    return tuple(sorted((k, tuple(v)) for k, v in (filters or {}).items()))


def build_filter(filters: Mapping[str, Sequence[str]] | None, *, prune: bool = False
                 ) -> VolumeFilter:
    """Validate against Docker's accepted keys and values, with Docker's error texts."""
    filters = filters or {}
    accepted = PRUNE_KEYS if prune else LIST_KEYS
    for key in filters:
        if key not in accepted:
            raise InvalidParameterError(f"Invalid filter '{key}'")
    dangling: bool | None = None
    if "dangling" in filters:
        values = list(filters["dangling"])
        lowered = {v.lower() for v in values}
        if not lowered or not lowered <= set(_TRUE + _FALSE) or (
                lowered & set(_TRUE) and lowered & set(_FALSE)):
            raise InvalidParameterError(f"Invalid filter 'dangling=[{' '.join(values)}]'")
        dangling = next(iter(lowered)) in _TRUE
    all_ = False
    if "all" in filters:
        values = [v.lower() for v in filters["all"]]
        if any(v not in _TRUE + _FALSE for v in values):
            raise InvalidParameterError(
                f"invalid filter 'all={' '.join(filters['all'])}': invalid value")
        all_ = any(v in _TRUE for v in values)
    return VolumeFilter(
        dangling=dangling,
        names=tuple(filters.get("name", ())),
        drivers=tuple(filters.get("driver", ())),
        labels=tuple(filters.get("label", ())),
        not_labels=tuple(filters.get("label!", ())),
        all=all_,
        used_by=tuple(v.removeprefix("/") for v in filters.get("used-by", ())),
        until=tuple(filters.get("until", ())),
    )


def label_matches(spec: str, labels: Mapping[str, str]) -> bool:
    """``k`` matches when the label exists; ``k=v`` when it exists with that value."""
    key, sep, value = spec.partition("=")
    if key not in labels:
        return False
    return not sep or labels[key] == value


def _name_matches(pattern: str, value: str) -> bool:
    """Docker's filters.Match: equality, else a regular-expression search (so a plain
    word is a substring match); an invalid expression matches nothing."""
    if pattern == value:
        return True
    try:
        return re.search(pattern, value) is not None
    except re.error:
        return False
