"""Nanosecond file times in PAX ``mtime``/``atime`` records, exact both ways.

A ustar header holds whole seconds only; PAX records hold a decimal string, which
GNU tar, Go's archive/tar and Python's tarfile write and read.  Python's tarfile turns
the record into a ``float`` (``TarInfo.mtime``), and a float has no room for nine digits
after 1.6e9 seconds, so the string is parsed here instead, and written here from the
integer ``st_mtime_ns``: a copy through a tar keeps ``stat``'s nanoseconds.
"""

from __future__ import annotations

_NS = 1_000_000_000


def pax_time(ns: int) -> str:
    """``ns`` (since the epoch) as a PAX time record value with all nine digits."""
    secs, frac = divmod(ns, _NS)
    return f"{secs}.{frac:09d}" if frac else str(secs)


def pax_mtime(mtime_ns: int) -> dict[str, str]:
    """The PAX ``mtime`` record for a time with a fraction of a second, and none for a
    whole second: a whole-second tree serialises to the same bytes as before (a layer
    keeps its diff_id)."""
    return {"mtime": pax_time(mtime_ns)} if mtime_ns % _NS else {}


def parse_pax_time(text: str) -> int | None:
    """Nanoseconds of a PAX time value (``"1700000000.123456789"``, ``"-1.5"``, ``"12"``),
    or None if it is not one.  Digits past the ninth are cut (toward negative infinity,
    as the value is a point in time)."""
    text = text.strip()
    neg = text.startswith("-")
    whole, _, frac = text.lstrip("+-").partition(".")
    if not whole.isdigit() and not (whole == "" and frac.isdigit()):
        return None
    if frac and not frac.isdigit():
        return None
    digits = (frac + "000000000")[:9]
    ns = int(whole or "0") * _NS + int(digits)
    if neg:
        ns = -ns
        if frac[9:].strip("0"):
            ns -= 1
    return ns


__all__ = ["parse_pax_time", "pax_mtime", "pax_time"]
