"""extract_tar(threaded=True) (orlop.archive.extractpipe, what ``volume import`` uses):
the same tree and the same errors as on one thread.  The hostile-archive suite
(tests/unit/images/test_image_archive.py) and the parent-cache suite run again here
with the threaded extraction as the default; then what only the two threads have: a
member's data in several pieces, errors of either thread, in the archive's order."""

from __future__ import annotations

import importlib.util
import io
import os
import sys
import tarfile
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from orlop.archive import extractpipe
from orlop.archive.extract import extract_tar
from orlop.errors import InvalidArchiveError

_UNIT = Path(__file__).resolve().parents[1]


def _load(rel: str) -> ModuleType:
    """A copy of another test module (test files are not a package here)."""
    path = _UNIT / rel
    spec = importlib.util.spec_from_file_location(f"_threaded_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


for _module in (_load("images/test_image_archive.py"),
                _load("archive/test_extract_parent_cache.py")):
    for _name, _obj in vars(_module).items():
        if _name.startswith("test_") or _name in ("box", "dest"):
            globals()[_name] = _obj


@pytest.fixture(autouse=True)
def _threaded(monkeypatch: pytest.MonkeyPatch) -> None:
    assert extract_tar.__kwdefaults__ is not None
    monkeypatch.setitem(extract_tar.__kwdefaults__, "threaded", True)


def _archive(*members: tuple[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            if name == "y":
                info.pax_headers = {"comment": "a PAX header in front"}
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_large_members_in_pieces_and_many_members(dest: tuple[Path, int]) -> None:
    root, fd = dest
    big = os.urandom(3 * extractpipe._PIECE + 12345)
    members = [("a/big", big), ("a/empty", b"")] + [
        (f"b/f{i}", bytes([i]) * (i * 1000)) for i in range(3 * extractpipe._DEPTH)]
    stats = extract_tar(io.BytesIO(_archive(*members)), fd, keep_owner=False)
    assert stats.entries == len(members)
    for name, data in members:
        assert (root / name).read_bytes() == data


def test_truncated_data_is_the_members_error(dest: tuple[Path, int]) -> None:
    root, fd = dest
    data = _archive(("a", b"first"), ("b", os.urandom(2 * extractpipe._PIECE)))
    cut = data[:len(data) - 2048 - extractpipe._PIECE]  # inside b's data
    with pytest.raises(InvalidArchiveError, match='"b": truncated archive'):
        extract_tar(io.BytesIO(cut), fd, keep_owner=False)
    assert (root / "a").read_bytes() == b"first"


def test_an_earlier_members_error_wins_over_a_later_read_error(
        dest: tuple[Path, int]) -> None:
    root, fd = dest
    # "x/f" cannot be made (x is a file); the reader meanwhile fails at the header after.
    data = _archive(("x", b"file"), ("x/f", b"data"), ("y", b"y"), ("z", b"z"))
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        y = tf.getmember("y")
        assert y.offset_data - y.offset == 3 * 512  # a PAX header, its records, y's
        at = y.offset_data - 512
    bad = bytearray(data)
    bad[at + 148:at + 156] = b"0000001\0"  # y's checksum: a bad header after a PAX one
    with pytest.raises(InvalidArchiveError, match="invalid tar archive"):
        extract_tar(io.BytesIO(bytes(bad[y.offset:])), fd, keep_owner=False)
    with pytest.raises(InvalidArchiveError, match='"x/f"'):
        extract_tar(io.BytesIO(bytes(bad)), fd, keep_owner=False)
    assert sorted(os.listdir(root)) == ["x"]


def test_a_reader_error_comes_after_the_members_before_it(dest: tuple[Path, int]) -> None:
    root, fd = dest
    seen: list[str] = []

    def on_entry(member: tarfile.TarInfo) -> None:
        seen.append(member.name)
        if member.name == "c":
            raise InvalidArchiveError("limit reached")

    data = _archive(("a", b"a"), ("b", b"b"), ("c", b"c"), ("d", b"d"))
    switch = sys.getswitchinterval()
    with pytest.raises(InvalidArchiveError, match="limit reached"):
        extract_tar(io.BytesIO(data), fd, keep_owner=False, on_entry=on_entry)
    # Every member before the failing one was made, nothing after it, and the writer
    # had stopped when extract_tar raised.
    assert sorted(os.listdir(root)) == ["a", "b"]
    assert seen == ["a", "b", "c"]
    assert not [t for t in threading.enumerate() if t.name == "orlop-extract"]
    assert sys.getswitchinterval() == switch  # the process's own setting is back


def test_a_writer_error_stops_the_reader(dest: tuple[Path, int]) -> None:
    root, fd = dest
    read: list[str] = []

    def on_entry(member: tarfile.TarInfo) -> None:
        read.append(member.name)

    members: list[tuple[str, bytes]] = [("x", b"file"), ("x/f", b"data")]
    members += [(f"z{i}", b"z") for i in range(10 * extractpipe._DEPTH)]
    with pytest.raises(InvalidArchiveError, match='"x/f"'):
        extract_tar(io.BytesIO(_archive(*members)), fd, keep_owner=False, on_entry=on_entry)
    assert len(read) < len(members)  # the reader stopped early
    assert sorted(os.listdir(root)) == ["x"]


def test_not_with_a_split_recording(dest: tuple[Path, int]) -> None:
    """A tarsplit recording hears of a payload before its bytes: one thread then."""
    root, fd = dest
    calls: list[Any] = []

    class Sink:
        valid = True

        def feed(self, data: bytes) -> None:
            calls.append(("feed", len(data)))

        def payload(self, start: int, size: int, path: str) -> None:
            calls.append(("payload", path))

    extract_tar(io.BytesIO(_archive(("f", b"12345"))), fd, keep_owner=False, split=Sink())
    assert ("payload", "f") in calls
    assert (root / "f").read_bytes() == b"12345"


def test_after_a_writer_error_a_large_member_is_not_read_to_its_end(
        dest: tuple[Path, int]) -> None:
    root, fd = dest
    size = 3 * extractpipe._DEPTH * extractpipe._PIECE
    data = _archive(("x", b"file"), ("x/f", b"data"), ("big", b"\1" * size))

    class Counting(io.BytesIO):
        taken = 0

        def read(self, n: int | None = -1, /) -> bytes:
            out = super().read(n)
            Counting.taken += len(out)
            return out

    with pytest.raises(InvalidArchiveError, match='"x/f"'):
        extract_tar(Counting(data), fd, keep_owner=False)
    # The reader is at most _DEPTH items ahead when the writer fails, then it stops.
    assert Counting.taken < (extractpipe._DEPTH + 4) * extractpipe._PIECE
    assert sorted(os.listdir(root)) == ["x"]
