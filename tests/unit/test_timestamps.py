"""orlop/timestamps.py: Docker's "now" without datetime, digit for digit datetime's."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pytest

from orlop import timestamps


@pytest.mark.parametrize(("digits", "pattern"), [
    (9, r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"),
    (6, r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"),
    (0, r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"),
])
def test_shape(digits: int, pattern: str) -> None:
    assert re.fullmatch(pattern, timestamps.now_rfc3339(digits))


@pytest.mark.parametrize("ns", [0, 1_700_000_000_123_456_789, 951_782_400_999_999_999,
                                4_102_444_799_000_000_001])
def test_the_same_string_as_datetime(monkeypatch: pytest.MonkeyPatch, ns: int) -> None:
    """What images/, network/ and volumes/ formatted with datetime before, for the same
    instant (a leap day, the epoch, the last second of 2099)."""
    monkeypatch.setattr(time, "time_ns", lambda: ns)
    secs, frac = divmod(ns, 1_000_000_000)
    dt = datetime.fromtimestamp(secs, UTC).replace(microsecond=frac // 1000)
    assert timestamps.now_rfc3339() == dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"
    assert timestamps.now_rfc3339(6) == dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert timestamps.now_rfc3339(0) == dt.strftime("%Y-%m-%dT%H:%M:%SZ")
