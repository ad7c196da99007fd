"""Tar headers without ``tarfile``'s general machinery, for the common entry.

``TarInfo.tobuf(PAX_FORMAT)`` checks and encodes every field through several layers of
helpers; writing a volume of 4,000 small files spent about half of its CPU time there
(issue 17).  :func:`pax_header` gives the same bytes for the entries a tree walk writes
almost always (ASCII names that fit the ustar fields, no device numbers, integer fields
in range, PAX records that are valid UTF-8) and falls back to ``tobuf`` for anything
else, so the output never differs from tarfile's (tests/unit/archive/test_header.py).
"""

from __future__ import annotations

import tarfile
from collections.abc import Mapping

_MAGIC = b"ustar\x0000"  # tarfile.POSIX_MAGIC
_TAIL = b"\0" * (32 + 32 + 8 + 8 + 155 + 12)  # uname, gname, devmajor, devminor, prefix
# (empty), then the block's last 12 bytes
# What the checksum counts of the fixed fields: the magic and version, and the checksum
# field itself as eight spaces.
_FIXED_SUM = sum(_MAGIC) + 8 * ord(" ")
_DEVICES = (tarfile.CHRTYPE, tarfile.BLKTYPE)
_MAX7 = 8 ** 7
_MAX11 = 8 ** 11


def _block(name: bytes, mode: int, uid: int, gid: int, size: int, mtime: int, kind: bytes,
           link: bytes) -> bytes:
    numbers = b"%07o\0%07o\0%07o\0%011o\0%011o\0" % (mode, uid, gid, size, mtime)
    # tarfile's checksum: the sum of the bytes with the field as spaces, written as six
    # octal digits, a NUL, and the field's last space left as it was.  Summed over the
    # fields that vary (the rest is zeros or _FIXED_SUM), not over the 512 bytes: half
    # the time of a file's header, which a tree walk makes for every file.
    check = sum(name) + sum(numbers) + kind[0] + sum(link) + _FIXED_SUM
    return b"".join((name.ljust(100, b"\0"), numbers, b"%06o\0 " % check, kind,
                     link.ljust(100, b"\0"), _MAGIC, _TAIL))


def _pax_records(pax: Mapping[str, str]) -> bytes | None:
    out = []
    for keyword, value in pax.items():
        try:
            k, v = keyword.encode("utf-8"), value.encode("utf-8")
        except UnicodeEncodeError:
            return None  # tarfile then writes hdrcharset=BINARY: its path
        n = len(k) + len(v) + 3
        p = 0
        while True:  # the record's length counts its own digits
            q = n + len(str(p))
            if q == p:
                break
            p = q
        out.append(b"%d %s=%s\n" % (p, k, v))
    return b"".join(out)


_NS = 1_000_000_000
_PAX_BLOCKS: dict[int, bytes] = {}  # the extended header's own block, by record length


def file_header(name: str, mode: int, uid: int, gid: int, size: int, mtime_ns: int,
                whole_seconds: bool = False) -> bytes | None:
    """:func:`pax_header` of a regular file with no PAX record but its ``mtime`` (the
    one :func:`orlop.archive.paxtime.pax_mtime` gives; none with ``whole_seconds``),
    without a ``TarInfo``: what a tree walk writes for almost every file.  None when
    the entry needs more (a non-ASCII or long name, a large id, size or time): build a
    ``TarInfo`` and call :func:`pax_header` then."""
    mtime, frac = divmod(mtime_ns, _NS)
    if not (name.isascii() and len(name) <= 100 and 0 <= uid < _MAX7 and 0 <= gid < _MAX7
            and 0 <= size < _MAX11 and 0 <= mtime < _MAX11):
        return None
    head = _block(name.encode("ascii"), mode & 0o7777, uid, gid, size, mtime,
                  tarfile.REGTYPE, b"")
    if whole_seconds or not frac:
        return head
    value = b"%d.%09d" % (mtime, frac)
    n = len(value) + 8  # "mtime", " ", "=", "\n" and the value; then the length's digits
    p = 0
    while True:
        q = n + len(str(p))
        if q == p:
            break
        p = q
    record = b"%d mtime=%s\n" % (p, value)
    pax = _PAX_BLOCKS.get(p)
    if pax is None:
        pax = _PAX_BLOCKS[p] = _block(b"././@PaxHeader", 0, 0, 0, p, 0, tarfile.XHDTYPE, b"")
    return b"".join((pax, record, b"\0" * (512 - p), head))


def pax_header(info: tarfile.TarInfo) -> bytes:
    """``info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")``, byte for byte."""
    kind = info.type
    name, link = info.name, info.linkname
    if kind == tarfile.DIRTYPE and not name.endswith("/"):
        name += "/"
    uid, gid, size, mtime = info.uid, info.gid, info.size, info.mtime
    if (type(kind) is not bytes or kind in _DEVICES or info.uname or info.gname
            or type(info.mode) is not int
            or not (name.isascii() and len(name) <= 100 and link.isascii() and len(link) <= 100)
            or type(uid) is not int or type(gid) is not int or type(size) is not int
            or type(mtime) is not int or not 0 <= uid < _MAX7 or not 0 <= gid < _MAX7
            or not 0 <= size < _MAX11 or not 0 <= mtime < _MAX11):
        return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    head = _block(name.encode("ascii"), info.mode & 0o7777, uid, gid, size, mtime, kind,
                  link.encode("ascii"))
    if not info.pax_headers:
        return head
    records = _pax_records(info.pax_headers)
    if records is None:
        return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    return b"".join((_block(b"././@PaxHeader", 0, 0, 0, len(records), 0, tarfile.XHDTYPE, b""),
                     records, b"\0" * (-len(records) % 512), head))
