"""The kept ``GET /volumes`` answer of a long-running server (:class:`VolumeListCache`)."""

from __future__ import annotations

import builtins
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from typing import Any, TypeVar, cast

from orlop.config import EngineConfig
from orlop.errors import InvalidParameterError, PermissionDeniedError
from orlop.state import Database
from orlop.state.layout import prepare_root
from orlop.volumes.filters import build_filter, filter_key
from orlop.volumes.service import VolumeService

T = TypeVar("T")


class VolumeListCache:
    """:meth:`VolumeService.list_inspect`, rendered once per change of the database, for a
    long-running server (orlopd's ``GET /volumes``; the CLI lists once per process and
    has no use for it, hence it lives here and not in the volume package).

    Why: a server answers the same listing many times between two changes, and building
    it (1,000 volumes: rows, dicts, JSON) costs far more than the request around it.

    Why it never serves stale data: it reads on a connection of its own, which never
    writes, and keeps each answer with that connection's ``PRAGMA data_version``, read in
    the *same* read transaction as the rows.  SQLite gives that number a new value
    whenever any other connection -- in this process or in another one: the CLI,
    monitors, the server's own per-request engines -- commits to the database, and no
    commit can happen while the read transaction holds its SHARED lock (rollback
    journal).  So a kept answer is served only when not one commit happened since its
    rows were read; checking costs one short read transaction, no query of the tables.
    Any commit drops every kept answer, volume-related or not: coarse, but it needs no
    schema change and cannot miss a writer (a trigger or counter could be skipped by a
    process running older code).  The database file is also compared by inode, so that a
    file replaced under the same path is never read through the old connection.

    ``render`` turns the volume objects into what is kept (the server: the encoded
    response body, so that a kept answer costs no work at all).  Answers are kept per
    (render, filter set) (:func:`filter_key`), at most ``max_entries`` of them, least
    recently used dropped first.  Thread-safe: one lock
    serialises the connection; while one thread rebuilds an answer, the others wait for
    it rather than build it again.
    """

    def __init__(self, config: EngineConfig, max_entries: int = 8) -> None:
        self._config = config
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._db: Database | None = None
        self._service: VolumeService | None = None
        self._file: tuple[int, int] | None = None
        self._answers: OrderedDict[tuple[object, ...], tuple[int, object]] = OrderedDict()

    def get(self, filters: Mapping[str, Sequence[str]] | None,
            render: Callable[[builtins.list[dict[str, Any]]], T]) -> T:
        """``render(list_inspect(filters))``, as fresh as a new read of the database.

        ``render`` must be a function of its argument only (it is part of the key: pass
        the same function object, e.g. a module-level one, to share answers)."""
        key = (render, *filter_key(filters))
        with self._lock:
            service = self._open()
            if service.drivers.plugins():
                # Volume plugins list volumes no database change announces (another
                # host's): asked each time, as Docker asks its drivers.
                return render(service.list_inspect(filters))
            try:
                with service.store.read() as tx:
                    version = tx.data_version()
                    kept = self._answers.get(key)
                    if kept is not None and kept[0] == version:
                        self._answers.move_to_end(key)
                        return cast(T, kept[1])
                    vols = tx.inspect(build_filter(filters))
            except InvalidParameterError:
                raise  # a bad filter: the connection is fine
            except BaseException:
                self._close()  # a connection in an unknown state is not trusted again
                raise
            value = render(vols)
            self._answers[key] = (version, value)
            self._answers.move_to_end(key)
            while len(self._answers) > self._max_entries:
                self._answers.popitem(last=False)
            return value

    def _open(self) -> VolumeService:
        path = self._config.db_path
        try:
            st = os.stat(path)
            ident: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            ident = None  # the first connect creates it; the next call reopens once
        if self._service is None or ident is None or ident != self._file:
            self._close()
            if ident is None:
                try:  # as Engine() does: a server may list before anything made the root
                    prepare_root(self._config.root)
                except OSError as err:
                    raise PermissionDeniedError(
                        f"cannot use {self._config.root} as the engine's root: "
                        f"{err.strerror}") from err
            self._db = Database(path)
            self._service = VolumeService(self._config, self._db)
            self._file = ident
        return self._service

    def _close(self) -> None:
        self._answers.clear()  # data_version values mean nothing on another connection
        if self._db is not None:
            with suppress(Exception):
                self._db.close()
        self._db = None
        self._service = None
        self._file = None

    def close(self) -> None:
        with self._lock:
            self._close()


__all__ = ["VolumeListCache"]
