"""The engine's event log: Docker's ``/events`` records, appended by every Orlop process.

Why a JSON-lines file and not the SQLite store: events are written by the CLI, by
orlopd's helpers and by the detached monitors, often several at once, and on the
start path of every container.  A write transaction in the store costs an fsync
(``synchronous=FULL``, several milliseconds); one ``write(2)`` with ``O_APPEND`` costs
microseconds, is atomic with respect to the other appenders (each record is one write
of one line), and needs no schema.  Docker itself keeps events in memory only, so an
event lost to a power cut (nothing is fsynced) is no regression.

The log is ``<root>/events.log``; past ``max_bytes`` it is renamed to
``events.log.1`` (replacing the previous one) and a new file begun, so it never holds
more than twice that.  A writer takes an exclusive ``flock`` on the file it appends to,
checks it is still the current one and that the line fits, and appends: the check and
the write are one step for every process, so no file passes ``max_bytes`` and no record
is appended to a file after it stopped being current (an uncontended flock costs what a
shared one does; appends take microseconds, so writers barely wait).

Readers (``orlop events``, ``GET /events``) read ``events.log.1`` then ``events.log``
for the past (``since``), then follow the current file by polling (a :class:`Tail`),
switching to the new file when the log rotates.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from orlop.errors import InvalidParameterError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms)
if TYPE_CHECKING:
    from typing import Any

    from orlop.engine.models import Container
    from orlop.mounts.spec import MountPoint
    from orlop.network.model import Network

LOG_NAME = "events.log"
DEFAULT_MAX_BYTES = 4 << 20  # ~10,000 events per file; Docker keeps 256 in memory
POLL_INTERVAL = 0.1  # seconds between two looks at the file when following

Event = dict[str, "Any"]  # a string: typing is not imported at run time


def max_bytes() -> int:
    """The rotation size; ``ORLOP_EVENTS_LOG_SIZE`` (bytes) changes it (tests, small hosts)."""
    raw = os.environ.get("ORLOP_EVENTS_LOG_SIZE", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_BYTES


def make_event(type_: str, action: str, actor_id: str, attributes: Mapping[str, str],
               now_ns: int | None = None) -> Event:
    """One record as moby's ``events.Log`` builds it: the deprecated ``status``/``id``/
    ``from`` fields are filled for container events (and ``status``/``id`` for images),
    as Docker still sends them."""
    ns = time.time_ns() if now_ns is None else now_ns
    ev: Event = {}
    if type_ == "container":
        ev.update(status=action, id=actor_id, **({"from": attributes["image"]}
                                                  if attributes.get("image") else {}))
    elif type_ == "image":
        ev.update(status=action, id=actor_id)
    ev.update(Type=type_, Action=action,
              Actor={"ID": actor_id, "Attributes": dict(sorted(attributes.items()))},
              scope="local", time=ns // 1_000_000_000, timeNano=ns)
    return ev


def container_attributes(c: Container) -> dict[str, str]:
    """Docker's attributes of a container event: its labels, then image and name."""
    attrs = {str(k): str(v) for k, v in (c.config.labels or {}).items()}
    attrs["image"] = c.config.image or c.image_ref
    attrs["name"] = c.name
    return attrs


class EventLog:
    """The append side (one per Engine: the file stays open between events) and the
    entry point of the read side."""

    def __init__(self, root: Path) -> None:
        self.path = root / LOG_NAME
        self.old_path = root / (LOG_NAME + ".1")
        self._fd = -1
        self._ino = 0
        self._started: dict[str, float] = {}

    # --- writing -----------------------------------------------------------------

    def emit(self, type_: str, action: str, actor_id: str,
             attributes: Mapping[str, str] | None = None) -> Event:
        """Record one event.  Never raises: an operation that succeeded must not fail
        because its event could not be written (a full disk, a read-only root)."""
        ev = make_event(type_, action, actor_id, attributes or {})
        line = (json.dumps(ev, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
        with contextlib.suppress(OSError):
            self._append(line)
        return ev

    def container(self, c: Container, action: str,
                  extra: Mapping[str, str] | None = None) -> None:
        self.emit("container", action, c.id, {**container_attributes(c), **(extra or {})})

    def started(self, c: Container) -> None:
        """``start``; remembers the time for the ``die`` of a foreground run."""
        self._started[c.id] = time.time()
        self.container(c, "start")

    def died(self, c: Container, code: int, started_at: str = "") -> None:
        """``die`` with Docker's ``exitCode`` and ``execDuration`` (whole seconds)."""
        t0 = self._started.pop(c.id, 0.0)
        if not t0 and started_at:
            from orlop.engine.timefmt import parse_rfc3339

            t0 = parse_rfc3339(started_at)
        ran = int(time.time() - t0) if t0 else 0
        self.container(c, "die", {"exitCode": str(code), "execDuration": str(max(ran, 0))})

    def volume(self, name: str, action: str, attributes: Mapping[str, str]) -> None:
        self.emit("volume", action, name, attributes)

    def network(self, n: Network, action: str, container_id: str = "") -> None:
        """Docker's network events: create/destroy, connect/disconnect (with the
        container's id)."""
        attrs = {"name": n.name, "type": n.driver}
        if container_id:
            attrs["container"] = container_id
        self.emit("network", action, n.id, attrs)

    def volume_mounts(self, cid: str, points: Sequence[MountPoint]) -> None:
        """``mount`` of each volume mount point of a starting container (moby
        setupMounts): not binds, not tmpfs."""
        for mp in points:
            if mp.type == "volume" and mp.name:
                self.volume(mp.name, "mount", {
                    "container": cid, "destination": mp.destination,
                    "driver": mp.driver or "local", "propagation": mp.propagation or "",
                    "read/write": "true" if mp.rw else "false"})

    def volume_unmounts(self, cid: str, names: Sequence[str]) -> None:
        for name in dict.fromkeys(names):
            self.volume(name, "unmount", {"container": cid, "driver": "local"})

    def image(self, image_id: str, action: str, name: str,
              labels: Mapping[str, str] | None = None) -> None:
        self.emit("image", action, image_id, {**(labels or {}), "name": name})

    def _open(self) -> None:
        self.close()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._fd, self._ino = fd, os.fstat(fd).st_ino

    def _append(self, line: bytes) -> None:
        limit = max_bytes()
        for _ in range(4):  # another process rotating at the same moment: try again
            if self._fd < 0:
                self._open()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                st = os.stat(self.path)
                if st.st_ino == self._ino:
                    if st.st_size + len(line) <= limit or st.st_size == 0:
                        os.write(self._fd, line)
                        return
                    rotate = True
                else:
                    rotate = False
            except FileNotFoundError:
                rotate = False
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            if rotate:
                self._rotate(limit - len(line))
            self._open()
        os.write(self._fd, line)  # still racing after 4 tries: append anyway

    def _rotate(self, threshold: int) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            st = os.stat(self.path)
            if st.st_ino == self._ino and st.st_size > threshold:
                os.replace(self.path, self.old_path)
        except FileNotFoundError:
            pass
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1

    # --- reading -----------------------------------------------------------------

    def tail(self) -> Tail:
        return Tail(self.path, self.old_path)


class Tail:
    """Reads the log's past (``history``) and then what is appended to it (``poll``)."""

    def __init__(self, path: Path, old_path: Path) -> None:
        self.path = path
        self.old_path = old_path
        self._fd = -1
        self._ino = 0
        self._partial = b""

    def _open_current(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        self._fd, self._ino = fd, os.fstat(fd).st_ino
        self._partial = b""
        return True

    def history(self) -> list[Event]:
        """Every record in the log now (the rotated file first), oldest first."""
        self._open_current()
        chunks: list[bytes] = []
        try:
            old = os.open(self.old_path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            old = -1
        if old >= 0:
            try:
                # Rotated between our two opens: the "old" file is the one we hold.
                if os.fstat(old).st_ino != self._ino:
                    chunks.append(_read_to_end(old))
            finally:
                os.close(old)
        events = _parse(b"".join(chunks))
        events += self.poll()
        events.sort(key=lambda ev: int(ev.get("timeNano") or 0))
        return events

    def skip_history(self) -> None:
        """Follow from now on: position at the end of the current file."""
        if self._open_current():
            os.lseek(self._fd, 0, os.SEEK_END)

    def poll(self) -> list[Event]:
        """Complete records appended since the last call."""
        out: list[Event] = []
        if self._fd < 0 and not self._open_current():
            return out
        out += self._read_new()
        try:
            rotated = os.stat(self.path).st_ino != self._ino
        except FileNotFoundError:
            rotated = False
        if rotated:
            out += self._read_new()  # what was written before the rename
            os.close(self._fd)
            self._fd = -1
            if self._open_current():
                out += self._read_new()
        return out

    def _read_new(self) -> list[Event]:
        data = self._partial + _read_to_end(self._fd)
        end = data.rfind(b"\n") + 1
        self._partial = data[end:]
        return _parse(data[:end])

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _read_to_end(fd: int) -> bytes:
    parts: list[bytes] = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)


def _parse(data: bytes) -> list[Event]:
    out = []
    for line in data.splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue  # a record cut by a crash mid-write
        if isinstance(ev, dict):
            out.append(ev)
    return out


# --- filters (moby daemon/events/filter.go) -------------------------------------------

FILTER_KEYS = frozenset({"config", "container", "daemon", "event", "image", "label",
                         "network", "node", "plugin", "scope", "secret", "service", "type",
                         "volume"})
_FUZZY_EVENTS = ("health_status", "exec_create", "exec_start")


class EventFilter:
    """Docker's event filters: values of one key are alternatives, keys must all match;
    ``container``/``volume`` match the id or name by prefix, ``image`` the id or name
    with or without its tag, ``label`` every ``k`` or ``k=v`` given."""

    def __init__(self, filters: Mapping[str, Sequence[str]] | None = None) -> None:
        self.f = {k: list(v) for k, v in (filters or {}).items() if v}
        for key in self.f:
            if key not in FILTER_KEYS:
                raise InvalidParameterError(f"Invalid filter '{key}'")

    def _exact(self, key: str, value: str) -> bool:
        return key not in self.f or value in self.f[key]

    def _fuzzy(self, key: str, value: str) -> bool:
        return key not in self.f or any(value == v or value.startswith(v) for v in self.f[key])

    def _name(self, ev: Event, kind: str) -> bool:
        actor = ev.get("Actor") or {}
        attrs = actor.get("Attributes") or {}
        if kind not in self.f:
            return True
        return self._fuzzy(kind, str(actor.get("ID", ""))) or \
            self._fuzzy(kind, str(attrs.get("name", "")))

    def match(self, ev: Event) -> bool:
        actor = ev.get("Actor") or {}
        attrs: dict[str, str] = actor.get("Attributes") or {}
        action, type_ = str(ev.get("Action", "")), str(ev.get("Type", ""))
        if "event" in self.f:
            fuzzy = any(v in _FUZZY_EVENTS for v in self.f["event"])
            if not (self._fuzzy if fuzzy else self._exact)("event", action):
                return False
        if not self._exact("type", type_) or not self._exact("scope", str(ev.get("scope"))):
            return False
        if not self._name(ev, "container") or not self._name(ev, "volume"):
            return False
        for key in ("network", "plugin", "node", "service", "secret", "config", "daemon"):
            if not self._name(ev, key):
                return False
        if "image" in self.f:
            name = attrs.get("name" if type_ == "image" else "image", "")
            ident = str(actor.get("ID", ""))
            wanted = self.f["image"]
            if not any(x in wanted for x in (ident, name, _strip_tag(ident),
                                             _strip_tag(name))):
                return False
        for want in self.f.get("label", []):
            k, sep, v = want.partition("=")
            if k not in attrs or (sep and attrs[k] != v):
                return False
        return True


def _strip_tag(ref: str) -> str:
    """``busybox:latest`` -> ``busybox`` (not a registry port: ``host:5000/x``)."""
    name, sep, tag = ref.rpartition(":")
    return name if sep and "/" not in tag and name else ref


# --- times ----------------------------------------------------------------------------


def parse_timestamp(value: str) -> int:
    """The API's ``since``/``until`` (``SECONDS[.FRACTION]``, moby timetypes
    ParseTimestamps) in nanoseconds; 0 for an empty value."""
    if value == "":
        return 0
    secs, dot, frac = value.partition(".")
    try:
        s = int(secs)
        n = int(frac) if dot else 0
    except ValueError:
        raise InvalidParameterError(
            f'strconv.ParseInt: parsing "{frac if secs.lstrip("-").isdigit() else secs}": '
            "invalid syntax") from None
    if dot:
        n = int(n * 10 ** (9 - len(frac))) if len(frac) <= 9 else int(frac[:9])
    return s * 1_000_000_000 + n


def cli_timestamp(value: str, now: float | None = None) -> str:
    """What the docker CLI sends for ``--since``/``--until`` (timetypes.GetTimestamp): a
    Go duration (``10m``: that long ago), an RFC 3339 date or time (local time unless a
    zone is given), or a Unix timestamp passed as it is."""
    import datetime as dt
    import re

    ref = time.time() if now is None else now
    if value != "0":
        secs = _go_duration(value)
        if secs is not None:
            return str(int(ref - secs))
    zoned = any(ch in value for ch in "zZ+") or value.count("-") == 3
    m = re.fullmatch(
        r"(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?"
        r"([zZ]|[+-]\d{2}:\d{2})?", value)
    if m is None or (m.group(8) is None) == zoned:
        if "-" in value:
            raise InvalidParameterError(f'parsing time "{value}": cannot parse')
        try:
            parse_timestamp(value)
        except InvalidParameterError:
            raise InvalidParameterError(
                f'failed to parse value as time or duration: "{value}"') from None
        return value
    year, month, day, hour, minute, sec = (int(g or 0) for g in m.groups()[:6])
    frac = m.group(7) or ""
    zone = m.group(8)
    if zone is None:
        tz: dt.tzinfo | None = dt.datetime.fromtimestamp(ref).astimezone().tzinfo
    elif zone in ("z", "Z"):
        tz = dt.UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = dt.timezone(sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        when = dt.datetime(year, month, day, hour, minute, sec, tzinfo=tz)
    except ValueError as err:
        raise InvalidParameterError(f'parsing time "{value}": {err}') from None
    nanos = int(frac.ljust(9, "0")) if frac else 0
    return f"{int(when.timestamp())}.{nanos:09d}"


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                   "h": 3600.0}


def _go_duration(value: str) -> float | None:
    """Go's time.ParseDuration (``1h30m``, ``-5m``, ``1.5s``), or None."""
    import re

    m = re.fullmatch(r"([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+", value)
    if m is None:
        return None
    total = sum(float(num) * _DURATION_UNITS[unit] for num, unit in
                re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)", value))
    return -total if m.group(1) == "-" else total


def select(events: Sequence[Event], since_ns: int, until_ns: int,
           flt: EventFilter) -> list[Event]:
    return [ev for ev in events if _in_window(ev, since_ns, until_ns) and flt.match(ev)]


def _in_window(ev: Event, since_ns: int, until_ns: int) -> bool:
    t = int(ev.get("timeNano") or int(ev.get("time") or 0) * 1_000_000_000)
    return t >= since_ns and (until_ns <= 0 or t <= until_ns)


def stream(log: EventLog, since: str = "", until: str = "",
           filters: Mapping[str, Sequence[str]] | None = None, *,
           sleep: Callable[[float], None] = time.sleep) -> Iterator[Event]:
    """Docker's ``/events`` as a generator: the past between ``since`` and ``until`` (none
    without either), then new events as they are written, until ``until`` (for ever
    without it)."""
    since_ns, until_ns = parse_timestamp(since), parse_timestamp(until)
    if until_ns and since_ns and until_ns < since_ns:
        raise InvalidParameterError(
            f"`since` time ({since}) cannot be after `until` time ({until})")
    flt = EventFilter(filters)
    tail = log.tail()
    try:
        if since_ns or until_ns:  # moby: the past only when one of them is given
            yield from select(tail.history(), since_ns, until_ns, flt)
        else:
            tail.skip_history()
        while not until_ns or time.time_ns() <= until_ns:
            sleep(POLL_INTERVAL)
            yield from select(tail.poll(), since_ns, until_ns, flt)
    finally:
        tail.close()
