"""One SQLite connection per process, with the settings every `orlop` process shares.

Several CLI processes use the same database at once, so: a rollback journal with
``synchronous=FULL`` (not WAL: SQLite 3.40, which Debian 12 links, has the WAL-reset
corruption bug with several writers, see research/security-principles.md b.3),
``BEGIN IMMEDIATE`` for every write so that two writers queue instead of failing on
a read->write upgrade, and a busy timeout long enough for a slow disk.

The journal is kept between transactions (``journal_mode=PERSIST``) instead of deleted
after each (SQLite's default, ``DELETE``): a commit then ends by zeroing the journal's
header and syncing it, where ``DELETE`` ends with an unlink that ``synchronous=FULL``
does not sync (only ``EXTRA`` does), so a power cut right after a commit could bring the
journal back and roll the committed transaction back; and the journal made afresh for
each transaction cost a sync of the root directory every time (1 to 2 ms of each
commit here, four commits in a ``run --rm``; issue 17).  ``journal_size_limit`` caps
what a kept journal holds after a large transaction.  Connections of other processes
in another rollback mode (an older Orlop, the ``sqlite3`` shell) share the file safely:
a journal with a zeroed header is not a hot one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orlop.errors import SystemFailureError
from orlop.state.schema import MIGRATIONS, SCHEMA_VERSION
from orlop.state.sqlite import sqlite3

BUSY_TIMEOUT_S = 30.0


class Database:
    """The store.  ``read()`` and ``write()`` each open one transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        try:
            conn = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as err:
            raise SystemFailureError(f"cannot open the state database {self.path}: {err}") from err
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=PERSIST")
        conn.execute("PRAGMA journal_size_limit=4194304")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        self._conn = conn
        self._migrate(conn)
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise SystemFailureError(
                f"the state database {self.path} has schema version {version}, newer than "
                f"this orlop ({SCHEMA_VERSION}): upgrade orlop"
            )
        while version < SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have migrated while we waited for the lock.
                current = int(conn.execute("PRAGMA user_version").fetchone()[0])
                if current == version:
                    for statement in _split_sql(MIGRATIONS[version]):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version={version + 1}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several SELECTs."""
        conn = self._connect()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: all of it commits, or none of it."""
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _split_sql(script: str) -> list[str]:
    """Statements of a migration script; executescript() would COMMIT on its own."""
    out: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


def file_identity(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(device, inode) of the store's file, None when there is none: whether a
    connection kept open (orlopd's worker threads, its spare helper) still reads the
    file at ``path``, or one of a root deleted and made again meanwhile."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino
