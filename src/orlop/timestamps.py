"""Docker's "now": RFC 3339 in UTC with nanosecond digits (``Created``, ``StartedAt``).

Below every layer (images/ and engine/ both stamp records), and made with ``time`` alone:
``datetime`` costs ~1.5 ms of a short command's start here for the same string.
"""

from __future__ import annotations

import time


def now_rfc3339(digits: int = 9) -> str:
    """``2024-05-01T12:00:00.123456789Z``, as Docker prints ``Created``; ``digits`` of the
    second's fraction: 9 (nanoseconds), 6 (a network's ``Created``, as Go's
    ``time.Now()`` there) or 0 (a volume's ``CreatedAt``, whole seconds)."""
    secs, frac = divmod(time.time_ns(), 1_000_000_000)
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if digits <= 0:
        return whole + "Z"
    return f"{whole}.{frac // 10 ** (9 - digits):0{digits}d}Z"
