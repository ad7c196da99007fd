"""Docker's timestamps: RFC 3339 with nanoseconds in UTC."""

from __future__ import annotations

import time

from orlop.timestamps import now_rfc3339

ZERO_TIME = "0001-01-01T00:00:00Z"

__all__ = ["ZERO_TIME", "human_duration", "now_rfc3339", "parse_rfc3339"]


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch; 0.0 for Docker's zero time."""
    if not text or text.startswith("0001-"):
        return 0.0
    import calendar

    main, _, rest = text.partition(".")
    main = main.rstrip("Z")
    secs = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    frac = rest.rstrip("Z")
    return secs + (float("0." + frac) if frac.isdigit() else 0.0)


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
