"""CRC-32 (zlib's: gzip's and zip's polynomial and conventions, ``zlib.crc32``'s values),
computed by libdeflate when the system has it.

Why: ``volume export`` hashes every byte of its archive, and zlib 1.2's ``crc32``
(Debian 12's, the one Python's ``zlib`` links) runs at ~4.8 GB/s here: 56 ms of CPU for
the bench's 256 MiB volume, 105 ms on the writer thread (the bytes were filled on the
other core), the larger part of that thread's work.  libdeflate's ``libdeflate_crc32``
computes the same function with carry-less multiplication (PCLMULQDQ, VPCLMULQDQ) at
~25 GB/s (11 ms).  Debian ships it as ``libdeflate0`` (scripts/setup.sh installs it;
libtiff and others depend on it).  Without it, or on a call it cannot take, ``zlib.crc32``
gives the same value (tests/unit/archive/test_crc32.py compares them).

The call goes through ctypes, which releases the GIL for it, as ``zlib.crc32`` does for
large buffers: the writer thread hashes while the walk runs.
"""

from __future__ import annotations

import ctypes
import zlib
from collections.abc import Callable

# Below this a ctypes call (its argument conversion, ~1 us) costs more than zlib's loop.
_SMALL = 2048


def _load() -> None:
    """Look for the library once, at the first large buffer (not at import: not every
    module importing this one hashes, and dlopen takes ~1 ms)."""
    global _libdeflate_crc32, _looked
    try:
        lib = ctypes.CDLL("libdeflate.so.0")
        fn = lib.libdeflate_crc32
        fn.restype = ctypes.c_uint32
        fn.argtypes = [ctypes.c_uint32, ctypes.c_void_p, ctypes.c_size_t]
        _libdeflate_crc32 = fn
    except (OSError, AttributeError):
        pass  # zlib's then: the same values
    _looked = True  # last: a thread seeing it set sees the function too


_looked = False
_libdeflate_crc32: Callable[[int, int, int], int] | None = None  # after _load, if found
_addressof = ctypes.addressof
_cell = ctypes.c_char.from_buffer  # a view of the first byte: its address, no copy


def crc32(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    """``zlib.crc32(data, value)``, by libdeflate when it can."""
    n = len(data)
    if n < _SMALL:
        return zlib.crc32(data, value)
    if not _looked:
        _load()
    fast = _libdeflate_crc32
    if fast is None:
        return zlib.crc32(data, value)
    kind = type(data)
    if kind is bytes:
        # ctypes passes a bytes object's own buffer for a void pointer.
        return fast(value, data, n)  # type: ignore[arg-type]
    if kind is memoryview:
        view: memoryview = data  # type: ignore[assignment]
        if view.readonly or not view.c_contiguous or view.itemsize != 1:
            return zlib.crc32(data, value)
    elif kind is not bytearray:
        return zlib.crc32(data, value)
    # A writable byte buffer (the tar writer's batches): its address.  The c_char keeps
    # the buffer exported (it cannot be resized or freed) until after the call.
    cell = _cell(data)
    return fast(value, _addressof(cell), n)


class Crc32:
    """A running CRC-32 with hashlib's ``update``/``hexdigest`` (the archive's trailer
    records ``crc32:<8 hex digits>``)."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self.value = crc32(data, self.value)

    def hexdigest(self) -> str:
        return f"{self.value:08x}"


def accelerated() -> bool:
    """Whether libdeflate computes it here (the bench and the docs say which ran)."""
    if not _looked:
        _load()
    return _libdeflate_crc32 is not None


__all__ = ["Crc32", "accelerated", "crc32"]
