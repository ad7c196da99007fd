"""Go's ``strconv.ParseBool``, which Docker's CLI flags, ``--mount`` fields, security
options and the API's query parameters all use: one table of the words it accepts, so
every face of Orlop agrees on what "true" is."""

from __future__ import annotations

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_bool(text: str) -> bool | None:
    """True or False as Go reads ``text``, or None where Go returns an error."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


__all__ = ["parse_bool"]
