"""extract_tar keeps the parent directory of consecutive regular files open (one
resolution per directory, not per file) and creates a file first, clearing what is in
the way only on EEXIST: the tree it writes must be the one it wrote before."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from orlop.archive.extract import extract_tar
from orlop.errors import InvalidArchiveError


def _tar(*members: tuple[str, bytes | str | None]) -> bytes:
    """(name, data) a file, (name, None) a directory, (name, "->target") a symlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tf.addfile(info)
            elif isinstance(data, str):
                info.type = tarfile.SYMTYPE
                info.linkname = data[2:]
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def dest(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    root = tmp_path / "dest"
    root.mkdir()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield root, fd
    finally:
        os.close(fd)


def test_files_of_many_directories(dest: tuple[Path, int]) -> None:
    root, fd = dest
    members = [(f"d{i % 3}/sub/f{i}", b"x" * i) for i in range(30)]
    extract_tar(io.BytesIO(_tar(*members)), fd, keep_owner=False)
    for name, data in members:
        assert (root / name).read_bytes() == data


def test_a_name_twice_keeps_the_second(dest: tuple[Path, int]) -> None:
    root, fd = dest
    extract_tar(io.BytesIO(_tar(("d/f", b"first"), ("d/f", b"second"), ("d/g", b"g"))),
                fd, keep_owner=False)
    assert (root / "d/f").read_bytes() == b"second"
    assert (root / "d/g").read_bytes() == b"g"


def test_a_file_replaces_a_directory_and_a_symlink(dest: tuple[Path, int]) -> None:
    root, fd = dest
    (root / "d" / "x").mkdir(parents=True)
    (root / "d" / "x" / "inner").write_bytes(b"old")
    os.symlink("/etc/passwd", root / "d" / "l")
    extract_tar(io.BytesIO(_tar(("d/a", b"a"), ("d/x", b"file"), ("d/l", b"not followed"))),
                fd, keep_owner=False)
    assert (root / "d/x").read_bytes() == b"file"
    assert not (root / "d/l").is_symlink()
    assert (root / "d/l").read_bytes() == b"not followed"


def test_a_removed_entry_on_the_parents_path_is_resolved_again(
        dest: tuple[Path, int]) -> None:
    """``a`` -> ``c/name/..`` reaches ``c`` while ``c/name`` is a directory; the file
    ``a/name`` replaces that directory, after which ``a`` no longer resolves: the next
    file under ``a`` is refused, not written through the fd kept from before."""
    root, fd = dest
    raw = _tar(("c", None), ("c/name", None), ("a", "->c/name/.."), ("a/x", b"x"),
               ("a/name", b"now a file"), ("a/y", b"y"))
    with pytest.raises(InvalidArchiveError, match="a/y"):
        extract_tar(io.BytesIO(raw), fd, keep_owner=False)
    assert (root / "c/x").read_bytes() == b"x"
    assert (root / "c/name").read_bytes() == b"now a file"
    assert not (root / "c/y").exists()
