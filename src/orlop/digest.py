"""sha256 for the short commands, without loading OpenSSL.

``hashlib`` loads ``_hashlib`` (OpenSSL's libcrypto) at import: ~2.5 ms here, paid by
every ``exec`` (the seccomp program's cache key) and ``run`` (the network's bridge
name) for one digest of a few hundred bytes.  CPython's own implementation of the same
function (``_sha256`` up to 3.11, ``_sha2`` from 3.12) is a built-in module that costs
nothing to import; ``hashlib`` stays the fallback on an interpreter without it.  Bulk
hashing (layers, archives) keeps ``hashlib``: OpenSSL's is the faster one there.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def _constructor() -> Callable[[bytes], Any]:
    for name in ("_sha256", "_sha2"):
        try:
            fn: Callable[[bytes], Any] = importlib.import_module(name).sha256
        except (ImportError, AttributeError):
            continue
        return fn
    import hashlib

    return hashlib.sha256


_SHA256 = _constructor()


def sha256_hex(data: bytes) -> str:
    """The hex sha256 of ``data`` (what ``hashlib.sha256(data).hexdigest()`` gives)."""
    return str(_SHA256(data).hexdigest())
