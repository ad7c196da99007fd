"""Reading a container's json-file log (written by watch.py): `logs`, `logs -f`, `attach`.

One :class:`LogCursor` reads the history and then follows, by file identity across
rotations, so a follow starts at the byte where the history read ended."""

from __future__ import annotations

import json
import os
import re
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from orlop.engine.timefmt import parse_rfc3339
from orlop.errors import InvalidParameterError, UnsupportedError

if TYPE_CHECKING:
    from orlop.engine.models import Container
from orlop.units import ram_in_bytes


def parse_size(text: str) -> int:
    """``max-size``: Docker's RAMInBytes (orlop/units.py), ``10m`` = 10 MiB; "" = 0 (no limit).

    Raises:
        InvalidParameterError: ``invalid size: '<text>'``.
    """
    if not text:
        return 0
    try:
        return ram_in_bytes(text.strip())
    except ValueError as err:
        raise InvalidParameterError(str(err)) from None


def check_readable(c: Container) -> None:
    """``logs`` of a ``--log-driver none`` container: dockerd's refusal (501)."""
    if c.host_config.log_config.get("Type") == "none":
        raise UnsupportedError("configured logging driver does not support reading")


def validate_log_opts(opts: dict[str, str]) -> dict[str, str]:
    """The json-file driver's options (Docker's texts for bad ones)."""
    out: dict[str, str] = {}
    for key, value in opts.items():
        if key == "max-size":
            if parse_size(value) <= 0:
                raise InvalidParameterError(f"invalid size: '{value}'")
        elif key == "max-file":
            if not value.isdigit() or int(value) < 1:
                raise InvalidParameterError("max-file cannot be less than 1")
        elif key not in ("compress", "labels", "env", "tag"):
            raise InvalidParameterError(f"unknown log opt '{key}' for json-file log driver")
        out[key] = value
    return out


@dataclass(frozen=True)
class Entry:
    stream: str
    data: bytes
    time: str


def log_files(path: Path) -> list[Path]:
    """The rotated files oldest first, then the live one."""
    rotated = []
    i = 1
    while True:
        p = path.with_name(f"{path.name}.{i}")
        if not p.exists():
            break
        rotated.append(p)
        i += 1
    return [*reversed(rotated), path]


def _parse(line: bytes) -> Entry | None:
    try:
        obj = json.loads(line)
        return Entry(str(obj["stream"]), str(obj["log"]).encode(), str(obj["time"]))
    except (ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class LogPosition:
    """Where a reader of the log is: a file (by identity, not by name: rotation renames
    it) and the byte offset of the first line not yet read."""

    dev: int
    ino: int
    offset: int


class LogCursor:
    """One reader of a json-file log, reading its files as a single stream.

    The writer (watch.py) appends whole lines to ``<log>``; past max-size it closes the
    file and renames ``<log>`` -> ``<log>.1`` -> ... -> ``<log>.N-1`` (the oldest goes),
    then creates a new ``<log>``; with max-file=1 it truncates ``<log>`` in place.  The
    cursor holds the file it reads open, so a rename never moves the ground under it:
    it reads that file to its end, and only once the file is no longer the live one
    (the writer has closed it, so its end is final) moves on to the file written next,
    found by identity among the current names.  History and follow are the same cursor,
    so ``logs -f`` neither loses nor repeats the lines written between the two.

    What the writer rotates out of existence before the cursor reaches it is lost (as
    with Docker's json-file): the cursor resumes at the oldest file still there.  So is
    what a max-file=1 truncation removes before it was read.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh: BinaryIO | None = None
        self.ident = (0, 0)
        self.buf = b""

    # --- opening -----------------------------------------------------------------------

    def _names(self) -> list[Path]:
        """``<log>``, ``<log>.1``, ...: newest first."""
        out = [self.path]
        i = 1
        while True:
            p = self.path.with_name(f"{self.path.name}.{i}")
            if not os.path.lexists(p):
                return out
            out.append(p)
            i += 1

    def _listing(self) -> list[tuple[Path, tuple[int, int]]]:
        """(name, identity) of the files, newest first; a name that vanished between the
        listing and its stat (a rotation under way) ends it."""
        out = []
        for name in self._names():
            try:
                st = os.stat(name)
            except FileNotFoundError:
                break
            out.append((name, (st.st_dev, st.st_ino)))
        return out

    def _open_as(self, name: Path, ident: tuple[int, int]) -> BinaryIO | None:
        """``name`` opened, if it is still the file ``ident`` (else None: it moved)."""
        try:
            fh = open(name, "rb")
        except FileNotFoundError:
            return None
        st = os.fstat(fh.fileno())
        if (st.st_dev, st.st_ino) != ident:
            fh.close()
            return None
        return fh

    def _switch(self, fh: BinaryIO) -> None:
        if self.fh is not None:
            self.fh.close()
        st = os.fstat(fh.fileno())
        self.fh, self.ident, self.buf = fh, (st.st_dev, st.st_ino), b""

    def open_oldest(self) -> bool:
        """Start at the first line of the oldest file; False if there is no log yet."""
        for _ in range(100):
            listing = self._listing()
            if not listing:
                return False
            name, ident = listing[-1]
            fh = self._open_as(name, ident)
            if fh is not None:
                self._switch(fh)
                return True
            time.sleep(0.001)  # rotated between the listing and the open: look again
        return False

    def open_end(self) -> bool:
        """Start after the last line written so far (``attach``, ``follow`` alone)."""
        try:
            fh = open(self.path, "rb")
        except FileNotFoundError:
            return False
        self._switch(fh)
        fh.seek(0, os.SEEK_END)
        return True

    def seek(self, pos: LogPosition) -> None:
        """Go back to ``pos`` (from :meth:`position`); if its file is gone, the oldest."""
        for name, ident in self._listing():
            if ident == (pos.dev, pos.ino):
                fh = self._open_as(name, ident)
                if fh is not None:
                    self._switch(fh)
                    fh.seek(pos.offset)
                    return
        self.open_oldest()

    def position(self) -> LogPosition | None:
        if self.fh is None:
            return None
        return LogPosition(self.ident[0], self.ident[1], self.fh.tell() - len(self.buf))

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    # --- reading -----------------------------------------------------------------------

    def _successor(self) -> BinaryIO | None:
        """The file written after ours, opened; None while ours is the live one.  Ours
        not among the names (rotated out, or a listing taken mid-rotation: looked at a
        few times): the oldest file, what was between is lost."""
        previous: list[tuple[Path, tuple[int, int]]] = []
        for attempt in range(50):
            listing = self._listing()
            idents = [ident for _name, ident in listing]
            if not idents or idents[0] == self.ident:
                # Live; or <log> itself missing: mid-rotation (the caller polls again)
                # or no log any more (the container was removed).
                return None
            if self.ident in idents:
                k = idents.index(self.ident)
                name, ident = listing[k - 1]
            elif attempt >= 10 and listing == previous:  # the same for 10 ms: final
                name, ident = listing[-1]
            else:
                previous = listing
                time.sleep(0.001)
                continue
            fh = self._open_as(name, ident)
            if fh is not None:
                return fh
            time.sleep(0.001)
        return None

    def _truncated(self) -> bool:
        """max-file=1: the live file was emptied under us; start it again."""
        assert self.fh is not None
        try:
            size = os.fstat(self.fh.fileno()).st_size
        except OSError:
            return False
        if size < self.fh.tell():
            self.fh.seek(0)
            self.buf = b""
            return True
        return False

    def read_lines(self) -> tuple[list[bytes], bool]:
        """The complete lines written since the last call (across rotations), and
        whether anything moved (bytes read or a file change).  Waits for nothing."""
        lines: list[bytes] = []
        moved = False
        if self.fh is None:
            if not self.open_oldest():
                return lines, moved
            moved = True
        assert self.fh is not None
        while True:
            chunk = self.fh.read()
            if chunk:
                moved = True
                self.buf += chunk
                *done, self.buf = self.buf.split(b"\n")
                lines += done
                continue
            try:
                live = os.stat(self.path)
                is_live = (live.st_dev, live.st_ino) == self.ident
            except FileNotFoundError:
                is_live = False  # mid-rotation: the next file is not there yet
            if is_live:
                if self._truncated():
                    moved = True
                    continue
                return lines, moved
            # Not the live file any more: the writer closed it before renaming it, so
            # what it holds is final.  Read what came since the last read, then go on.
            chunk = self.fh.read()
            if chunk:
                moved = True
                self.buf += chunk
                *done, self.buf = self.buf.split(b"\n")
                lines += done
            nxt = self._successor()
            if nxt is None:
                return lines, moved
            self._switch(nxt)
            moved = True

    def entries(self) -> Iterator[Entry]:
        """The entries of :meth:`read_lines`."""
        lines, _moved = self.read_lines()
        for line in lines:
            e = _parse(line)
            if e is not None:
                yield e


def _in_window(e: Entry, since: float, until: float) -> bool:
    if not since and not until:
        return True
    t = parse_rfc3339(e.time)
    return not ((since and t < since) or (until and t > until))


def read_log(path: Path, *, tail: int = -1, since: float = 0.0, until: float = 0.0
             ) -> tuple[list[Entry], LogCursor]:
    """The entries of the log, filtered by time, the last ``tail`` of them (-1 = all),
    and a cursor just after the last line read, to follow from (close it)."""
    keep: deque[Entry] | list[Entry] = deque(maxlen=tail) if tail >= 0 else []
    cursor = LogCursor(path)
    try:
        lines, _moved = cursor.read_lines()  # to the end of the live file, as of now
        for line in lines:
            e = _parse(line)
            if e is not None and _in_window(e, since, until):
                keep.append(e)
    except BaseException:
        cursor.close()
        raise
    return list(keep), cursor


def read_entries(path: Path, *, tail: int = -1, since: float = 0.0,
                 until: float = 0.0) -> list[Entry]:
    """Entries of the log, filtered by time, the last ``tail`` of them (-1 = all)."""
    entries, cursor = read_log(path, tail=tail, since=since, until=until)
    cursor.close()
    return entries


def follow(path: Path, still_running: Callable[[], bool], poll: float = 0.05, *,
           cursor: LogCursor | None = None) -> Iterator[Entry]:
    """New entries until the container stops: from ``cursor`` (where a history read
    ended: :func:`read_log`), else from now.  The cursor is closed at the end."""
    if cursor is None:
        cursor = LogCursor(path)
        cursor.open_end()
    try:
        while True:
            # Whether it runs is asked before reading: the writer has written its last
            # line before the container counts as stopped, so that read gets it.
            running = still_running()
            lines, moved = cursor.read_lines()
            for line in lines:
                e = _parse(line)
                if e is not None:
                    yield e
            if not running and not moved:
                return
            if not moved:
                time.sleep(poll)
    finally:
        cursor.close()


def stream_log(path: Path, *, tail: int = -1, since: float = 0.0, until: float = 0.0,
               follow_: bool = False, still_running: Callable[[], bool] | None = None,
               from_end: bool = False, poll: float = 0.05) -> Generator[Entry, None, None]:
    """``logs [-f]``: the past entries (filtered), then with ``follow_`` every entry
    written after them (none lost, none repeated) until ``still_running()`` is False or
    an entry is later than ``until``.  ``from_end``: no past entries (``attach``).  The
    one reader for the CLI and the server."""
    if from_end:
        entries: list[Entry] = []
        cursor = LogCursor(path)
        cursor.open_end()
    else:
        entries, cursor = read_log(path, tail=tail, since=since, until=until)
    try:
        yield from entries
        if not follow_ or still_running is None:
            return
        for e in follow(path, still_running, poll, cursor=cursor):
            if until and _after(e, until):
                return
            yield e
    finally:
        cursor.close()


def _after(e: Entry, until: float) -> bool:
    try:
        return parse_rfc3339(e.time) > until
    except ValueError:
        return False


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DUR_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
              "h": 3600.0}


def parse_since(text: str, now: float | None = None) -> float:
    """Docker's --since/--until: RFC 3339 time, unix timestamp, or a Go duration ago."""
    if not text:
        return 0.0
    now = time.time() if now is None else now
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    if re.fullmatch(r"(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+", text):
        return now - sum(float(v) * _DUR_UNITS[u] for v, u in _DURATION.findall(text))
    try:
        if "T" in text:
            return parse_rfc3339(text if text.endswith("Z") else text + "Z")
        return parse_rfc3339(text + "T00:00:00Z")
    except ValueError:
        raise InvalidParameterError(
            f'invalid value for "since": failed to parse value as time or duration: '
            f'"{text}"') from None
