"""Containers started by this server: detached ones, and attached sessions.

A plain ``start`` (``docker run -d``, docker-py, compose) gives the container the
engine's own detached monitor, exactly as ``orlop run -d``: it goes on without orlopd,
writes the json-file log that ``logs`` reads, and applies the restart policy.  The
engine forks to do that, so the call is made in a helper process (server/monitor.py).

Only when a client attached before ``start`` (the docker CLI does for ``docker run`` in
the foreground and ``start -a``) does the server keep the container's stdio:
``start_attached`` runs in one helper (``--op attach``, forked warm by the fork server,
server/helpers.py) with the container's stdio on pipes made here before it starts, so no
byte is lost; it holds the container's lock as ``orlop start -a`` does and goes on if
orlopd exits.  Pump tasks read the pipes, append Docker json-file log lines
to the engine's log file of the container (so ``orlop logs`` and ``docker logs`` show
them too) and hand each chunk to every attached client's queue.  A client that goes
away just drops its queue: the container and the other clients go on.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orlop.errors import (
    ConflictError,
)

if TYPE_CHECKING:
    from orlop.engine.containers.watch import JsonLog
    from orlop.engine.models import Container
    from orlop.server.helpers import Helper, ServerContext

Chunk = tuple[int, bytes]  # (stream 1|2, data)


@dataclass
class Session:
    container_id: str
    tty: bool
    helper: Helper
    subscribers: list[asyncio.Queue[Chunk | None]] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    outcome: dict[str, Any] | None = None
    log: JsonLog | None = None  # the container's log (the monitor's writer), or None

    @property
    def removed(self) -> bool:
        """Whether the helper reported the container gone once it ended (--rm)."""
        return bool(self.outcome and self.outcome.get("removed"))

    @property
    def exit_code(self) -> int:
        if self.outcome and self.outcome.get("event") == "exit":
            return int(self.outcome.get("code", 0))
        return int((self.outcome or {}).get("exit_code", 125))

    def publish(self, stream: int, data: bytes) -> None:
        if self.log is not None:
            # Lines split and rotated as the detached monitor's are (a full disk loses
            # the line, never the session).
            with contextlib.suppress(OSError):
                self.log.feed("stdout" if stream == 1 else "stderr", data)
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
        from orlop.server.helpers import ForkServer

        self.forks = ForkServer(ctx)  # makes the helpers, warm

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
        from orlop.server.streams import copy_input

        if sess.helper.stdin is not None:
            await copy_input(source, sess.helper.stdin, sess.done.is_set)

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
        """One helper (forked warm by the fork server) runs ``Engine.start_attached``
        with its stdio on pipes to this process, read from the first byte on."""
        from orlop.server import helpers

        interactive = c.config.open_stdin
        h = await helpers.spawn(self.ctx, "attach", c.id,
                                stdin=helpers.PIPE if interactive else None,
                                stdout=helpers.PIPE, stderr=helpers.PIPE,
                                interactive=interactive)
        sess = Session(container_id=c.id, tty=c.config.tty, helper=h)
        try:
            from orlop.engine.containers.monitor import open_log

            sess.log = open_log(self.ctx.config, c)
        except OSError:
            sess.log = None
        sess.subscribers.extend(self.parked.pop(c.id, []))
        self.live[c.id] = sess
        for source in self.parked_stdin.pop(c.id, []):
            self._spawn(self._copy_stdin(sess, source))
        self._spawn(self._run(sess))
        await self._wait_started(sess)

    async def _run(self, sess: Session) -> None:
        async def pump(stream: asyncio.StreamReader | None, n: int) -> None:
            if stream is None:
                return
            while True:
                data = await stream.read(65536)
                if not data:
                    return
                sess.publish(n, data)

        h = sess.helper
        try:
            await asyncio.gather(pump(h.stdout, 1), pump(h.stderr, 2))
            # Not waiting for its exit: it reports once it holds nothing any more (the
            # container's lock and operation marker are let go, a --rm container is
            # removed), and a client's wait ends on this.
            sess.outcome = await h.outcome(exited=False)
        finally:
            if sess.outcome is None:
                sess.outcome = {"event": "error", "kind": "system",
                                "message": f"the container monitor exited with status "
                                           f"{h.proc.returncode}"}
            for q in sess.subscribers:
                q.put_nowait(None)
            if h.stdin is not None:
                h.stdin.close()  # the container's stdin: nobody reads it any more
            if sess.log is not None:
                with contextlib.suppress(OSError):
                    sess.log.close()  # with the last partial lines
            self.last_exit[sess.container_id] = sess.exit_code
            if len(self.last_exit) > 10000:
                self.last_exit.pop(next(iter(self.last_exit)))
            self.live.pop(sess.container_id, None)
            sess.done.set()
            for fut in self.next_exit.pop(sess.container_id, []):
                if not fut.done():
                    fut.set_result(sess.exit_code)

    async def _wait_started(self, sess: Session) -> None:
        """Until the helper says the container runs, or it ends (the engine's error is
        raised then, if it could not start)."""
        started = asyncio.ensure_future(sess.helper.started.wait())
        done = asyncio.ensure_future(sess.done.wait())
        try:
            await asyncio.wait((started, done), return_when=asyncio.FIRST_COMPLETED)
        finally:
            started.cancel()
            done.cancel()
        if sess.helper.started.is_set() or not sess.done.is_set():
            return
        out = sess.outcome or {}
        if out.get("event") == "error":
            from orlop.server.helpers import error_of

            raise error_of({"message": "start failed", "exit_code": 125, **out})

    # --- wait --------------------------------------------------------------------------

    def next_exit_future(self, cid: str) -> asyncio.Future[int]:
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.next_exit.setdefault(cid, []).append(fut)
        return fut

    def drop_exit_future(self, cid: str, fut: asyncio.Future[int]) -> None:
        """A waiter that no longer waits (its container was removed, or it left)."""
        futs = self.next_exit.get(cid)
        if futs is not None and fut in futs:
            futs.remove(fut)
            if not futs:
                del self.next_exit[cid]

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
        await self.forks.close()
