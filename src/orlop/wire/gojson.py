"""JSON text as Go's ``encoding/json`` writes it, for byte-identical answers and output.

Python's ``json.dumps`` differs from Go's encoder in what a Docker client can see:
a space after every ``:`` and ``,``, non-ASCII escaped as ``\\u00e9`` (Go writes
UTF-8), ``\\b``/``\\f`` (Go before 1.22 writes ``\\u0008``/``\\u000c``), U+2028 and
U+2029 kept raw (Go always escapes them), a lone surrogate (a name that is not UTF-8,
kept by ``surrogateescape``) unencodable (Go writes U+FFFD for invalid UTF-8).

Seen here: dockerd 20.10 (Go 1.19) answers every JSON body with
``SetEscapeHTML(false)``: ``"é<>&\\u2028\\u0008\\u000c\\u0001\\n\\t/"``; the docker CLI
28 (Go >= 1.22) prints ``{{json .Labels}}`` as ``"é<>&\\u2028\\b\\f\\u0001\\n\\t/"``, and
``{{json .}}`` of a list row (a formatter context whose MarshalJSON is json.Marshal)
with ``<``, ``>``, ``&`` as ``\\u003c``, ``\\u003e``, ``\\u0026``.  Key order is the
caller's (Go sorts a map's keys, keeps a struct's field order).
"""

from __future__ import annotations

import json
import re
from typing import Any

# In json.dumps' output a backslash pair is consumed first, so "\\b" (an escaped
# backslash, then b) is never read as the escape \b.
_FIX = re.compile(r"\\\\|\\[bf]|[\u2028\u2029<>&]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ALWAYS = {"\\\\": "\\\\", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_OLD_BF = {"\\b": "\\u0008", "\\f": "\\u000c"}
_NEW_BF = {"\\b": "\\b", "\\f": "\\f"}
_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}
_RAW_HTML = {"<": "<", ">": ">", "&": "&"}
# (escape_html, short_bf) -> what each match of _FIX becomes
_TABLES = {(html, short): {**_ALWAYS, **(_NEW_BF if short else _OLD_BF),
                           **(_HTML if html else _RAW_HTML)}
           for html in (False, True) for short in (False, True)}


def marshal(obj: Any, *, escape_html: bool = False, short_bf: bool = False,
            sort_keys: bool = False) -> str:
    """``obj`` as compact JSON, escaped as Go's encoder escapes it.  ``escape_html``:
    json.Marshal's default (``<``, ``>``, ``&`` as ``\\u003c`` ...); ``short_bf``: Go
    1.22's ``\\b`` and ``\\f`` (else ``\\u0008``, ``\\u000c`` as Go 1.19)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)
    if _SURROGATE.search(text):
        text = _SURROGATE.sub("\ufffd", text)
    table = _TABLES[escape_html, short_bf]
    return _FIX.sub(lambda m: table[m.group(0)], text)


def encode(obj: Any, end: bytes = b"\n") -> bytes:
    """One JSON value as dockerd sends it (``json.NewEncoder(w).Encode``, HTML not
    escaped), UTF-8, followed by ``end``: ``\\n`` for a body or an event/stats line,
    ``\\r\\n`` for a jsonmessage progress line (moby's streamformatter)."""
    return marshal(obj).encode() + end


__all__ = ["encode", "marshal"]
