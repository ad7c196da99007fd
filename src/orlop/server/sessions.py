"""Containers started by this server: detached ones, and attached sessions.

A plain ``start`` (``docker run -d``, docker-py, compose) gives the container the
engine's own detached monitor, exactly as ``orlop run -d``: it goes on without orlopd,
writes the json-file log that ``logs`` reads, and applies the restart policy.  The
engine forks to do that, so the call is made in a helper process (server/monitor.py).

Only when a client attached before ``start`` (the docker CLI does for ``docker run`` in
the foreground and ``start -a``) does the server keep the container's stdio:
``start_attached`` execs one ``orlop.server.monitor --op attach`` process with the
container's stdio on pipes.  Pump tasks read the pipes, append Docker json-file log lines
to the engine's log file of the container (so ``orlop logs`` and ``docker logs`` show
them too) and hand each chunk to every attached client's queue.  A client that goes
away just drops its queue: the container and the other clients go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from orlop.errors import (
    ConflictError,
    ContainerNotFoundError,
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
    from orlop.engine.models import Container
    from orlop.server.context import ServerContext

Chunk = tuple[int, bytes]  # (stream 1|2, data)

_ERRORS: dict[str, type[OrlopError]] = {
    ErrorKind.NOT_FOUND.value: NotFoundError, ErrorKind.CONFLICT.value: ConflictError,
    ErrorKind.INVALID.value: InvalidParameterError,
    ErrorKind.FORBIDDEN.value: PermissionDeniedError,
    ErrorKind.UNSUPPORTED.value: UnsupportedError, ErrorKind.SYSTEM.value: SystemFailureError,
}


def _log_time() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}000Z"


@dataclass
class Session:
    container_id: str
    tty: bool
    proc: asyncio.subprocess.Process
    subscribers: list[asyncio.Queue[Chunk | None]] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    outcome: dict[str, Any] | None = None
    log: Any = None  # the open log file, or None

    @property
    def exit_code(self) -> int:
        if self.outcome and self.outcome.get("event") == "exit":
            return int(self.outcome.get("code", 0))
        return int((self.outcome or {}).get("exit_code", 125))

    def publish(self, stream: int, data: bytes) -> None:
        if self.log is not None:
            line = {"log": data.decode("utf-8", errors="replace"),
                    "stream": "stdout" if stream == 1 else "stderr", "time": _log_time()}
            with contextlib.suppress(OSError):
                self.log.write(json.dumps(line) + "\n")
                self.log.flush()
        for q in list(self.subscribers):
            q.put_nowait((stream, data))


class Sessions:
    """The live sessions of this server, by container id."""

    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.live: dict[str, Session] = {}
        self.parked: dict[str, list[asyncio.Queue[Chunk | None]]] = {}
        self.parked_stdin: dict[str, list[asyncio.Queue[bytes | None]]] = {}
        self.starting: dict[str, asyncio.Future[None]] = {}
        self.next_exit: dict[str, list[asyncio.Future[int]]] = {}
        self.last_exit: dict[str, int] = {}  # for wait?condition=removed after --rm
        self._tasks: set[asyncio.Task[Any]] = set()
        from orlop.server.helpers import Spare

        self.spare = Spare(ctx)  # a helper kept ready for detached starts

    # --- attach ------------------------------------------------------------------------

    def subscribe(self, cid: str) -> asyncio.Queue[Chunk | None]:
        q: asyncio.Queue[Chunk | None] = asyncio.Queue()
        sess = self.live.get(cid)
        if sess is not None:
            sess.subscribers.append(q)
        else:
            self.parked.setdefault(cid, []).append(q)
        return q

    def unsubscribe(self, cid: str, q: asyncio.Queue[Chunk | None]) -> None:
        sess = self.live.get(cid)
        if sess is not None and q in sess.subscribers:
            sess.subscribers.remove(q)
        parked = self.parked.get(cid)
        if parked and q in parked:
            parked.remove(q)
            if not parked:
                del self.parked[cid]

    def feed_stdin(self, cid: str, source: asyncio.Queue[bytes | None]) -> None:
        """Copy a client's input to the container's stdin (now, or once it starts)."""
        sess = self.live.get(cid)
        if sess is not None:
            self._spawn(self._copy_stdin(sess, source))
        else:
            self.parked_stdin.setdefault(cid, []).append(source)

    async def _copy_stdin(self, sess: Session, source: asyncio.Queue[bytes | None]) -> None:
        stdin = sess.proc.stdin
        if stdin is None:
            return
        while True:
            data = await source.get()
            if data is None or sess.done.is_set():
                break
            try:
                stdin.write(data)
                await stdin.drain()
            except (ConnectionError, OSError):
                return
        with contextlib.suppress(ConnectionError, OSError):
            stdin.close()

    # --- start -------------------------------------------------------------------------

    def has_attached(self, cid: str) -> bool:
        """Whether a client attached before the start (it wants the container's stdio)."""
        return bool(self.parked.get(cid) or self.parked_stdin.get(cid))

    async def start_detached(self, c: Container) -> None:
        """Start ``c`` under the engine's detached monitor (``Engine.start_detached`` in a
        helper process); returns once it runs, raises the engine's error otherwise."""
        from orlop.server import helpers

        if c.id in self.live or c.id in self.starting:
            raise ConflictError(f"container {c.id} is already running")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.starting[c.id] = fut
        try:
            await helpers.call(self.ctx, "start", c.id)
        finally:
            del self.starting[c.id]
            fut.set_result(None)

    async def start(self, c: Container) -> None:
        """Start ``c`` under a monitor; returns once it runs (or ran), raises the
        engine's error if it could not start."""
        if c.id in self.live or c.id in self.starting:
            raise ConflictError(f"container {c.id} is already running")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.starting[c.id] = fut
        try:
            await self._start(c)
        finally:
            del self.starting[c.id]
            fut.set_result(None)

    async def _start(self, c: Container) -> None:
        cfg = self.ctx.config
        read_fd, write_fd = os.pipe()
        os.set_inheritable(write_fd, True)
        interactive = c.config.open_stdin
        argv = [sys.executable, "-m", "orlop.server.monitor", "--root", str(cfg.root),
                "--run-root", str(cfg.run_root), "--runtime", cfg.runtime,
                "--status-fd", str(write_fd), *(["--interactive"] if interactive else []),
                c.id]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.PIPE if interactive else
                asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                pass_fds=(write_fd,), start_new_session=True)
        finally:
            os.close(write_fd)
        sess = Session(container_id=c.id, tty=c.config.tty, proc=proc)
        try:
            from orlop.engine.monitor import log_path

            sess.log = open(log_path(cfg, c.id), "a")
        except OSError:
            sess.log = None
        sess.subscribers.extend(self.parked.pop(c.id, []))
        self.live[c.id] = sess
        for source in self.parked_stdin.pop(c.id, []):
            self._spawn(self._copy_stdin(sess, source))
        status_reader = self._spawn(self._read_status(sess, read_fd))
        self._spawn(self._run(sess, status_reader))
        await self._wait_started(sess, c)

    async def _read_status(self, sess: Session, fd: int) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        pipe = os.fdopen(fd, "rb", buffering=0)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe)
        try:
            line = await reader.readline()
            if line:
                with contextlib.suppress(ValueError):
                    sess.outcome = json.loads(line)
        finally:
            transport.close()

    async def _run(self, sess: Session, status_reader: asyncio.Task[None]) -> None:
        async def pump(stream: asyncio.StreamReader | None, n: int) -> None:
            if stream is None:
                return
            while True:
                data = await stream.read(65536)
                if not data:
                    return
                sess.publish(n, data)

        try:
            await asyncio.gather(pump(sess.proc.stdout, 1), pump(sess.proc.stderr, 2))
            await sess.proc.wait()
            await status_reader
        finally:
            if sess.outcome is None:
                sess.outcome = {"event": "error", "kind": "system",
                                "message": f"the container monitor exited with status "
                                           f"{sess.proc.returncode}"}
            for q in sess.subscribers:
                q.put_nowait(None)
            if sess.log is not None:
                sess.log.close()
            self.last_exit[sess.container_id] = sess.exit_code
            if len(self.last_exit) > 10000:
                self.last_exit.pop(next(iter(self.last_exit)))
            self.live.pop(sess.container_id, None)
            sess.done.set()
            for fut in self.next_exit.pop(sess.container_id, []):
                if not fut.done():
                    fut.set_result(sess.exit_code)

    async def _wait_started(self, sess: Session, c: Container) -> None:
        """Until the engine records the container running, or the monitor ends."""
        before = c.started_at
        cid = c.id

        def state(e: Any) -> tuple[str, str] | None:
            try:
                cur = e.get_container(cid)
            except ContainerNotFoundError:
                return None
            return cur.status, cur.started_at

        delay = 0.005
        while not sess.done.is_set():
            st = await self.ctx.call(state)
            if st is not None and (st[0] == "running" or st[1] != before):
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sess.done.wait(), delay)
            delay = min(delay * 2, 0.1)
        out = sess.outcome or {}
        if out.get("event") == "error":
            kind = str(out.get("kind", "system"))
            message = str(out.get("message", "start failed"))
            if kind == ErrorKind.SYSTEM.value:
                raise RuntimeFailedError(message, int(out.get("exit_code", 125)))
            raise _ERRORS.get(kind, SystemFailureError)(message)

    # --- wait --------------------------------------------------------------------------

    def next_exit_future(self, cid: str) -> asyncio.Future[int]:
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.next_exit.setdefault(cid, []).append(fut)
        return fut

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def shutdown(self) -> None:
        """Server shutdown: clients are let go; the monitors keep their containers
        (they were started in sessions of their own) until the pipes close."""
        for sess in list(self.live.values()):
            for q in sess.subscribers:
                q.put_nowait(None)
        for futs in self.next_exit.values():
            for fut in futs:
                fut.cancel()
        await self.spare.close()
