"""A tar stream reader that gives ``tarfile``'s members without its stream machinery.

``tarfile.open(mode="r|")`` costs about 100 microseconds a member in ``volume import``
(issue 17): its ``_Stream`` copies the rest of its buffer on every read, each header is
checksummed twice through ``struct``, every member is kept in ``TarFile.members``, and
``extractfile`` builds a ``BufferedReader`` over a ``_FileInFile`` per file.  This reader
gives the same :class:`tarfile.TarInfo` objects (every field, ``pax_headers``,
``offset``/``offset_data``) and the same errors for the members an archive holds almost
always: ustar and GNU headers (octal or base-256 numbers), and a PAX extended header
(``x``) in front of one.  It hands every other header to ``tarfile``'s own code on the
same stream, byte for byte as ``tarfile`` would have read it: GNU long names and long
links (``L``, ``K``), GNU sparse files (``S``, and PAX headers with ``GNU.sparse``
records), global PAX headers (``g``) themselves and every member after one that holds
``GNU.sparse`` or ``hdrcharset`` records, Solaris ``X`` headers, PAX headers with
``hdrcharset`` or larger than 64 KiB.  The members after an ordinary global header (a
``volume export`` archive starts with one) are read here, the global records applied as
``tarfile`` applies them.  Sparse members are read back
through ``tarfile.ExFileObject``, which fills their holes.

What is kept from ``TarFile.next`` exactly (tests/unit/archive/test_tarread.py compares
both on a corpus): a bad first header is an error, a bad or short header after a member
ends the archive (``tarfile``'s reading, on which GNU tar agrees), a header after a PAX or
GNU long-name header that is bad is an error, and data that ends before the next header
is "unexpected end of data".  Python 3.11's ``tarfile`` is the reference; the private
names it is read through are looked up once below.
"""

from __future__ import annotations

import re
import struct
import tarfile
import zlib
from typing import cast

from orlop.archive.streams import Readable

_BLOCK = tarfile.BLOCKSIZE
# Bytes read from the stream at a time for headers and small files (tarfile: 10 KiB).
# The read-ahead stays below this, and orlop.images.tarsplit keeps the last 64 KiB it was
# fed so that a payload announced just after its header is still in reach: keep it below.
_FILL = 32 * 1024
_PAX_MAX = 64 * 1024  # PAX data read by this module; larger goes to tarfile
_ENCODING = tarfile.ENCODING
_ERRORS = "surrogateescape"  # tarfile.open's default for reading
_EOF_BLOCK = b"\0" * _BLOCK

# tarfile's header errors, not in typeshed's stubs: TarFile.next tells them apart.
_ERRS: dict[str, type[tarfile.HeaderError]] = {
    n: vars(tarfile)[n] for n in ("EmptyHeaderError", "TruncatedHeaderError", "EOFHeaderError",
                                  "InvalidHeaderError", "SubsequentHeaderError")}
_EmptyHeaderError = _ERRS["EmptyHeaderError"]
_TruncatedHeaderError = _ERRS["TruncatedHeaderError"]
_EOFHeaderError = _ERRS["EOFHeaderError"]
_InvalidHeaderError = _ERRS["InvalidHeaderError"]
_SubsequentHeaderError = _ERRS["SubsequentHeaderError"]

_DELEGATED = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.GNUTYPE_SPARSE,
              tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)
_REGULAR = tarfile.REGULAR_TYPES
_SUPPORTED = tarfile.SUPPORTED_TYPES
_GNU_TYPES = tarfile.GNU_TYPES
_PAX_FIELDS = tarfile.PAX_FIELDS
_PAX_NUMBER_FIELDS = tarfile.PAX_NUMBER_FIELDS
_SIGNED = struct.Struct("148b8x356b")
# mode, uid, gid, size, mtime and checksum as tarfile, GNU tar and Orlop write them
# (zero-padded octal digits, a NUL; the checksum's six digits, a NUL, a space): each is
# then what _nti gives, read without its per-field checks.
_PLAIN = re.compile(rb"[0-7]{7}\0[0-7]{7}\0[0-7]{7}\0[0-7]{11}\0[0-7]{11}\0[0-7]{6}\0 ")
_NO_DEVICE = (b"0000000\0" * 2, b"\0" * 16)  # devmajor and devminor both 0


def _nts(s: bytes) -> str:
    p = s.find(b"\0")
    if p != -1:
        s = s[:p]
    return s.decode(_ENCODING, _ERRORS)


def _nti(s: bytes) -> int:
    """tarfile.nti: an octal field, or GNU's base-256 (first byte 0o200 or 0o377)."""
    p = s.find(b"\0")
    digits = s if p == -1 else s[:p]
    if digits.isdigit():  # ASCII digits only: what tarfile's decode and strip leave alone
        try:
            return int(digits, 8)
        except ValueError:
            raise _InvalidHeaderError("invalid header") from None
    if s[0] in (0o200, 0o377):
        n = 0
        for i in range(len(s) - 1):
            n <<= 8
            n += s[i + 1]
        if s[0] == 0o377:
            n = -(256 ** (len(s) - 1) - n)
        return n
    try:
        return int(digits.decode("ascii", "strict").strip() or "0", 8)
    except ValueError:
        raise _InvalidHeaderError("invalid header") from None


def _block(count: int) -> int:
    return -(-count // _BLOCK) * _BLOCK


def _byte_sum(buf: bytes) -> int:
    """``sum(buf)`` of a header block, four times faster: Adler-32's first half is the
    sum of the bytes modulo 65521, which 256 bytes (at most 65,280) never reach."""
    if len(buf) != _BLOCK:
        return sum(buf)
    view = memoryview(buf)
    return (zlib.adler32(view[:256], 0) & 0xFFFF) + (zlib.adler32(view[256:], 0) & 0xFFFF)


def _check_sum(buf: bytes, chksum: int) -> None:
    """tarfile's header checksum test: unsigned bytes, or signed as some old tars."""
    unsigned = 256 + _byte_sum(buf) - sum(buf[148:156])
    if chksum != unsigned and chksum != 256 + sum(_SIGNED.unpack_from(buf)):
        raise _InvalidHeaderError("bad checksum")


def _frombuf(buf: bytes) -> tarfile.TarInfo:
    """``tarfile.TarInfo.frombuf(buf, ENCODING, "surrogateescape")`` for every type but
    GNU sparse (``S``, whose extra fields the caller leaves to tarfile)."""
    if len(buf) == 0:
        raise _EmptyHeaderError("empty header")
    if len(buf) != _BLOCK:
        raise _TruncatedHeaderError("truncated header")
    if buf == _EOF_BLOCK:
        raise _EOFHeaderError("end of file header")
    plain = _PLAIN.fullmatch(buf, 100, 156) is not None
    chksum = int(buf[148:154], 8) if plain else _nti(buf[148:156])
    _check_sum(buf, chksum)
    obj = tarfile.TarInfo()
    obj.name = _nts(buf[0:100])
    if plain:
        obj.mode = int(buf[100:107], 8)
        obj.uid = int(buf[108:115], 8)
        obj.gid = int(buf[116:123], 8)
        obj.size = int(buf[124:135], 8)
        obj.mtime = int(buf[136:147], 8)
    else:
        obj.mode = _nti(buf[100:108])
        obj.uid = _nti(buf[108:116])
        obj.gid = _nti(buf[116:124])
        obj.size = _nti(buf[124:136])
        obj.mtime = _nti(buf[136:148])
    obj.chksum = chksum
    obj.type = kind = buf[156:157]
    # An empty field (its first byte NUL) is "" without a call: most of them are.
    obj.linkname = _nts(buf[157:257]) if buf[157] else ""
    obj.uname = _nts(buf[265:297]) if buf[265] else ""
    obj.gname = _nts(buf[297:329]) if buf[297] else ""
    if buf[329:345] in _NO_DEVICE:
        obj.devmajor = obj.devminor = 0
    else:
        obj.devmajor = _nti(buf[329:337])
        obj.devminor = _nti(buf[337:345])
    prefix = _nts(buf[345:500]) if buf[345] else ""
    if kind == tarfile.AREGTYPE and obj.name.endswith("/"):
        obj.type = kind = tarfile.DIRTYPE
    if kind == tarfile.DIRTYPE:
        obj.name = obj.name.rstrip("/")
    if prefix and kind not in _GNU_TYPES:
        obj.name = prefix + "/" + obj.name
    return obj


def _apply_pax_info(info: tarfile.TarInfo, pax_headers: dict[str, str]) -> None:
    """tarfile.TarInfo._apply_pax_info for headers without ``GNU.sparse`` records."""
    for keyword, value in pax_headers.items():
        if keyword in _PAX_FIELDS:
            result: object = value
            if keyword in _PAX_NUMBER_FIELDS:
                try:
                    result = _PAX_NUMBER_FIELDS[keyword](value)
                except ValueError:
                    result = 0
            if keyword == "path":
                result = value.rstrip("/")
            setattr(info, keyword, result)
    info.pax_headers = pax_headers.copy()


def _odd(pax_headers: dict[str, str]) -> bool:
    """Global records that change how tarfile reads the members after them: sparse maps
    and names, and a header charset."""
    return any(k.startswith("GNU.sparse.") or k == "hdrcharset" for k in pax_headers)


def _decode_pax(value: bytes) -> str:
    try:
        return value.decode("utf-8", "strict")
    except UnicodeDecodeError:
        return value.decode("utf-8", _ERRORS)


class _Source:
    """Forward-only reads, ``tell`` and ``seek`` over the stream (what tarfile's
    ``_Stream`` gives its parser), with blocks put back for tarfile to read again."""

    def __init__(self, stream: Readable, fill: int = _FILL) -> None:
        self._stream = stream
        self._fill = fill
        self._buf = b""
        self._pos = 0  # next byte of _buf
        self._at = 0  # stream offset of _buf[_pos]

    def tell(self) -> int:
        return self._at

    def read(self, size: int) -> bytes:
        buf, pos = self._buf, self._pos
        end = pos + size
        if end <= len(buf):
            self._pos = end
            self._at += size
            return buf[pos:end]
        parts = [buf[pos:]] if pos < len(buf) else []
        have = len(buf) - pos
        self._buf, self._pos = b"", 0
        fill = self._fill
        while have < size:
            want = size - have
            chunk = self._stream.read(want if want >= fill else fill)
            if not chunk:
                break
            if len(chunk) > want:
                # The rest stays where it is (no copy of the read-ahead).
                self._buf, self._pos = chunk, want
                chunk = chunk[:want]
            parts.append(chunk)
            have += len(chunk)
        self._at += have
        return b"".join(parts)

    def view(self, size: int) -> bytes | memoryview:
        """``read(size)``, as a view of the read-ahead when it holds them (a member's
        data goes to ``pwrite`` without a copy)."""
        buf, pos = self._buf, self._pos
        end = pos + size
        if end <= len(buf):
            self._pos = end
            self._at += size
            return memoryview(buf)[pos:end]
        return self.read(size)

    def seek(self, pos: int) -> None:
        """Forward to ``pos`` (or the stream's end, before it)."""
        skip = pos - self._at
        if 0 < skip <= len(self._buf) - self._pos:  # within the read-ahead: no copy
            self._pos += skip
            self._at = pos
            return
        while self._at < pos:
            if not self.read(min(pos - self._at, 1 << 20)):
                break

    def unread(self, data: bytes) -> None:
        self._buf = data + self._buf[self._pos:]
        self._pos = 0
        self._at -= len(data)


class _Member:
    """A regular member's data (what ``extractfile`` gives), read straight from the
    stream; a short read is tarfile's ``ReadError("unexpected end of data")``."""

    def __init__(self, source: _Source, offset: int, size: int) -> None:
        self._source = source
        self._offset = offset
        self._left = size

    def read(self, size: int = -1, /) -> bytes:
        return bytes(self._take(self._left if size < 0 else size, False))

    def readview(self, size: int) -> bytes | memoryview:
        """``read``, as a view of the reader's buffer where it can (no copy of the
        data): what the extractor writes from."""
        return self._take(size, True)

    def _take(self, size: int, view: bool) -> bytes | memoryview:
        n = min(size, self._left)
        if n <= 0:
            return b""
        source = self._source
        if source.tell() != self._offset:
            source.seek(self._offset)
        data = source.view(n) if view else source.read(n)
        if len(data) != n:
            raise tarfile.ReadError("unexpected end of data")
        self._offset += n
        self._left -= n
        return data


class TarStream:
    """The members of a tar stream, one :meth:`next` at a time, as ``TarFile`` in
    ``r|`` mode gives them (see the module docstring)."""

    def __init__(self, stream: Readable, *, fill: int = _FILL) -> None:
        # ``fill``: bytes read from ``stream`` at a time for headers and small members;
        # larger than the default only when no tarsplit recording follows the reads.
        self.fileobj = _Source(stream, fill)  # the names tarfile's TarInfo code reads
        self.encoding = _ENCODING
        self.errors = _ERRORS
        self.offset = 0  # where the next header starts
        self.pax_headers: dict[str, str] = {}  # global ones
        # The global records hold something only tarfile's code applies (GNU.sparse,
        # hdrcharset): every header goes to it.
        self._odd_globals = False

    # --- tarfile.TarFile.next -------------------------------------------------

    def next(self) -> tarfile.TarInfo | None:
        """The next member, or None at the end; :class:`tarfile.ReadError` as ``next``."""
        src = self.fileobj
        if self.offset != src.tell():
            if self.offset == 0:
                return None
            src.seek(self.offset - 1)
            if not src.read(1):
                raise tarfile.ReadError("unexpected end of data")
        try:
            return self._fromtarfile()
        except _EOFHeaderError:
            return None
        except _InvalidHeaderError as e:
            if self.offset == 0:
                raise tarfile.ReadError(str(e)) from None
        except _EmptyHeaderError:
            if self.offset == 0:
                raise tarfile.ReadError("empty file") from None
        except _TruncatedHeaderError as e:
            if self.offset == 0:
                raise tarfile.ReadError(str(e)) from None
        except _SubsequentHeaderError as e:
            raise tarfile.ReadError(str(e)) from None
        except zlib.error as e:
            raise tarfile.ReadError(f"zlib error: {e}") from None
        return None

    def _fromtarfile(self, after_pax: bool = False) -> tarfile.TarInfo:
        src = self.fileobj
        buf = src.read(_BLOCK)
        kind = buf[156:157]
        if kind in _DELEGATED or self._odd_globals:
            return self._delegate(buf)
        if kind == tarfile.XHDTYPE and len(buf) == _BLOCK and \
                _PLAIN.fullmatch(buf, 100, 156) is not None:
            # The extended header's own fields: only its size is used, after the checks
            # _frombuf makes (its checksum; plain octal numbers cannot be invalid).
            _check_sum(buf, int(buf[148:154], 8))
            return self._proc_pax(int(buf[124:135], 8), src.tell() - _BLOCK, buf)
        obj = _frombuf(buf)
        obj.offset = src.tell() - _BLOCK
        if kind == tarfile.XHDTYPE:
            return self._proc_pax(obj.size, obj.offset, buf)
        # tarfile's _proc_builtin (no global PAX headers here: they are delegated)
        obj.offset_data = offset = src.tell()
        if obj.type in _REGULAR or obj.type not in _SUPPORTED:
            offset += _block(obj.size)
        self.offset = offset
        # After the offset, as tarfile: a global size moves nothing.  After a PAX header
        # _proc_pax applies the global records with its own over them, which sets every
        # field this would.
        if self.pax_headers and not after_pax:
            _apply_pax_info(obj, self.pax_headers)
        if obj.type == tarfile.DIRTYPE:
            obj.name = obj.name.rstrip("/")
        return obj

    def _delegate(self, buf: bytes) -> tarfile.TarInfo:
        """tarfile's own code for the header in ``buf`` (put back) and what follows."""
        self.fileobj.unread(buf)
        try:
            return tarfile.TarInfo.fromtarfile(cast(tarfile.TarFile, self))
        finally:
            # A global header (read by tarfile's code, here or after a long name) may
            # have changed the records every later member gets.
            self._odd_globals = _odd(self.pax_headers)

    def _proc_pax(self, size: int, offset: int, head: bytes) -> tarfile.TarInfo:
        """tarfile's _proc_pax for an extended header (at ``offset``, ``size`` bytes of
        records) without sparse or charset records."""
        src = self.fileobj
        if size > _PAX_MAX:
            return self._delegate(head)
        buf = src.read(_block(size))
        if b"hdrcharset=" in buf or b"GNU.sparse." in buf:
            return self._delegate(head + buf)
        # tarfile: the records of the global headers, then this header's over them.
        pax_headers = self.pax_headers.copy()
        pos = 0
        while True:
            # The record "%d %s=%s\n": tarfile's regex (\d+) ([^=]+)= at pos.
            sp = buf.find(b" ", pos)
            if sp <= pos or not buf[pos:sp].isdigit() or not buf[pos:sp].isascii():
                break
            eq = buf.find(b"=", sp + 1)
            if eq <= sp + 1:
                break
            length = int(buf[pos:sp])
            if length == 0:
                raise _InvalidHeaderError("invalid header")
            keyword = _decode_pax(buf[sp + 1:eq])
            # Names (_PAX_NAME_FIELDS) decode as the rest without hdrcharset=BINARY.
            pax_headers[keyword] = _decode_pax(buf[eq + 1:pos + length - 1])
            pos += length
        try:
            nxt = self._fromtarfile(after_pax=True)
        except tarfile.HeaderError as e:
            raise _SubsequentHeaderError(str(e)) from None
        _apply_pax_info(nxt, pax_headers)
        nxt.offset = offset
        if "size" in pax_headers:
            offset = nxt.offset_data
            if nxt.type in _REGULAR or nxt.type not in _SUPPORTED:
                offset += _block(nxt.size)
            self.offset = offset
        return nxt

    # --- tarfile.TarFile.extractfile ------------------------------------------

    def extractfile(self, member: tarfile.TarInfo) -> Readable | None:
        """The data of a regular member (or of an unknown type, read as one), else None."""
        if member.isreg() or member.type not in _SUPPORTED:
            if member.sparse is not None:
                return tarfile.ExFileObject(cast(tarfile.TarFile, self), member)
            return _Member(self.fileobj, member.offset_data, member.size)
        return None


__all__ = ["TarStream"]
