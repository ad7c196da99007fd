"""archive/crc32.py gives zlib.crc32's values, by libdeflate or without it, for every
kind of buffer the tar writer hands it."""

from __future__ import annotations

import os
import zlib

import pytest

from orlop.archive import crc32 as mod
from orlop.archive.crc32 import Crc32, crc32

_DATA = os.urandom(300_000)


def _buffers() -> list[object]:
    ba = bytearray(_DATA)
    view = memoryview(ba)
    return [b"", b"x", _DATA[:100], _DATA, ba, view, view[7:250_007], view[:3000],
            memoryview(_DATA), memoryview(_DATA)[5:200_000], bytearray(),
            view.cast("I")]


@pytest.mark.parametrize("fast", [True, False])
def test_same_values_as_zlib(fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not fast:
        monkeypatch.setattr(mod, "_looked", True)
        monkeypatch.setattr(mod, "_libdeflate_crc32", None)
    for data in _buffers():
        for start in (0, 1, 0xFFFFFFFF, 0x12345678):
            assert crc32(data, start) == zlib.crc32(data, start)  # type: ignore[arg-type]


def test_running_value_in_pieces() -> None:
    h = Crc32()
    view = memoryview(bytearray(_DATA))
    for at in range(0, len(_DATA), 70_001):
        h.update(view[at:at + 70_001])
    assert h.value == zlib.crc32(_DATA)
    assert h.hexdigest() == f"{zlib.crc32(_DATA):08x}"
    assert Crc32().hexdigest() == "00000000"


def test_non_contiguous_refused_as_zlib_does() -> None:
    view = memoryview(bytearray(_DATA))[::2]
    with pytest.raises(BufferError):
        zlib.crc32(view)
    with pytest.raises(BufferError):
        crc32(view)


def test_accelerated_says_which() -> None:
    assert mod.accelerated() == (mod._libdeflate_crc32 is not None)
    assert mod._looked


def test_loaded_at_the_first_large_buffer_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mod, "_looked", False)
    monkeypatch.setattr(mod, "_libdeflate_crc32", None)
    assert crc32(b"short") == zlib.crc32(b"short")
    assert not mod._looked
    assert crc32(_DATA) == zlib.crc32(_DATA)
    assert mod._looked
