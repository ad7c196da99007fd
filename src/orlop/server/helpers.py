"""Running one engine call in a helper process (server/monitor.py) from the event loop.

``call`` waits for the outcome; ``open_output`` gives the helper's stdout to stream (a
tar) and checks the outcome before the first byte is sent, so that an engine error is
still Docker's error response with its status code, never a truncated 200.
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


def argv_for(ctx: ServerContext, op: str, cid: str, status_fd: int, *,
             path: str | None = None, spec: dict[str, Any] | None = None,
             interactive: bool = False) -> list[str]:
    cfg = ctx.config
    argv = [sys.executable, "-m", "orlop.server.monitor", "--root", str(cfg.root),
            "--run-root", str(cfg.run_root), "--runtime", cfg.runtime,
            "--status-fd", str(status_fd), "--op", op]
    if path is not None:
        argv += ["--path", path]
    if spec is not None:
        argv += ["--spec", json.dumps(spec)]
    if interactive:
        argv.append("--interactive")
    return [*argv, "--", cid]


class Helper:
    """A running helper: its process and the status it will report."""

    def __init__(self, proc: asyncio.subprocess.Process, status: asyncio.Task[bytes]) -> None:
        self.proc = proc
        self.status = status

    async def outcome(self) -> dict[str, Any]:
        data = await self.status
        await self.proc.wait()
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


async def spawn(ctx: ServerContext, op: str, cid: str, *, stdin: int | IO[bytes] | None = None,
                stdout: int | None = None, stderr: int | None = None,
                **kw: Any) -> Helper:
    read_fd, write_fd = os.pipe()
    os.set_inheritable(write_fd, True)
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv_for(ctx, op, cid, write_fd, **kw),
            stdin=stdin if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=stdout if stdout is not None else asyncio.subprocess.DEVNULL,
            stderr=stderr if stderr is not None else asyncio.subprocess.DEVNULL,
            pass_fds=(write_fd,), start_new_session=True)
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    return Helper(proc, asyncio.get_running_loop().create_task(_read_fd(read_fd)))


async def call(ctx: ServerContext, op: str, cid: str, **kw: Any) -> dict[str, Any]:
    """Run the helper to the end; its result, or the engine's error raised."""
    h = await spawn(ctx, op, cid, **kw)
    try:
        out = await h.result()
    except asyncio.CancelledError:
        h.kill()
        raise
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
