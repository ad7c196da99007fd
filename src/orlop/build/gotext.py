"""The classic builder's history texts, formatted as moby's Go code formats them.

A step that changes only the config records its instruction in the image's history
(``/bin/sh -c #(nop)  CMD ["sh" "-c" "x"]``), and moby writes some of them with Go's
``fmt`` verbs (builder/dockerfile/dispatchers.go): ``CMD %q`` and ``ENTRYPOINT %q`` of a
``[]string`` (quoted items, no commas), ``VOLUME %v`` and ``SHELL %v`` (bare items),
``HEALTHCHECK %q`` of the ``*HealthConfig`` (``&{["CMD" "true"] "5s" "0s" "0s"
'\\x03'}``: the durations by their ``String()``, the retries as a quoted rune).  The
same texts here make ``docker history`` of an Orlop build read as dockerd 20.10's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from orlop.mounts.validate import go_quote

_SECOND = 1_000_000_000


def go_list(items: Sequence[str] | None) -> str:
    """Go's ``%v`` of a ``[]string``: ``[a b]``."""
    return "[" + " ".join(items or []) + "]"


def go_quote_list(items: Sequence[str] | None) -> str:
    """Go's ``%q`` of a ``[]string``: ``["a" "b c"]``."""
    return "[" + " ".join(go_quote(i) for i in items or []) + "]"


def _fraction(value: int, digits: int) -> str:
    whole, frac = divmod(value, 10 ** digits)
    return f"{whole}.{frac:0{digits}d}".rstrip("0") if frac else str(whole)


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String``: ``0s``, ``1.5s``, ``1m30s``, ``1h0m0s``, ``500ms``."""
    if ns == 0:
        return "0s"
    sign, u = ("-" if ns < 0 else ""), abs(ns)
    if u < _SECOND:
        if u < 1_000:
            return f"{sign}{u}ns"
        if u < 1_000_000:
            return f"{sign}{_fraction(u, 3)}µs"
        return f"{sign}{_fraction(u, 6)}ms"
    text = _fraction(u % (60 * _SECOND), 9) + "s"
    minutes = u // (60 * _SECOND)
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes >= 60:
            text = f"{minutes // 60}h{text}"
    return sign + text


def go_quote_rune(value: int) -> str:
    """Go's ``%q`` of an integer: the rune it names, quoted (``'\\x00'``, ``'A'``)."""
    ch = chr(value) if 0 <= value <= 0x10FFFF and not 0xD800 <= value <= 0xDFFF \
        else "\ufffd"
    if ch == "'":
        return "'\\''"
    quoted = go_quote(ch)[1:-1]
    return "'" + ('"' if quoted == '\\"' else quoted) + "'"


def healthcheck_text(hc: Mapping[str, Any]) -> str:
    """``%q`` of moby 20.10's ``*HealthConfig`` (Test, Interval, Timeout, StartPeriod,
    Retries); with a start interval (Docker 25+'s field, before Retries) that too."""
    keys = ["Interval", "Timeout", "StartPeriod"]
    if hc.get("StartInterval"):
        keys.append("StartInterval")
    durations = " ".join(go_quote(go_duration(int(hc.get(k) or 0))) for k in keys)
    return (f"&{{{go_quote_list(hc.get('Test'))} {durations} "
            f"{go_quote_rune(int(hc.get('Retries') or 0))}}}")


__all__ = ["go_duration", "go_list", "go_quote_list", "go_quote_rune", "healthcheck_text"]
