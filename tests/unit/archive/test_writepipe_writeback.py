"""WritePipe with ``writeback`` starts the write-out of a regular file as it writes it
(every WRITEBACK_EVERY bytes, contiguous ranges from where the file was), never of a
pipe nor unasked, and writes the same bytes whether the hint works or not."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from orlop.archive import writepipe
from orlop.archive.writepipe import WRITEBACK_EVERY, WritePipe

_SIZE = 1 << 20


def _write(fd: int, chunks: int, writeback: bool = True) -> bytes:
    pipe = WritePipe(fd, None, _SIZE, writeback=writeback)
    out = []
    try:
        for i in range(chunks):
            buf = pipe.take()
            data = bytes([i % 251]) * _SIZE
            buf[:] = data
            out.append(data)
            pipe.submit(buf, _SIZE)
        pipe.drain()
    finally:
        pipe.close()
    return b"".join(out)


def test_file_ranges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []
    real = writepipe.start_writeback

    def record(fd: int, offset: int, nbytes: int) -> None:
        calls.append((offset, nbytes))
        real(fd, offset, nbytes)
    monkeypatch.setattr(writepipe, "start_writeback", record)
    path = tmp_path / "out"
    with open(path, "wb") as f:
        f.write(b"x" * 1000)  # the pipe starts at the file's offset
        f.flush()
        chunks = 3 * WRITEBACK_EVERY // _SIZE + 2
        data = _write(f.fileno(), chunks)
    assert path.read_bytes() == b"x" * 1000 + data
    assert len(calls) == 3
    at = 1000
    for offset, nbytes in calls:
        assert offset == at and nbytes == WRITEBACK_EVERY
        at += nbytes


def test_refused_once_then_not_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def refuse(fd: int, offset: int, nbytes: int) -> None:
        calls.append(offset)
        raise OSError(22, "Invalid argument")
    monkeypatch.setattr(writepipe, "start_writeback", refuse)
    path = tmp_path / "out"
    with open(path, "wb") as f:
        data = _write(f.fileno(), 3 * WRITEBACK_EVERY // _SIZE)
    assert path.read_bytes() == data
    assert calls == [0]


def test_pipe_never(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(writepipe, "start_writeback", lambda *a: calls.append(a))
    r, w = os.pipe()
    got = bytearray()

    def drain() -> None:
        while chunk := os.read(r, 1 << 16):
            got.extend(chunk)
    reader = threading.Thread(target=drain)
    reader.start()
    try:
        data = _write(w, 2 * WRITEBACK_EVERY // _SIZE + 1)
    finally:
        os.close(w)
        reader.join()
        os.close(r)
    assert bytes(got) == data
    assert calls == []


def test_not_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(writepipe, "start_writeback", lambda *a: calls.append(a))
    path = tmp_path / "out"
    with open(path, "wb") as f:
        data = _write(f.fileno(), 2 * WRITEBACK_EVERY // _SIZE + 1, writeback=False)
    assert path.read_bytes() == data
    assert calls == []
