"""What every handler shares: the engine config, the worker threads and the live sessions.

The engine is synchronous; sqlite3 connections must not be shared across threads.  Each
call therefore builds a short-lived ``Engine`` inside a worker thread and closes it there,
so the event loop never blocks on the database or the disk, and every request sees
freshly reconciled state (a dead monitor is noticed by the next request).  The store's
connection is the worker thread's own, kept between its calls (``_ThreadDatabase``):
opening one (the file, the pragmas, the schema) was most of a short call's cost
(0.28 -> 0.05 ms for a container lookup).  Each call still reads in transactions of its
own, so it sees what every process committed before it.

The one long-lived reader is ``volume_list`` (``GET /volumes``): a listing of thousands
of volumes costs milliseconds to build, so its encoded answer is kept on a connection of
its own, under a lock, and served again only while that connection's ``PRAGMA
data_version`` says no process has committed anything since (``VolumeListCache``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from orlop.config import EngineConfig
from orlop.server.wire import json_response
from orlop.state import Database
from orlop.state.db import file_identity

if TYPE_CHECKING:
    import sqlite3
    from pathlib import Path

    from orlop.engine import Engine
    from orlop.server.sessions import Sessions
    from orlop.server.volumelist import VolumeListCache

T = TypeVar("T")

DEFAULT_BODY_LIMIT = 1 << 20  # 1 MiB for JSON bodies (security-principles F3)
DEFAULT_STREAM_LIMIT = 16 << 30  # tar uploads (import, archive, load): spooled, bounded


@dataclass
class ServerContext:
    config: EngineConfig
    workers: int = 8
    body_limit: int = DEFAULT_BODY_LIMIT
    stream_limit: int = DEFAULT_STREAM_LIMIT
    executor: ThreadPoolExecutor = field(init=False)
    sessions: Sessions = field(init=False)
    # GET /volumes: the encoded answer kept per filter set while the database is
    # unchanged (VolumeListCache says why that cannot serve stale data).  Long-lived,
    # unlike the per-call engines: its whole point is to outlive a request.
    volume_list: VolumeListCache = field(init=False)

    def __post_init__(self) -> None:
        from orlop.server.sessions import Sessions
        from orlop.server.volumelist import VolumeListCache

        self.executor = ThreadPoolExecutor(max_workers=self.workers,
                                           thread_name_prefix="orlopd-engine")
        self.sessions = Sessions(self)
        self.volume_list = VolumeListCache(self.config)

    async def call(self, fn: Callable[[Engine], T]) -> T:
        """Run ``fn(engine)`` in a worker thread with an engine of its own."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self._run, fn)

    async def run(self, fn: Callable[[], T]) -> T:
        """Run a blocking function that needs no engine in a worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, fn)

    def _run(self, fn: Callable[[Engine], T]) -> T:
        from orlop.engine import Engine

        db = _thread_database(self.config)
        engine = Engine(self.config, db)  # the roots made (again) first
        db.revalidate()
        try:
            return fn(engine)
        finally:
            with contextlib.suppress(Exception):
                engine.close()

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.volume_list.close()


class _ThreadDatabase(Database):
    """A worker thread's connection to the store: an engine's ``close`` leaves it open
    for the thread's next call.  Before each call it is checked to be the file that is
    there now (a root deleted and made again gets a new connection)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.identity: tuple[int, int] | None = None

    def _connect(self) -> sqlite3.Connection:
        fresh = self._conn is None
        conn = super()._connect()
        if fresh:
            self.identity = file_identity(self.path)
        return conn

    def revalidate(self) -> None:
        if self._conn is not None and self.identity != file_identity(self.path):
            super().close()  # the next use opens the file that is there now

    def close(self) -> None:
        """Kept: the thread's next call uses it."""


_local = threading.local()


def _thread_database(config: EngineConfig) -> _ThreadDatabase:
    """This worker thread's connection to ``config``'s store (opened on first use)."""
    db: _ThreadDatabase | None = getattr(_local, "db", None)
    if db is None or db.path != config.db_path:
        db = _local.db = _ThreadDatabase(config.db_path)
    return db


CONTEXT = web.AppKey("orlop_context", ServerContext)


def ctx_of(request: web.Request) -> ServerContext:
    return request.app[CONTEXT]


A = TypeVar("A")


async def engine_json(request: web.Request, fn: Callable[[Engine, A], Any], arg: A
                      ) -> web.Response:
    """``fn(engine, arg)`` run on the engine's thread, its result the JSON response: the
    whole of a read-only endpoint (list, inspect) once its argument is parsed."""
    return json_response(await ctx_of(request).call(lambda e: fn(e, arg)))
