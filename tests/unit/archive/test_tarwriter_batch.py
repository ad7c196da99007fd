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
