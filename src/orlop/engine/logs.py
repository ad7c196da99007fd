"""Reading a container's json-file log (written by watch.py): `logs`, `logs -f`, `attach`."""

from __future__ import annotations

import json
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from orlop.engine.timefmt import parse_rfc3339
from orlop.errors import InvalidParameterError

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_size(text: str) -> int:
    """Docker's RAMInBytes: ``10m`` = 10 MiB; "" = 0 (no limit)."""
    if not text:
        return 0
    m = _SIZE.match(text.strip())
    if not m:
        raise InvalidParameterError(f"invalid size: '{text}'")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


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
    if "max-file" in out and int(out["max-file"]) > 1 and "max-size" not in out:
        raise InvalidParameterError("max-file can only be set when max-size is set")
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


def read_entries(path: Path, *, tail: int = -1, since: float = 0.0,
                 until: float = 0.0) -> list[Entry]:
    """Entries of the log, filtered by time, the last ``tail`` of them (-1 = all)."""
    keep: deque[Entry] | list[Entry] = deque(maxlen=tail) if tail >= 0 else []
    for f in log_files(path):
        try:
            fh = open(f, "rb")
        except FileNotFoundError:
            continue
        with fh:
            for line in fh:
                e = _parse(line)
                if e is None:
                    continue
                if since or until:
                    t = parse_rfc3339(e.time)
                    if (since and t < since) or (until and t > until):
                        continue
                keep.append(e)
    return list(keep)


def follow(path: Path, still_running: Callable[[], bool],
           poll: float = 0.05) -> Iterator[Entry]:
    """New entries appended after now (across rotations) until the container stops."""
    fh = None
    ino = -1
    buf = b""
    try:
        try:
            fh = open(path, "rb")
            fh.seek(0, os.SEEK_END)
            ino = os.fstat(fh.fileno()).st_ino
        except FileNotFoundError:
            fh = None
        while True:
            running = still_running()
            got = False
            if fh is not None:
                chunk = fh.read()
                if chunk:
                    got = True
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for line in lines:
                        e = _parse(line)
                        if e is not None:
                            yield e
            try:
                st = os.stat(path)
                if st.st_ino != ino:  # rotated: the rest of the old file was read above
                    if fh is not None:
                        fh.close()
                    fh = open(path, "rb")
                    ino = os.fstat(fh.fileno()).st_ino
                    buf = b""
                    continue
                if fh is not None and st.st_size < fh.tell():  # truncated (max-file=1)
                    fh.seek(0)
                    continue
            except FileNotFoundError:
                pass
            if not running and not got:
                return
            if not got:
                time.sleep(poll)
    finally:
        if fh is not None:
            fh.close()


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
