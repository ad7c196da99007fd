"""orlop.archive.tarread against ``tarfile.open(mode="r|")``: the same members (every
field), the same data and the same errors, on tarfile- and GNU tar-written archives and
on every truncation and many corruptions of them."""

from __future__ import annotations

import io
import os
import random
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from orlop.archive.streams import Readable
from orlop.archive.tarread import TarStream

_FIELDS = ("name", "mode", "uid", "gid", "size", "mtime", "chksum", "type", "linkname",
           "uname", "gname", "devmajor", "devminor", "offset", "offset_data", "pax_headers",
           "sparse")

Outcome = tuple[list[tuple[object, ...]], str | None]


def _read(members: Callable[[], tarfile.TarInfo | None],
          extract: Callable[[tarfile.TarInfo], Readable | None], chunk_size: int) -> Outcome:
    out: list[tuple[object, ...]] = []
    try:
        while True:
            m = members()
            if m is None:
                return out, None
            data = b""
            if m.isreg() or m.type not in tarfile.SUPPORTED_TYPES:
                f = extract(m)
                assert f is not None
                # Read as extract.py does, in chunks (700: across blocks).
                while chunk := f.read(chunk_size):
                    data += chunk
            out.append((*(getattr(m, k) for k in _FIELDS), data))
    except Exception as err:  # tarfile lets some through (ValueError on a cut sparse map)
        return out, f"{type(err).__name__}: {err}"


def _by_tarfile(raw: bytes, chunk_size: int = 1 << 16) -> Outcome:
    try:
        tf = tarfile.open(fileobj=io.BytesIO(raw), mode="r|")
    except tarfile.TarError as err:
        return [], f"{type(err).__name__}: {err}"
    with tf:
        return _read(tf.next, tf.extractfile, chunk_size)


def _by_tarread(raw: bytes, chunk_size: int = 1 << 16) -> Outcome:
    ts = TarStream(io.BytesIO(raw))
    return _read(ts.next, ts.extractfile, chunk_size)


def _info(name: str, **kw: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(info, k, v)
    return info


def _tarfile_archive(fmt: int) -> bytes:
    rnd = random.Random(fmt)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt,
                      encoding="utf-8", errors="surrogateescape") as tf:
        tf.addfile(_info("./", type=tarfile.DIRTYPE, mode=0o755))
        tf.addfile(_info("empty", size=0, mode=0o4755))
        for n in (1, 511, 512, 513, 5000):
            data = bytes(rnd.getrandbits(8) for _ in range(n))
            tf.addfile(_info(f"dir/f{n}", size=n, mode=0o640, uid=1000, gid=1000,
                             mtime=1700000000), io.BytesIO(data))
        if fmt != tarfile.USTAR_FORMAT:
            long = "/".join([f"segment-{i:02d}" for i in range(20)])
            tf.addfile(_info(long + "/file", size=3), io.BytesIO(b"abc"))
            tf.addfile(_info(long + "/dir", type=tarfile.DIRTYPE, mode=0o1777))
            tf.addfile(_info("sym", type=tarfile.SYMTYPE, linkname="../" * 60 + "etc/passwd"))
        tf.addfile(_info("prefix/" * 20 + "x", size=1), io.BytesIO(b"x"))
        tf.addfile(_info("prefix/" * 19 + "d", type=tarfile.DIRTYPE))
        tf.addfile(_info("shortsym", type=tarfile.SYMTYPE, linkname="/abs/target"))
        tf.addfile(_info("hard", type=tarfile.LNKTYPE, linkname="dir/f1"))
        tf.addfile(_info("fifo", type=tarfile.FIFOTYPE, mode=0o600))
        tf.addfile(_info("chr", type=tarfile.CHRTYPE, devmajor=1, devminor=3))
        tf.addfile(_info("blk", type=tarfile.BLKTYPE, devmajor=8, devminor=0))
        tf.addfile(_info("caf\u00e9-\u65e5\u672c", size=2, uname="us\u00e9r", gname="g"),
                   io.BytesIO(b"hi"))
        tf.addfile(_info("bad-\udcff-bytes", size=1), io.BytesIO(b"b"))
        if fmt != tarfile.USTAR_FORMAT:
            tf.addfile(_info("bigid", size=1, uid=2 ** 30, gid=2 ** 25,
                             mtime=-1 if fmt == tarfile.GNU_FORMAT else 1.5),
                       io.BytesIO(b"u"))
        if fmt == tarfile.PAX_FORMAT:
            x = _info("xattr", size=4, mtime=1700000000.123456789)
            x.pax_headers = {"SCHILY.xattr.user.k": "v\u00e9", "atime": "1.25",
                             "SCHILY.xattr.security.capability": "\x01\x02"}
            tf.addfile(x, io.BytesIO(b"data"))
            odd = _info("odd", size=2)
            odd.pax_headers = {"mtime": "not-a-number", "comment": "a=b\nc",
                               "path": "renamed//"}
            tf.addfile(odd, io.BytesIO(b"zz"))
        tf.addfile(_info("odd/type", type=b"Z", size=5), io.BytesIO(b"12345"))
        tf.addfile(_info("v7dir/", type=tarfile.AREGTYPE))
    return buf.getvalue()


def _gnu_tar_archives(tmp: Path) -> list[bytes]:
    tar = shutil.which("tar")
    if tar is None:
        return []
    src = tmp / "src"
    (src / "d" / ("long" * 40)).mkdir(parents=True)
    (src / "d" / ("long" * 40) / ("name" * 30)).write_bytes(b"payload" * 100)
    (src / "empty").write_bytes(b"")
    (src / "exec").write_bytes(b"#!/bin/sh\n")
    os.chmod(src / "exec", 0o2751)
    os.symlink("d/" + "long" * 40 + "/" + "name" * 30, src / ("l" * 120))
    os.link(src / "exec", src / ("hard" * 30))
    os.mkfifo(src / "fifo")
    with open(src / "sparse", "wb") as f:
        f.seek(3 << 20)
        f.write(b"end")
        f.seek(1 << 20)
        f.write(b"middle")
    out = []
    variants = [("gnu", []), ("gnu", ["--sparse"]), ("oldgnu", []), ("oldgnu", ["--sparse"]),
                ("posix", []), ("posix", ["--sparse"]),
                ("posix", ["--pax-option=globexthdr.name=g,mtime:=5"]),
                ("ustar", []), ("v7", [])]
    for fmt, extra in variants:
        dest = tmp / f"{fmt}{len(out)}.tar"
        names = {"ustar": ["empty", "exec", "fifo"], "v7": ["empty", "exec"]}.get(fmt, ["."])
        subprocess.run([tar, "cf", str(dest), f"--format={fmt}", *extra, "-C", str(src),
                        *names], check=True, capture_output=True)
        out.append(dest.read_bytes())
    return out


def _global(records: dict[str, str]) -> bytes:
    return tarfile.TarInfo.create_pax_global_header(records)


def _global_archives() -> list[bytes]:
    """PAX global headers (``g``) in front of and between members, as ``volume export``
    writes them (a leading one with a comment, a trailing one with a checksum and an
    mtime), and with the records tarfile applies to every later member."""
    def member(name: str, data: bytes = b"", **kw: object) -> bytes:
        info = _info(name, size=len(data), **kw)
        return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape") + data + \
            b"\0" * (-len(data) % 512)

    def pax_member(name: str, data: bytes, pax: dict[str, str]) -> bytes:
        return member(name, data, mtime=1700000000, pax_headers=pax)

    end = b"\0" * 1024
    body = (member("./", type=tarfile.DIRTYPE, mode=0o755)
            + pax_member("d/f", b"x" * 700, {"mtime": "1700000000.5"})
            + member("d/", type=tarfile.DIRTYPE) + member("g", b"plain", mode=0o600)
            + member("l", type=tarfile.SYMTYPE, linkname="d/f")
            + member("h", type=tarfile.LNKTYPE, linkname="g"))
    vol = _global({"comment": 'orlop-volume/1 {"name":"v"}'})
    out = [vol + body + _global({"comment": "orlop-volume-sum crc32:01234567",
                                 "mtime": "1700000000.25"})
           + member("./", type=tarfile.DIRTYPE) + end]
    for records in ({"uid": "7", "gid": "8", "uname": "u", "gname": "g"},
                    {"mtime": "12.5", "atime": "3"}, {"path": "renamed/"},
                    {"size": "3"}, {"uid": "bad"}, {"linkpath": "elsewhere"},
                    {"SCHILY.xattr.user.k": "v"}, {"hdrcharset": "BINARY"},
                    {"GNU.sparse.name": "sparse-name"}, {"GNU.sparse.size": "9"}):
        g = _global(records)
        out.append(g + body + end)
        out.append(member("first", b"1") + g + body + g + _global({"comment": "2"}) + body
                   + end)
    with_tarfile = io.BytesIO()
    with tarfile.open(fileobj=with_tarfile, mode="w", format=tarfile.PAX_FORMAT,
                      pax_headers={"comment": "global", "mtime": "5.5"}) as tf:
        tf.addfile(_info("a", size=1), io.BytesIO(b"a"))
        x = _info("b", size=2)
        x.pax_headers = {"comment": "own", "uid": "9"}
        tf.addfile(x, io.BytesIO(b"bb"))
    out.append(with_tarfile.getvalue())
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    archives = [_tarfile_archive(f) for f in (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT,
                                              tarfile.PAX_FORMAT)]
    archives += _global_archives()
    archives += _gnu_tar_archives(tmp_path_factory.mktemp("gnutar"))
    return archives


def test_same_members_and_data(corpus: list[bytes]) -> None:
    assert len(corpus) >= 3
    for raw in corpus:
        for chunk_size in (700, 1 << 20):
            expected = _by_tarfile(raw, chunk_size)
            assert expected[1] is None
            assert _by_tarread(raw, chunk_size) == expected


def test_same_on_every_truncation(corpus: list[bytes]) -> None:
    for raw in corpus:
        cuts = set(range(0, min(len(raw), 40 * 512), 512))
        cuts |= set(random.Random(len(raw)).sample(range(len(raw)), min(len(raw), 200)))
        for cut in sorted(cuts):
            assert _by_tarread(raw[:cut]) == _by_tarfile(raw[:cut]), cut


def test_same_on_corruptions(corpus: list[bytes]) -> None:
    """100 corruptions of each archive (the slow test below makes 1,000)."""
    _corruptions(corpus, 100)


@pytest.mark.slow
def test_same_on_many_corruptions(corpus: list[bytes]) -> None:
    _corruptions(corpus, 1000)


def _corruptions(corpus: list[bytes], count: int) -> None:
    rnd = random.Random(17)
    for raw in corpus:
        for _ in range(count):
            data = bytearray(raw)
            block = rnd.randrange(min(len(raw), 30 * 512) // 512) * 512
            field = rnd.choice([0, 100, 108, 124, 136, 148, 156, 157, 257, 345, 512, 520])
            pos = min(block + field + rnd.randrange(12), len(data) - 1)
            data[pos] = rnd.choice([0, 0x20, 0x30, 0x37, 0x38, 0x3D, 0x0A, 0x80, 0xFF,
                                    rnd.randrange(256)])
            raw2 = bytes(data)
            assert _by_tarread(raw2) == _by_tarfile(raw2), (block, field, pos)


@pytest.mark.parametrize("raw", [b"", b"\0" * 512, b"\0" * 10240, b"x" * 100, b"x" * 512,
                                 b"x" * 4096])
def test_same_on_degenerate_streams(raw: bytes) -> None:
    assert _by_tarread(raw) == _by_tarfile(raw)


def test_pax_records_parsed_as_tarfile() -> None:
    def pax(records: bytes) -> bytes:
        head = tarfile.TarInfo("././@PaxHeader")
        head.type = tarfile.XHDTYPE
        head.size = len(records)
        body = records + b"\0" * (-len(records) % 512)
        member = tarfile.TarInfo("f")
        member.size = 1
        return (head.tobuf(tarfile.USTAR_FORMAT) + body + member.tobuf(tarfile.USTAR_FORMAT)
                + b"x" + b"\0" * 511 + b"\0" * 1024)

    for records in (b"", b"11 path=a\n", b"12 path=\xff\xfe\n", b"0 path=a\n",
                    b"13 uid=12x34\n16 path=x\ny/z\n", b"9 =novalue\n", b"a path=b\n",
                    b"30 size=3\n", b"10 mtime=\n12 gid=0777\n", b"11 path=a\n" * 3,
                    b"18 linkpath=\xc3\xa9t\xc3\xa9\n", b"16 hdrcharset=BINARY\n11 path=\xe9\n"):
        raw = pax(records)
        assert _by_tarread(raw) == _by_tarfile(raw), records


def test_split_recording_reproduces_the_stream(tmp_path: Path) -> None:
    """The read-ahead stays within what orlop.images.tarsplit keeps behind its position:
    every payload is still recordable, and the stream comes back byte for byte."""
    import hashlib

    from orlop.archive.extract import extract_tar
    from orlop.images.tarsplit import SplitRecorder, reassemble

    rnd = random.Random(5)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for i in range(300):
            n = rnd.choice([0, 1, 511, 512, rnd.randrange(40000), rnd.randrange(200000)])
            info = _info(f"d{i % 7}/f{i}", size=n, mtime=1700000000.5)
            tf.addfile(info, io.BytesIO(rnd.randbytes(n)))
    raw = buf.getvalue()
    (tmp_path / "layer").mkdir()
    layer = os.open(tmp_path / "layer", os.O_RDONLY | os.O_DIRECTORY)
    split_fd = os.open(tmp_path / "split", os.O_RDWR | os.O_CREAT, 0o600)
    out_fd = os.open(tmp_path / "out", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        rec = SplitRecorder(split_fd)
        extract_tar(io.BytesIO(raw), layer, keep_owner=False, split=rec)
        assert rec.valid
        rec.finish()
        os.lseek(split_fd, 0, os.SEEK_SET)
        reassemble(split_fd, layer, out_fd, hashlib.sha256())
    finally:
        for fd in (layer, split_fd, out_fd):
            os.close(fd)
    assert (tmp_path / "out").read_bytes() == raw


def test_byte_sum_is_sum() -> None:
    """The header checksum's sum of bytes, by Adler-32 halves: every byte value, the
    largest sums, other lengths."""
    from orlop.archive.tarread import _byte_sum

    blocks = [bytes(512), b"\xff" * 512, bytes(range(256)) * 2, b"\xff" * 256 + bytes(256),
              b"", b"\x01" * 100, b"\xff" * 1024]
    blocks += [os.urandom(512) for _ in range(200)]
    for block in blocks:
        assert _byte_sum(block) == sum(block)
