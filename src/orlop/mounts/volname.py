"""Docker's rule for a volume's name, and Go's ``%q`` that its error texts use.

A module of its own, below mounts/validate.py (which re-exports it for ``-v`` parsing),
so that ``volume create`` checks a name without importing the mount validator and what
it imports (issue 17).  Nothing here does I/O.
"""

from __future__ import annotations

import re

from orlop.errors import InvalidVolumeNameError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Final

# moby daemon/names: RestrictedNameChars / RestrictedNamePattern (the local driver's rule).
VOLUME_NAME_CHARS: Final = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
# fullmatch, not match + "$": Python's "$" also matches before a trailing newline, which
# would let "ab\n" through (Go's "$" without (?m) only matches at the very end).
_VOLUME_NAME_RE: Final = re.compile(VOLUME_NAME_CHARS + "+")
# A volume name becomes a directory name under <root>/volumes: NAME_MAX on Linux.
MAX_VOLUME_NAME_BYTES: Final = 255


def go_quote(text: str) -> str:
    """Quote ``text`` as Go's ``%q`` does, because Docker's texts embed ``%q`` names."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch == " " or ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


_GO_ESCAPES: Final = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                      "\t": "\\t", "\v": "\\v"}


def validate_volume_name(name: str) -> None:
    """Check a local volume name as Docker's local driver does (``create NAME: ...``).

    Docker: 1 byte -> "too short"; otherwise ``^[a-zA-Z0-9][a-zA-Z0-9_.-]+$``.  Orlop
    also refuses names over 255 bytes (Docker fails later, at mkdir, with "file name too
    long") so nothing is half-created.

    Raises:
        InvalidVolumeNameError: with Docker's text, prefixed ``create NAME: ``.
    """
    size = len(name.encode("utf-8", "surrogateescape"))
    if size == 1:
        raise InvalidVolumeNameError(
            f"create {name}: volume name is too short, names should be at least two "
            "alphanumeric characters")
    if _VOLUME_NAME_RE.fullmatch(name) is None:
        raise InvalidVolumeNameError(
            f"create {name}: {go_quote(name)} includes invalid characters for a local volume "
            f"name, only {go_quote(VOLUME_NAME_CHARS)} are allowed. If you intended to pass a "
            "host directory, use absolute path")
    if size > MAX_VOLUME_NAME_BYTES:
        raise InvalidVolumeNameError(
            f"create {name}: volume name is too long ({size} bytes), names can be at most "
            f"{MAX_VOLUME_NAME_BYTES} bytes")
