"""The helper-process protocol: Go's FileMode for the archive stat header, error kinds,
the outcome a helper reports and the end of its stdio."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys

import orlop
from orlop.errors import ConflictError, NotFoundError, RuntimeFailedError
from orlop.server.helpers import Helper, error_of
from orlop.server.monitor import go_file_mode


def test_go_file_mode_type_and_special_bits_match_go() -> None:
    assert go_file_mode(stat.S_IFDIR | 0o755) == (1 << 31) | 0o755
    assert go_file_mode(stat.S_IFLNK | 0o777) == (1 << 27) | 0o777
    assert go_file_mode(stat.S_IFREG | 0o644 | stat.S_ISUID) == (1 << 23) | 0o644
    assert go_file_mode(stat.S_IFCHR | 0o600) == (1 << 26) | (1 << 21) | 0o600
    assert go_file_mode(stat.S_IFDIR | 0o777 | stat.S_ISVTX) == (1 << 31) | (1 << 20) | 0o777


def test_error_of_helper_outcome_keeps_kind_and_exit_code() -> None:
    assert isinstance(error_of({"kind": "not_found", "message": "x"}), NotFoundError)
    assert isinstance(error_of({"kind": "conflict", "message": "x"}), ConflictError)
    err = error_of({"kind": "system", "message": "boom", "exit_code": 127})
    assert isinstance(err, RuntimeFailedError) and err.exit_code == 127


class _Running:
    """A helper's process that has not exited (yet)."""

    pid = 1
    returncode: int | None = None

    def __init__(self) -> None:
        self.exited = asyncio.Event()

    async def wait(self) -> int:
        await self.exited.wait()
        self.returncode = 0
        return 0

    def kill(self) -> None:
        self.exited.set()


def test_outcome_not_waiting_for_exit_returns_once_reported() -> None:
    async def go() -> None:
        r, w = os.pipe()
        proc = _Running()
        h = Helper(proc, r)
        os.write(w, b'{"event": "exit", "code": 3, "removed": true}\n')
        out = await asyncio.wait_for(h.outcome(exited=False), 5)
        assert out == {"event": "exit", "code": 3, "removed": True}
        assert proc.returncode is None  # still running: not waited for
        os.close(w)

    asyncio.run(go())


def test_outcome_without_report_waits_for_exit_even_when_asked_not_to() -> None:
    async def go() -> None:
        r, w = os.pipe()
        proc = _Running()
        h = Helper(proc, r)
        os.close(w)  # ended without an outcome line
        task = asyncio.ensure_future(h.outcome(exited=False))
        await asyncio.sleep(0.05)
        assert not task.done()  # its exit status makes the error's text
        proc.kill()
        out = await asyncio.wait_for(task, 5)
        assert out["event"] == "error" and "status 0" in out["message"]

    asyncio.run(go())


def test_release_stdio_ends_the_relay_before_the_helper_exits() -> None:
    code = ("import sys, time; from orlop.server.monitor import _release_stdio; "
            "sys.stdout.write('last'); _release_stdio(); time.sleep(30)")
    src = os.path.dirname(os.path.dirname(os.path.abspath(orlop.__file__)))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": src})
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.read() == b"last"  # flushed, then EOF while it still runs
        assert proc.stderr.read() == b""
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
