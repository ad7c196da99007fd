"""Random ids and choices from ``os.urandom``, for the short commands.

``secrets`` is the same source (``os.urandom`` through ``random.SystemRandom``), but
importing it loads ``hmac`` with OpenSSL's ``_hashlib``, ``random`` and ``base64``: ~3 to
4 ms of a ``run`` here, for one container id, a random name and an anonymous volume's
name.  These three functions give what ``secrets`` does for them, unbiased.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import TypeVar

    T = TypeVar("T")


def token_hex(nbytes: int = 32) -> str:
    """``nbytes`` random bytes as hex (``secrets.token_hex``): container and volume ids."""
    return os.urandom(nbytes).hex()


def randbelow(n: int) -> int:
    """A uniform integer in ``[0, n)`` (``secrets.randbelow``): rejection sampling on the
    fewest bits that hold ``n - 1``, so no value is likelier than another."""
    if n <= 0:
        raise ValueError("randbelow() needs a positive upper bound")
    bits = (n - 1).bit_length()
    nbytes = (bits + 7) // 8
    while True:
        r = int.from_bytes(os.urandom(nbytes), "big") >> (nbytes * 8 - bits) if bits else 0
        if r < n:
            return r


def choice(seq: Sequence[T]) -> T:
    """A uniform element of a non-empty sequence (``secrets.choice``)."""
    return seq[randbelow(len(seq))]
