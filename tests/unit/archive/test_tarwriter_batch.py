"""TarWriter's batched path for small regular files (no lstat, header without TarInfo,
data read into one buffer) writes the bytes the general path writes, for every kind of
entry beside them and with every option."""

from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path

import pytest

from orlop.archive.tarwriter import _BATCH, TarWriter, TreeOptions


def _tree(root: Path) -> None:
    root.mkdir()
    for d in range(3):
        sub = root / f"d{d}" / "inner"
        sub.mkdir(parents=True)
        for i in range(40):  # ~3 MiB in all: several batches
            (sub / f"f{i:03d}").write_bytes(os.urandom((i * 7919) % 70000))
    (root / "empty").write_bytes(b"")
    (root / "exact").write_bytes(b"e" * (_BATCH - 1536))  # header + data fill a batch
    (root / "big").write_bytes(os.urandom(_BATCH + 12345))
    (root / "caf\u00e9").write_bytes(b"non-ascii name")
    (root / ("long" * 30)).write_bytes(b"long name")
    (root / "setuid").write_bytes(b"s")
    os.chmod(root / "setuid", 0o4755)
    (root / "whole").write_bytes(b"w")
    os.utime(root / "whole", ns=(1_700_000_000 * 10 ** 9, 1_700_000_000 * 10 ** 9))
    (root / "frac").write_bytes(b"f")
    os.utime(root / "frac", ns=(1, 1_700_000_000_123_456_789))
    (root / "owned").write_bytes(b"o")
    os.chown(root / "owned", 1234, 5678) if os.geteuid() == 0 else None
    (root / "linked").write_bytes(b"hard")
    os.link(root / "linked", root / "linked2")
    os.symlink("d0/inner/f001", root / "sym")
    os.mkfifo(root / "fifo")
    try:
        os.setxattr(root / "d1" / "inner" / "f005", "user.k", b"v")
    except OSError:
        pass
    with open(root / "sparse", "wb") as f:
        f.seek(1 << 20)
        f.write(b"end")


def _write(root: Path, out: Path, *, general: bool, hasher: bool, sparse: bool,
           opts: TreeOptions) -> tuple[bytes, str, int, int]:
    if general:  # a skip() that keeps everything sends every entry the general way
        opts = TreeOptions(owner=opts.owner, whole_seconds=opts.whole_seconds,
                           skip=lambda *_a: False)
    h = hashlib.sha256() if hasher else None
    dfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    ofd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        w = TarWriter(ofd, hasher=h, sparse=sparse)
        w.add_tree(dfd, "", opts)
        w.close()
    finally:
        os.close(ofd)
        os.close(dfd)
    data = out.read_bytes()
    assert w.size == len(data)
    return data, h.hexdigest() if h else "", w.stats.entries, w.stats.content_size


@pytest.mark.parametrize("hasher", [True, False])
@pytest.mark.parametrize("sparse", [True, False])
@pytest.mark.parametrize("opts", [TreeOptions(), TreeOptions(owner=(7, 8)),
                                  TreeOptions(whole_seconds=True)])
def test_batched_files_are_written_as_the_general_path_writes_them(
        tmp_path: Path, hasher: bool, sparse: bool, opts: TreeOptions) -> None:
    root = tmp_path / "tree"
    _tree(root)
    fast = _write(root, tmp_path / "fast.tar", general=False, hasher=hasher, sparse=sparse,
                  opts=opts)
    slow = _write(root, tmp_path / "slow.tar", general=True, hasher=hasher, sparse=sparse,
                  opts=opts)
    assert fast == slow
    with tarfile.open(tmp_path / "fast.tar") as tf:
        names = tf.getnames()
    assert "d2/inner/f039" in names and "big" in names and "linked2" in names


def test_a_writer_error_is_raised_in_the_walk_and_the_thread_ends(tmp_path: Path) -> None:
    """The batches are written by add_tree's writer thread: its error (here a pipe
    whose reader is gone) is raised where the walk is, and no thread is left behind."""
    import threading

    root = tmp_path / "tree"
    _tree(root)
    before = threading.active_count()
    r, w = os.pipe()
    os.close(r)
    dfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        writer = TarWriter(w, hasher=hashlib.sha256())
        with pytest.raises(BrokenPipeError):
            writer.add_tree(dfd, "")
    finally:
        os.close(dfd)
        os.close(w)
    assert threading.active_count() == before


def test_a_tree_into_a_pipe_reads_back(tmp_path: Path) -> None:
    """Through a pipe (the thread's writes are partial there) the stream is whole."""
    import threading

    root = tmp_path / "tree"
    _tree(root)
    r, w = os.pipe()
    chunks: list[bytes] = []

    def drain() -> None:
        while data := os.read(r, 1 << 16):
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    dfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        writer = TarWriter(w)
        writer.add_tree(dfd, "")
        writer.close()
    finally:
        os.close(dfd)
        os.close(w)
    reader.join()
    os.close(r)
    general = _write(root, tmp_path / "general.tar", general=True, hasher=False,
                     sparse=False, opts=TreeOptions())[0]
    assert b"".join(chunks) == general
