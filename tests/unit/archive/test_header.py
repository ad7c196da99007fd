"""archive/header.py writes exactly what tarfile's ``tobuf(PAX_FORMAT)`` writes."""

from __future__ import annotations

import random
import tarfile

import pytest

from orlop.archive.header import pax_header


def _info(rng: random.Random) -> tarfile.TarInfo:
    name = rng.choice(["a", "dir/file.txt", "x" * 100, "y" * 101, "é/ü", "d/" * 60,
                       "sub/f\udcff", "./rel", ""])
    info = tarfile.TarInfo(name)
    info.type = rng.choice([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.LNKTYPE,
                            tarfile.SYMTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE])
    info.mode = rng.choice([0o644, 0o755, 0o4755, 0o170777, 0])
    info.uid = rng.choice([0, 1000, 8 ** 7 - 1, 8 ** 7, 65534])
    info.gid = rng.choice([0, 100, 8 ** 7 + 5])
    info.size = rng.choice([0, 1, 511, 512, 1 << 20, 8 ** 11 - 1, 8 ** 11])
    info.mtime = rng.choice([0, 1_700_000_000, 8 ** 11, 1.5])
    info.linkname = rng.choice(["", "target", "t" * 101, "ä"])
    info.uname = rng.choice(["", "", "root"])
    info.gname = rng.choice(["", "", "wheel"])
    info.devmajor, info.devminor = 1, 3
    pax = rng.choice([{}, {"mtime": "1700000000.123456789"},
                      {"mtime": "1.5", "SCHILY.xattr.user.k": "v" * 300},
                      {"SCHILY.xattr.user.bin": "\udcff"}, {"path": "p" * 200},
                      {"comment": "x" * 1000}])
    info.pax_headers = dict(pax)
    return info


@pytest.mark.parametrize("seed", range(40))
def test_same_bytes_as_tarfile(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(100):
        info = _info(rng)
        try:
            want = info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        except ValueError:
            with pytest.raises(ValueError):
                pax_header(info)
            continue
        assert pax_header(info) == want, (info.name, info.type, info.pax_headers)


def test_fast_path_is_taken_for_a_plain_file() -> None:
    info = tarfile.TarInfo("data/f00001")
    info.size, info.mtime, info.mode = 65536, 1_700_000_000, 0o644
    info.pax_headers = {"mtime": "1700000000.5"}
    assert pax_header(info) == info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


@pytest.mark.parametrize("seed", range(10))
def test_file_header_is_pax_header(seed: int) -> None:
    """file_header (no TarInfo) gives pax_header's bytes for a regular file with its
    nanosecond mtime record, or None where it leaves the entry to pax_header."""
    from orlop.archive.header import file_header
    from orlop.archive.paxtime import pax_mtime

    rng = random.Random(seed)
    for _ in range(300):
        name = rng.choice(["a", "d000/f00001", "x" * 100, "y" * 101, "é", "./rel", ""])
        mode = rng.choice([0o644, 0o100755, 0o4755, 0])
        uid, gid = rng.choice([0, 1000, 8 ** 7 - 1, 8 ** 7]), rng.choice([0, 8 ** 7 + 5])
        size = rng.choice([0, 1, 512, 1 << 20, 8 ** 11 - 1, 8 ** 11])
        mtime_ns = rng.choice([0, 1, 999_999_999, 1_700_000_000 * 10 ** 9,
                               1_700_000_000_123_456_789, 5 * 10 ** 9 + 10 ** 8,
                               8 ** 11 * 10 ** 9, -1, -(10 ** 9)])
        whole = rng.random() < 0.2
        info = tarfile.TarInfo(name)
        info.mode, info.uid, info.gid, info.size = mode & 0o7777, uid, gid, size
        info.mtime = mtime_ns // 10 ** 9
        if not whole:
            info.pax_headers = pax_mtime(mtime_ns)
        got = file_header(name, mode, uid, gid, size, mtime_ns, whole)
        if got is not None:
            assert got == pax_header(info), (name, mode, uid, gid, size, mtime_ns, whole)
        else:
            assert not (name.isascii() and len(name) <= 100 and uid < 8 ** 7
                        and gid < 8 ** 7 and size < 8 ** 11
                        and 0 <= mtime_ns < 8 ** 11 * 10 ** 9)
