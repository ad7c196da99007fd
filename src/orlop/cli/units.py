"""Docker's human units (go-units): sizes like ``4.26MB``, durations like ``2 hours``.

Scripts and eyes are used to Docker's exact forms, so these follow go-units'
``HumanSizeWithPrecision`` (decimal, 1000-based, ``%.<p>g``; orlop/units.py, shared with
the layers below) and ``HumanDuration``.
"""

from __future__ import annotations

import time

from orlop.engine.timefmt import human_duration, parse_rfc3339
from orlop.units import human_size

__all__ = ["docker_date", "human_duration", "human_size", "parse_rfc3339", "time_ago"]

def time_ago(rfc3339: str, now: float | None = None) -> str:
    """``2 hours ago`` for a timestamp, as the CREATED column prints it."""
    now = time.time() if now is None else now
    return human_duration(now - parse_rfc3339(rfc3339)) + " ago"


def docker_date(rfc3339: str) -> str:
    """``2024-11-27 19:37:12 +0000 UTC``: Go's time.String, the CreatedAt column."""
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(parse_rfc3339(rfc3339)))
