"""Running one engine call in a helper process (server/monitor.py) from the event loop.

``call`` waits for the outcome; ``open_output`` gives the helper's stdout to stream (a
tar) and checks the outcome before the first byte is sent, so that an engine error is
still Docker's error response with its status code, never a truncated 200.

A helper started for its call is a fresh interpreter: ~60 ms of CPU to start and import
the engine, most of a call's cost.  So helpers are forked by ``ForkServer`` (one warm,
single-threaded ``--standby`` process, never this multi-threaded one), which gets each
call and its stdio, status and resize pipes over a unix socket (SCM_RIGHTS): a call with
stdio (a foreground ``docker run``'s attach, ``exec``, ``cp``) gets a warm helper as
well as a detached start.  The child makes its own session and the same engine call as
before, so the container gets the same monitor as with ``orlop start``/``run``
(``docker run --rm busybox true`` through orlopd, median of 15: 141 -> 54 ms).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import IO, TYPE_CHECKING, Any, Protocol, TypeVar

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
    from orlop.config import EngineConfig
    from orlop.engine import Engine

T = TypeVar("T")


class _Sessions(Protocol):
    @property
    def forks(self) -> ForkServer: ...


class ServerContext(Protocol):
    """What the helpers take of the server's context (context.ServerContext): a
    protocol, so that this module and sessions.py (which the context builds) do not
    import the context back."""

    @property
    def config(self) -> EngineConfig: ...

    @property
    def sessions(self) -> _Sessions: ...

    async def call(self, fn: Callable[[Engine], T]) -> T: ...

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
    """The helper's command line; ``op`` None: the fork server (``--standby``)."""
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


PIPE = asyncio.subprocess.PIPE
# What a helper's stdin, stdout or stderr is: None for /dev/null, PIPE for a pipe to this
# process (``Helper.stdin``/``stdout``/``stderr``), or a descriptor (or file) given as is.
StdioArg = int | IO[bytes] | None


class Process(Protocol):
    """What a helper's process is to this server: an ``asyncio.subprocess.Process`` (a
    helper started for its call), or a ``Forked`` one (made by the fork server)."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int: ...

    def kill(self) -> None: ...


class Forked:
    """A helper forked by the fork server: not a child of this process, so it is watched
    and signalled through its pidfd (never by a pid that may have been reused).  Its exit
    status is the fork server's to reap; its outcome comes on the status pipe."""

    def __init__(self, pid: int, pidfd: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._pidfd = pidfd
        loop = asyncio.get_running_loop()
        self._exited: asyncio.Future[None] = loop.create_future()
        loop.add_reader(pidfd, self._on_exit)  # a pidfd polls readable once it exited

    def _on_exit(self) -> None:
        asyncio.get_running_loop().remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = -1
        self.returncode = 0  # ended (its status is the fork server's)
        if not self._exited.done():
            self._exited.set_result(None)

    async def wait(self) -> int:
        await asyncio.shield(self._exited)
        return 0

    def kill(self) -> None:
        if self._pidfd >= 0:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)


class Helper:
    """A running helper: its process, the outcome it will report, the pipes to its stdio
    that the caller asked for and, when it relays a terminal, the pipe that carries the
    client's window size to it.

    The status descriptor carries JSON lines: ``{"event": "started"}`` when an attached
    container runs (``started`` is set then), and one outcome line at the end."""

    def __init__(self, proc: Process, status_fd: int, resize_fd: int = -1, *,
                 stdin: asyncio.StreamWriter | None = None,
                 stdout: asyncio.StreamReader | None = None,
                 stderr: asyncio.StreamReader | None = None) -> None:
        self.proc = proc
        self.resize_fd = resize_fd
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.started = asyncio.Event()
        pipe = os.fdopen(status_fd, "rb", buffering=0)
        self.status: asyncio.Task[dict[str, Any]] = \
            asyncio.get_running_loop().create_task(self._read_status(pipe))

    async def _read_status(self, pipe: IO[bytes]) -> dict[str, Any]:
        """The outcome line ({} if the helper ended without one), setting ``started`` on
        the way."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 20)
        try:
            transport, _ = await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(reader), pipe)
        except BaseException:
            pipe.close()
            raise
        try:
            while line := await reader.readline():
                with contextlib.suppress(ValueError):
                    event = json.loads(line)
                    if not isinstance(event, dict):
                        continue
                    if event.get("event") == "started":
                        self.started.set()
                        continue
                    return event
            return {}
        finally:
            transport.close()

    def resize(self, rows: int, cols: int) -> None:
        """Send a new window size to the helper, which sets it on the pty's master before
        it relays more of the client's input (engine/containers/procio.py)."""
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

    async def outcome(self, *, exited: bool = True) -> dict[str, Any]:
        """The outcome the helper reported (an error if it ended without one).  With
        ``exited`` False a reported outcome is returned at once: the helper's last step
        is its exit, which holds nothing (and is reaped by the fork server or asyncio)."""
        try:
            out = await self.status
            if exited or not out:
                await self.proc.wait()
        finally:
            self.close_resize()
        if not out:
            out = {"event": "error", "kind": ErrorKind.SYSTEM.value,
                   "message": "the helper process exited without an outcome (status "
                              f"{self.proc.returncode})"}
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


def _fileno(arg: int | IO[bytes]) -> int:
    return arg if isinstance(arg, int) else arg.fileno()


async def _start_process(ctx: ServerContext, op: str | None, cid: str, *,
                         stdin: StdioArg = None, stdout: StdioArg = None,
                         stderr: StdioArg = None, resizable: bool = False,
                         **kw: Any) -> Helper:
    """A new helper process (a fresh interpreter): for ``op``, or the fork server (``op``
    None)."""
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
    return Helper(proc, read_fd, resize_w, stdin=proc.stdin, stdout=proc.stdout,
                  stderr=proc.stderr)


async def spawn(ctx: ServerContext, op: str, cid: str, *, stdin: StdioArg = None,
                stdout: StdioArg = None, stderr: StdioArg = None, resizable: bool = False,
                **kw: Any) -> Helper:
    """A helper making ``op`` on ``cid``: forked by the fork server, or a new process
    when the fork server cannot be had.  ``resizable``: it
    gets a pipe for window sizes (``Helper.resize``); ``console_size`` (rows, cols) is
    the terminal's size when the process starts; ``interactive``: the container's stdin
    is ours."""
    h = await ctx.sessions.forks.fork(op, cid, stdin=stdin, stdout=stdout, stderr=stderr,
                                      resizable=resizable, kw=kw)
    if h is None:
        h = await _start_process(ctx, op, cid, stdin=stdin, stdout=stdout, stderr=stderr,
                                 resizable=resizable, **kw)
    return h


async def _reader(fd: int) -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    pipe = os.fdopen(fd, "rb", buffering=0)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    except BaseException:
        pipe.close()
        raise
    return reader  # its transport closes the pipe at EOF


async def _writer(fd: int) -> asyncio.StreamWriter:
    loop = asyncio.get_running_loop()
    pipe = os.fdopen(fd, "wb", buffering=0)
    try:
        transport, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, pipe)
    except BaseException:
        pipe.close()
        raise
    return asyncio.StreamWriter(transport, protocol, None, loop)


class ForkServer:
    """One warm helper that forks the helpers (``--standby``, server/monitor.py).

    A helper started for its call is a fresh interpreter: ~60 ms of CPU to start and
    import the engine, most of a call's cost.  The fork server has imported the engine
    once and waits on a unix socket; a call sends it one message (the call, and its
    stdio, status and resize pipes as SCM_RIGHTS descriptors) and it forks a child
    (~2 ms) that puts them in place, makes its own session and makes the call exactly as
    a helper started for it would: the same engine call, the same monitor for the
    container as ``orlop start`` gives.  It never forks this multi-threaded process: the
    fork server is single-threaded and has done nothing but imports.  Each child comes
    back as its pidfd (``Forked``).  On 2 cores, one process warmed once beats spares
    re-warmed after each call, whose start-up slowed down the next call.

    It is started by the first call that needs a helper (which waits for it) or by a
    create, and again if it died.  When orlopd exits, however it exits, the fork server
    reads EOF on its socket and ends; its children go on with their calls."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.helper: Helper | None = None  # the fork server's own process
        self.sock: socket.socket | None = None
        self.pending: collections.deque[asyncio.Future[tuple[dict[str, Any], int]]] = \
            collections.deque()
        self.closed = False
        self._starting: asyncio.Task[None] | None = None

    def ready(self) -> bool:
        return self.sock is not None and self.helper is not None and \
            self.helper.proc.returncode is None

    def ensure(self) -> None:
        """Start the fork server unless it runs or is starting."""
        if self.closed or self.ready() or (self._starting is not None
                                           and not self._starting.done()):
            return
        self._starting = asyncio.get_running_loop().create_task(self._start())

    def _open(self) -> bool:
        return not self.closed  # a call, re-read after each await (close() may have run)

    async def _start(self) -> None:
        self._lost()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            h = await _start_process(self.ctx, None, "", stdin=theirs.fileno())
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        if not self._open():
            ours.close()
            await _dismiss(h)
            return
        ours.setblocking(False)
        self.helper, self.sock = h, ours
        asyncio.get_running_loop().add_reader(ours.fileno(), self._readable)

    def _readable(self) -> None:
        """A reply: ``{"pid": N}`` with the child's pidfd, or ``{"error": ...}``, in the
        order of the requests."""
        if self.sock is None:
            return
        try:
            msg, fds, _flags, _addr = socket.recv_fds(self.sock, 1 << 16, 4)
        except BlockingIOError:
            return
        except OSError:
            msg, fds = b"", []
        if not msg:
            for fd in fds:
                os.close(fd)
            self._lost()
            return
        try:
            reply = json.loads(msg)
        except ValueError:
            reply = {"error": f"bad reply from the fork server: {msg[:200]!r}"}
        fut = self.pending.popleft() if self.pending else None
        if fut is None or fut.done():
            for fd in fds:
                os.close(fd)
            return
        fut.set_result((reply, fds[0] if fds else -1))
        for fd in fds[1:]:
            os.close(fd)

    def _lost(self) -> None:
        """The fork server is gone (or being replaced): requests without a reply fail."""
        if self.sock is not None:
            asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self.sock.close()
            self.sock = None
        while self.pending:
            fut = self.pending.popleft()
            if not fut.done():
                fut.set_result(({"error": "the helper fork server ended", "lost": True},
                                -1))

    async def fork(self, op: str, cid: str, *, stdin: StdioArg, stdout: StdioArg,
                   stderr: StdioArg, resizable: bool, kw: dict[str, Any]) -> Helper | None:
        """A helper forked for ``op`` on ``cid``; None if the fork server could not be
        started (or refused: the caller starts a helper then).  A fork server still
        starting is waited for: its warm-up costs no more than a helper's start, and
        only once."""
        self.ensure()
        if self._starting is not None and not self._starting.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(self._starting)
        if not self.ready() or self.sock is None:
            return None
        names: list[str] = []
        sent: list[int] = []
        theirs: list[int] = []  # pipe ends made here for the helper: closed once sent
        ours: dict[str, int] = {}  # the other ends, kept if the helper was forked
        try:
            status_r, status_w = os.pipe()
            ours["status"] = status_r
            theirs.append(status_w)
            names.append("status")
            sent.append(status_w)
            for name, arg in (("stdin", stdin), ("stdout", stdout), ("stderr", stderr)):
                if arg is None:
                    continue
                if arg == PIPE:
                    r, w = os.pipe()
                    mine, their = (w, r) if name == "stdin" else (r, w)
                    ours[name] = mine
                    theirs.append(their)
                    arg = their
                names.append(name)
                sent.append(_fileno(arg))
            if resizable:
                r, w = os.pipe()
                os.set_blocking(w, False)
                ours["resize"] = w
                theirs.append(r)
                names.append("resize")
                sent.append(r)
            size = kw.get("console_size")
            req = {"op": op, "container": cid, "spec": kw.get("spec"),
                   "path": kw.get("path"), "interactive": bool(kw.get("interactive")),
                   "console_size": list(size) if size else None, "fds": names}
            try:
                # One small message on an idle socket: never blocks.
                socket.send_fds(self.sock, [json.dumps(req).encode()], sent)
            except OSError:  # gone, or not keeping up: this call starts its own helper
                _close_all(ours)
                return None
            fut: asyncio.Future[tuple[dict[str, Any], int]] = \
                asyncio.get_running_loop().create_future()
            self.pending.append(fut)
        except BaseException:
            _close_all(ours)
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        try:
            # Shielded: a child forked for a caller that went away still gets its pidfd
            # taken and closed.
            reply, pidfd = await asyncio.shield(fut)
        except BaseException:
            _close_all(ours)
            fut.add_done_callback(lambda f: os.close(f.result()[1])
                                  if not f.cancelled() and f.result()[1] >= 0 else None)
            raise
        if "pid" not in reply or pidfd < 0:
            _close_all(ours)
            if pidfd >= 0:
                os.close(pidfd)
            if reply.get("lost"):
                # It may have forked the child before it ended: never make the call twice.
                raise SystemFailureError(str(reply["error"]))
            return None
        h = Helper(Forked(int(reply["pid"]), pidfd), ours.pop("status"),
                   ours.pop("resize", -1))
        if "stdin" in ours:
            h.stdin = await _writer(ours.pop("stdin"))
        if "stdout" in ours:
            h.stdout = await _reader(ours.pop("stdout"))
        if "stderr" in ours:
            h.stderr = await _reader(ours.pop("stderr"))
        return h

    async def close(self) -> None:
        self.closed = True
        if self._starting is not None:
            with contextlib.suppress(Exception):
                await self._starting
        self._lost()
        if self.helper is not None:
            await _dismiss(self.helper)
            self.helper = None


def _close_all(fds: dict[str, int]) -> None:
    for fd in fds.values():
        os.close(fd)
    fds.clear()


async def _dismiss(h: Helper) -> None:
    """Let the fork server go: EOF on its socket (closed by the caller) ends it."""
    try:
        await asyncio.wait_for(h.proc.wait(), 5)
    except TimeoutError:
        h.kill()
    h.status.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await h.status


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
    out_r, out_w = os.pipe()
    try:
        h = await spawn(ctx, op, cid, stdout=out_w, **kw)
    except BaseException:
        os.close(out_r)
        raise
    finally:
        os.close(out_w)
    first, rest = await _pipe_output(out_r, h.result, h.proc.wait)
    return first, rest, h


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
    async def finish() -> None:
        await job

    async def settle() -> None:
        with contextlib.suppress(Exception):
            await job

    return await _pipe_output(out_r, finish, settle)


async def _pipe_output(out_r: int, on_empty: Callable[[], Awaitable[object]],
                       on_end: Callable[[], Awaitable[object]]
                       ) -> tuple[bytes, AsyncGenerator[bytes, None]]:
    """The stream a writer puts on the pipe ``out_r``: (first chunk, the rest).  An empty
    stream awaits ``on_empty`` first (which raises the writer's error, if any); the rest
    awaits ``on_end`` once read or abandoned."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(out_r, "rb", buffering=0))
    try:
        first = await reader.read(1 << 16)
        if not first:
            await on_empty()
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
            await on_end()

    return first, rest()
