"""Running one engine call in a helper process (server/monitor.py) from the event loop.

``call`` waits for the outcome; ``open_output`` gives the helper's stdout to stream (a
tar) and checks the outcome before the first byte is sent, so that an engine error is
still Docker's error response with its status code, never a truncated 200.

A helper is a fresh interpreter: about 60 ms of a detached start went to starting it and
importing the engine.  ``Spare`` keeps helpers started ahead (``--standby``: warmed up,
waiting for their call on stdin), so a call without stdio (``start``, ``exec -d``,
``stat``) only sends one a line (POST start, median of 20 back to back: 135 -> 75 ms;
spaced out: 53 ms).  A spare is still a clean fork+exec of orlopd (never a fork of this
multi-threaded process), in a session of its own, making the same engine call as before,
so the container gets the same monitor as with ``orlop start``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncGenerator, Callable
from typing import IO, TYPE_CHECKING, Any

from orlop.errors import (
    ConflictError,
    ErrorKind,
    InvalidParameterError,
    NotFoundError,
    OrlopError,
    PermissionDeniedError,
    RuntimeFailedError,
    SystemFailureError,
    UnsupportedError,
)

if TYPE_CHECKING:
    from orlop.engine import Engine
    from orlop.server.context import ServerContext

_ERRORS: dict[str, type[OrlopError]] = {
    ErrorKind.NOT_FOUND.value: NotFoundError, ErrorKind.CONFLICT.value: ConflictError,
    ErrorKind.INVALID.value: InvalidParameterError,
    ErrorKind.FORBIDDEN.value: PermissionDeniedError,
    ErrorKind.UNSUPPORTED.value: UnsupportedError, ErrorKind.SYSTEM.value: SystemFailureError,
}


def error_of(outcome: dict[str, Any]) -> OrlopError:
    """The engine error a helper reported, with its kind (and so its status code)."""
    kind = str(outcome.get("kind", ErrorKind.SYSTEM.value))
    message = str(outcome.get("message", "the helper process failed"))
    if kind == ErrorKind.SYSTEM.value and "exit_code" in outcome:
        return RuntimeFailedError(message, int(outcome.get("exit_code") or 125))
    return _ERRORS.get(kind, SystemFailureError)(message)


def argv_for(ctx: ServerContext, op: str | None, cid: str, status_fd: int, *,
             path: str | None = None, spec: dict[str, Any] | None = None,
             interactive: bool = False, console_size: tuple[int, int] | None = None,
             resize_fd: int = -1) -> list[str]:
    """The helper's command line; ``op`` None: a spare (``--standby``)."""
    cfg = ctx.config
    argv = [sys.executable, "-m", "orlop.server.monitor", "--root", str(cfg.root),
            "--run-root", str(cfg.run_root), "--runtime", cfg.runtime,
            "--status-fd", str(status_fd)]
    if op is None:
        return [*argv, "--standby"]
    argv += ["--op", op]
    if path is not None:
        argv += ["--path", path]
    if spec is not None:
        argv += ["--spec", json.dumps(spec)]
    if interactive:
        argv.append("--interactive")
    if console_size is not None:
        argv += ["--console-size", f"{console_size[0]},{console_size[1]}"]
    if resize_fd >= 0:
        argv += ["--resize-fd", str(resize_fd)]
    return [*argv, "--", cid]


class Helper:
    """A running helper: its process, the status it will report and, when it relays a
    terminal, the pipe that carries the client's window size to it."""

    def __init__(self, proc: asyncio.subprocess.Process, status: asyncio.Task[bytes],
                 resize_fd: int = -1) -> None:
        self.proc = proc
        self.status = status
        self.resize_fd = resize_fd

    def resize(self, rows: int, cols: int) -> None:
        """Send a new window size to the helper, which sets it on the pty's master before
        it relays more of the client's input (engine/procio.py)."""
        if self.resize_fd < 0:
            return
        with contextlib.suppress(BlockingIOError, BrokenPipeError):
            # 12 bytes at most, far below the pipe's atomic size: written whole or not
            # at all (a full pipe means the helper stopped reading: it is ending).
            os.write(self.resize_fd, f"{rows} {cols}\n".encode())

    def close_resize(self) -> None:
        if self.resize_fd >= 0:
            os.close(self.resize_fd)
            self.resize_fd = -1

    async def outcome(self) -> dict[str, Any]:
        try:
            data = await self.status
            await self.proc.wait()
        finally:
            self.close_resize()
        try:
            out: dict[str, Any] = json.loads(data.splitlines()[0]) if data.strip() else {}
        except ValueError:
            out = {}
        if not out:
            out = {"event": "error", "kind": ErrorKind.SYSTEM.value,
                   "message": f"the helper process exited with status {self.proc.returncode}"}
        return out

    async def result(self) -> dict[str, Any]:
        out = await self.outcome()
        if out.get("event") == "error":
            raise error_of(out)
        return out

    def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()


async def _read_fd(fd: int) -> bytes:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    pipe = os.fdopen(fd, "rb", buffering=0)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        return await reader.read()
    finally:
        transport.close()


async def spawn(ctx: ServerContext, op: str | None, cid: str, *,
                stdin: int | IO[bytes] | None = None, stdout: int | None = None,
                stderr: int | None = None, resizable: bool = False,
                **kw: Any) -> Helper:
    """Start a helper for ``op`` on ``cid`` (``op`` None: a spare).  ``resizable``: it
    gets a pipe for window sizes (``Helper.resize``); ``console_size`` (rows, cols) is
    the terminal's size when the process starts."""
    read_fd, write_fd = os.pipe()
    os.set_inheritable(write_fd, True)
    resize_r = resize_w = -1
    if resizable:
        resize_r, resize_w = os.pipe()
        os.set_inheritable(resize_r, True)
        os.set_blocking(resize_w, False)
        kw["resize_fd"] = resize_r
    pass_fds = (write_fd,) if resize_r < 0 else (write_fd, resize_r)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv_for(ctx, op, cid, write_fd, **kw),
            stdin=stdin if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=stdout if stdout is not None else asyncio.subprocess.DEVNULL,
            stderr=stderr if stderr is not None else asyncio.subprocess.DEVNULL,
            pass_fds=pass_fds, start_new_session=True)
    except BaseException:
        os.close(read_fd)
        if resize_w >= 0:
            os.close(resize_w)
        raise
    finally:
        os.close(write_fd)
        if resize_r >= 0:
            os.close(resize_r)
    return Helper(proc, asyncio.get_running_loop().create_task(_read_fd(read_fd)), resize_w)


class Spare:
    """Helpers started ahead of need (``--standby``), for calls without stdio.

    ``take`` hands out the oldest (the warmest: it needs ~60 ms of CPU to import the
    engine); ``refill`` starts one more after each call, never during one (on 2 cores its
    start-up would slow down the call it is meant to speed up).  Two are kept, so that
    back-to-back calls (compose, a script's loop of starts) each find one that has had a
    whole call's time to warm up.  A spare that died is not handed out.  Each waits on a
    pipe from this process: when orlopd exits, however it exits, the spares read EOF and
    end, so none is ever left behind."""

    KEEP = 2

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.ready: list[Helper] = []
        self.closed = False
        self._refill: asyncio.Task[None] | None = None

    def take(self) -> Helper | None:
        while self.ready:
            h = self.ready.pop(0)
            if h.proc.returncode is None and h.proc.stdin is not None:
                return h
            h.status.cancel()
        return None

    def refill(self) -> None:
        if not self.closed and len(self.ready) < self.KEEP and (
                self._refill is None or self._refill.done()):
            self._refill = asyncio.get_running_loop().create_task(self._start())

    def _open(self) -> bool:
        return not self.closed  # a call, re-read after each await (close() may have run)

    async def _start(self) -> None:
        while self._open() and len(self.ready) < self.KEEP:
            h = await spawn(self.ctx, None, "", stdin=asyncio.subprocess.PIPE)
            if not self._open():
                await _dismiss(h)
                return
            self.ready.append(h)

    async def close(self) -> None:
        self.closed = True
        if self._refill is not None:
            with contextlib.suppress(Exception):
                await self._refill
        ready, self.ready = self.ready, []
        for h in ready:
            await _dismiss(h)


async def _dismiss(h: Helper) -> None:
    """Let a spare go: EOF on its stdin ends it."""
    if h.proc.stdin is not None:
        h.proc.stdin.close()
    try:
        await asyncio.wait_for(h.proc.wait(), 5)
    except TimeoutError:
        h.kill()
    h.status.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await h.status


async def _request(h: Helper, op: str, cid: str, kw: dict[str, Any]) -> bool:
    """Give a spare its call; False if it is gone (the caller starts a helper then)."""
    stdin = h.proc.stdin
    if stdin is None:
        return False
    line = json.dumps({"op": op, "container": cid, "spec": kw.get("spec"),
                       "path": kw.get("path")}) + "\n"
    try:
        stdin.write(line.encode())
        await stdin.drain()
        stdin.close()
    except (ConnectionError, OSError):
        h.status.cancel()
        return False
    return True


async def call(ctx: ServerContext, op: str, cid: str, **kw: Any) -> dict[str, Any]:
    """Run the helper to the end; its result, or the engine's error raised."""
    h = None
    spare = ctx.sessions.spare if set(kw) <= {"spec", "path"} else None
    if spare is not None:  # no stdio, no terminal: a spare can make the call
        h = spare.take()
        if h is not None and not await _request(h, op, cid, kw):
            h = None
    if h is None:
        h = await spawn(ctx, op, cid, **kw)
    try:
        out = await h.result()
    except asyncio.CancelledError:
        h.kill()
        raise
    finally:
        if spare is not None:
            spare.refill()
    result: dict[str, Any] = out.get("result") or {}
    return result


async def open_output(ctx: ServerContext, op: str, cid: str,
                      **kw: Any) -> tuple[bytes, AsyncGenerator[bytes, None], Helper]:
    """Start a helper that writes to stdout: (first chunk, the rest, helper).  An error
    before the first byte is raised here.  A reader that stops early closes the pipe:
    the helper fails with EPIPE and cleans up as any engine call does (never killed,
    which could leave volume references behind)."""
    loop = asyncio.get_running_loop()
    out_r, out_w = os.pipe()
    try:
        h = await spawn(ctx, op, cid, stdout=out_w, **kw)
    except BaseException:
        os.close(out_r)
        raise
    finally:
        os.close(out_w)
    reader = asyncio.StreamReader(limit=1 << 20)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(out_r, "rb", buffering=0))
    try:
        first = await reader.read(1 << 16)
        if not first:
            await h.result()
    except BaseException:
        transport.close()
        raise

    async def rest() -> AsyncGenerator[bytes, None]:
        try:
            while True:
                chunk = await reader.read(1 << 16)
                if not chunk:
                    break
                yield chunk
        finally:
            transport.close()
            await h.proc.wait()

    return first, rest(), h


async def open_engine_output(ctx: ServerContext, fn: Callable[[Engine, int], object]
                             ) -> tuple[bytes, AsyncGenerator[bytes, None]]:
    """``fn(engine, fd)`` writes a stream to ``fd`` in a worker thread (for engine calls
    that do not fork: ``save_images``); (first chunk, the rest), the engine's error raised
    here when it fails before the first byte.  A reader that stops early closes the pipe,
    so the writer fails with EPIPE and ends."""
    loop = asyncio.get_running_loop()
    out_r, out_w = os.pipe()

    def run(e: Engine) -> object:
        try:
            return fn(e, out_w)
        finally:
            os.close(out_w)

    try:
        job = loop.create_task(ctx.call(run))
    except BaseException:
        os.close(out_w)
        os.close(out_r)
        raise
    reader = asyncio.StreamReader(limit=1 << 20)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(out_r, "rb", buffering=0))
    try:
        first = await reader.read(1 << 16)
        if not first:
            await job
    except BaseException:
        transport.close()
        raise

    async def rest() -> AsyncGenerator[bytes, None]:
        try:
            while True:
                chunk = await reader.read(1 << 16)
                if not chunk:
                    break
                yield chunk
        finally:
            transport.close()
            with contextlib.suppress(Exception):
                await job

    return first, rest()
