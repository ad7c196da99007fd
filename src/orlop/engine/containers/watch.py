"""The idle half of a detached container's monitor: relay output to the log, await the exit.

This file is executed as a script (``python3 -I -S watch.py KEY=VALUE... -- FINISH...``)
by the monitor (monitor.py) once the container runs, replacing the monitor's process
image so that a long-running container costs one small process: built-in modules only
(``errno``, ``os``, ``select``, ``sys``, ``time``), no site, no Orlop package (not even
``orlop/__init__``), no SQLite.  Not ``json`` either (with ``re``, 1.2 MB of the idle
process): the arguments are ``key=value`` words and the log lines are encoded by
:func:`json_line`, byte for byte what ``json.dumps`` writes; not ``signal`` (``enum``,
0.7 MB): the interpreter already ignores SIGPIPE.  Run as a script with ``-I``, the
script's own directory is not put on sys.path (it holds modules such as ``inspect.py``
that would shadow the standard library's).

It inherits the container's lock (so that every ``orlop`` command still sees a live
monitor), the read ends of the container's stdout/stderr pipes (or its pty master),
and is the parent of the container's PID 1.  Once its relay is set up it reports the start
to whoever waits for it (the pipe ``report_fd``), so that output is never left waiting in
the pipes after a ``start`` has returned.  It writes Docker's json-file log
(``{"log":…,"stream":…,"time":…}`` per line, rotated at max-size into max-file files),
and when the container has exited it execs the monitor's finishing phase with the exit
status, *without reaping* the container: the pid stays a zombie, never reused, until
the store no longer names it (so that `orlop stop` can never signal a stranger).
"""

from __future__ import annotations

import errno
import os
import select
import sys
import time

PARTIAL_MAX = 16 * 1024  # Docker's json-file splits longer lines into 16 KiB pieces

# What json.dumps(..., ensure_ascii=False) escapes in a string: '"', '\\', and every
# control character below U+0020 (the short forms where JSON has them).
_ESCAPES = {i: f"\\u{i:04x}" for i in range(0x20)}
_ESCAPES.update({0x22: '\\"', 0x5C: "\\\\", 0x08: "\\b", 0x0C: "\\f", 0x0A: "\\n",
                 0x0D: "\\r", 0x09: "\\t"})


def json_string(text: str) -> str:
    """``text`` as a JSON string body, as ``json.dumps(text, ensure_ascii=False)[1:-1]``."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return text  # the common line: nothing to escape (C-speed checks only)
    return text.translate(_ESCAPES)


def json_line(log: str, stream: str, stamp: str) -> bytes:
    """One json-file record: ``{"log":...,"stream":...,"time":...}`` and a newline, the
    bytes ``json.dumps(record, separators=(",", ":"), ensure_ascii=False)`` gives."""
    if log.endswith("\n"):
        body = json_string(log[:-1]) + "\\n"
    else:
        body = json_string(log)
    return (f'{{"log":"{body}","stream":"{json_string(stream)}",'
            f'"time":"{json_string(stamp)}"}}\n').encode()


def _timestamp() -> str:
    ns = time.time_ns()
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


class JsonLog:
    """Append-only json-file log with size rotation (<log>, <log>.1, ... <log>.N-1)."""

    def __init__(self, path: str, max_size: int, max_file: int) -> None:
        self.path = path
        self.max_size = max_size
        self.max_file = max(1, max_file)
        self.fd = self._open()
        self.size = os.fstat(self.fd).st_size
        self.partial: dict[str, bytes] = {"stdout": b"", "stderr": b""}

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def _rotate(self) -> None:
        os.close(self.fd)
        if self.max_file == 1:
            os.truncate(self.path, 0)
        else:
            for i in range(self.max_file - 1, 0, -1):
                src = self.path if i == 1 else f"{self.path}.{i - 1}"
                try:
                    os.replace(src, f"{self.path}.{i}")
                except FileNotFoundError:
                    pass
        self.fd = self._open()
        self.size = 0

    def _emit(self, lines: list[bytes]) -> None:
        for line in lines:
            if self.max_size > 0 and self.size and self.size + len(line) > self.max_size:
                self._rotate()
            _write_all(self.fd, line)
            self.size += len(line)

    def feed(self, stream: str, data: bytes, final: bool = False) -> None:
        buf = self.partial[stream] + data
        stamp = _timestamp()
        out: list[bytes] = []
        while buf:
            nl = buf.find(b"\n")
            if nl < 0 or nl >= PARTIAL_MAX:
                if len(buf) < PARTIAL_MAX and not final:
                    break
                piece, buf = buf[:PARTIAL_MAX], buf[PARTIAL_MAX:]
            else:
                piece, buf = buf[:nl + 1], buf[nl + 1:]
            out.append(json_line(piece.decode("utf-8", errors="replace"), stream, stamp))
        self.partial[stream] = buf
        if out:
            self._emit(out)

    def close(self) -> None:
        for stream in ("stdout", "stderr"):
            if self.partial[stream]:
                self.feed(stream, b"", final=True)
        os.close(self.fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        except OSError:
            return  # a full disk must not kill the monitor: the line is lost
        view = view[n:]


def watch(args: dict[str, str]) -> int:
    """Relay until the container exits; returns Docker's exit code (128+N for signal N)."""
    pid = int(args["pid"])
    log = JsonLog(args["log_path"], int(args["max_size"]), int(args["max_file"]))
    streams: dict[int, str] = {}
    for key, name in (("out_fd", "stdout"), ("err_fd", "stderr"), ("master_fd", "stdout")):
        fd = int(args.get(key, -1))
        if fd >= 0:
            streams[fd] = name
    master = int(args.get("master_fd", -1))
    stdin_fifo = int(args.get("stdin_fd", -1))
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    for fd in streams:
        poller.register(fd, select.POLLIN)
    if stdin_fifo >= 0 and master >= 0:
        poller.register(stdin_fifo, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    report = int(args.get("report_fd", -1))
    if report >= 0:  # the starter waits for this: the output is relayed from now on
        try:
            os.write(report, b'{"pid": %d}' % int(args["report_pid"]))
        except OSError:
            pass
        os.close(report)
    exited = False
    while not exited:
        try:
            events = poller.poll()
        except InterruptedError:
            continue
        for fd, _ev in events:
            if fd == pidfd:
                exited = True
            elif fd == stdin_fifo:
                data = os.read(fd, 65536)
                if data:
                    try:
                        _write_all(master, data)
                    except OSError:
                        pass
            elif not _pump(fd, streams, log, poller):
                del streams[fd]
    # The container is gone (its pid namespace with it): take what is left in the pipes.
    for fd in list(streams):
        os.set_blocking(fd, False)
        while _pump(fd, streams, log, None):
            pass
    log.close()
    info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    if info is None:
        return 137
    if info.si_code == os.CLD_EXITED:
        return int(info.si_status)
    return 128 + int(info.si_status)


def _pump(fd: int, streams: dict[int, str], log: JsonLog,
          poller: select.poll | None) -> bool:
    """Read once from ``fd`` into the log; False at EOF (or nothing left, when draining)."""
    try:
        data = os.read(fd, 65536)
    except BlockingIOError:
        return False
    except OSError as err:
        if err.errno != errno.EIO:  # EIO: a pty whose other side closed
            raise
        data = b""
    if not data:
        if poller is not None:
            poller.unregister(fd)
        return False
    log.feed(streams[fd], data)
    return True


def parse_argv(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """``KEY=VALUE... -- FINISH...`` (monitor.py's :func:`watch_argv`): the settings and
    the finishing phase's command line."""
    cut = argv.index("--")
    return dict(a.split("=", 1) for a in argv[:cut]), argv[cut + 1:]


def main() -> None:
    args, finish = parse_argv(sys.argv[1:])
    code = watch(args)
    os.execv(finish[0], [*finish, str(code)])


if __name__ == "__main__":
    main()
