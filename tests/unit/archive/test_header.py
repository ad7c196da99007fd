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
