"""Docker's human units (go-units): sizes like ``4.26MB``, durations like ``2 hours``.

Scripts and eyes are used to Docker's exact forms, so these follow go-units'
``HumanSizeWithPrecision`` (decimal, 1000-based, ``%.<p>g``) and ``HumanDuration``.
"""

from __future__ import annotations

import calendar
import time

_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float, precision: int = 3) -> str:
    """``4261550`` -> ``4.26MB`` (``docker images`` uses precision 3; ``HumanSize`` 4)."""
    i = 0
    while size >= 1000.0 and i < len(_DECIMAL_UNITS) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.{precision}g}{_DECIMAL_UNITS[i]}"


def human_duration(seconds: float) -> str:
    """go-units HumanDuration: ``Less than a second``, ``About a minute``, ``2 hours``..."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch of Docker's UTC timestamps; 0.0 for the zero time."""
    if not text or text.startswith("0001-"):
        return 0.0
    main, _, rest = text.partition(".")
    main = main.rstrip("Z")
    secs = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    frac = rest.rstrip("Z")
    return secs + (float("0." + frac) if frac.isdigit() else 0.0)


def time_ago(rfc3339: str, now: float | None = None) -> str:
    """``2 hours ago`` for a timestamp, as the CREATED column prints it."""
    now = time.time() if now is None else now
    return human_duration(now - parse_rfc3339(rfc3339)) + " ago"


def docker_date(rfc3339: str) -> str:
    """``2024-11-27 19:37:12 +0000 UTC``: Go's time.String, the CreatedAt column."""
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(parse_rfc3339(rfc3339)))
