"""PAX time records: exact nanoseconds both ways (tarfile's float would round them)."""

from __future__ import annotations

import io
import tarfile

import pytest

from orlop.archive.paxtime import parse_pax_time, pax_mtime, pax_time


@pytest.mark.parametrize(("ns", "text"), [
    (1_600_000_000_123_456_789, "1600000000.123456789"),
    (1_600_000_000_000_000_001, "1600000000.000000001"),
    (1_700_000_000_000_000_000, "1700000000"),
    (0, "0"),
])
def test_pax_time_round_trips_exactly(ns: int, text: str) -> None:
    assert pax_time(ns) == text
    assert parse_pax_time(text) == ns


def test_pax_mtime_only_for_a_fraction_of_a_second() -> None:
    assert pax_mtime(1_700_000_000_000_000_000) == {}
    assert pax_mtime(1_700_000_000_500_000_000) == {"mtime": "1700000000.500000000"}


@pytest.mark.parametrize(("text", "ns"), [
    ("12.5", 12_500_000_000), ("12.", 12_000_000_000), (".5", 500_000_000),
    ("-1.5", -1_500_000_000), ("1.1234567891", 1_123_456_789),
    ("-0.0000000001", -1), ("+3", 3_000_000_000),
])
def test_parse_pax_time_forms(text: str, ns: int) -> None:
    assert parse_pax_time(text) == ns


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "1e9", "1.-5", "nan"])
def test_parse_pax_time_garbage_is_none(text: str) -> None:
    assert parse_pax_time(text) is None


def test_tarfile_keeps_the_record_digits_that_its_float_loses() -> None:
    ti = tarfile.TarInfo("f")
    ti.pax_headers = pax_mtime(1_600_000_000_123_456_789)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        tf.addfile(ti, io.BytesIO(b""))
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tf:
        member = tf.getmembers()[0]
    assert int(member.mtime * 1e9) != 1_600_000_000_123_456_789
    assert parse_pax_time(member.pax_headers["mtime"]) == 1_600_000_000_123_456_789
