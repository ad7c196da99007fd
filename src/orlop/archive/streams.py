"""The stream types shared by every tar reader and writer (images, volumes, cp)."""

from __future__ import annotations

from typing import Protocol


class Readable(Protocol):
    """What a tar reader consumes: a file, a socket's reader, a decompressor."""

    def read(self, size: int = -1, /) -> bytes: ...


class Hasher(Protocol):
    """What sees every byte of a stream: hashlib's objects, or a CRC-32 with their
    ``update``."""

    def update(self, data: bytes | memoryview, /) -> None: ...


def read_exact(stream: Readable, n: int) -> bytes:
    """``n`` bytes of ``stream``, or fewer only at its end (a read may return less)."""
    out = b""
    while len(out) < n:
        chunk = stream.read(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


class Prefixed:
    """A stream with bytes already read (to sniff its format) put back in front."""

    def __init__(self, head: bytes, rest: Readable) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0:
                data, self._head = self._head + self._rest.read(), b""
                return data
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._rest.read(size)


__all__ = ["Hasher", "Prefixed", "Readable", "read_exact"]
