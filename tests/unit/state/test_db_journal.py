"""The store's rollback journal (state/db.py): kept between transactions, a commit's end
is its zeroed header, and a writer killed mid-transaction is rolled back by the next."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from orlop.state.db import Database

# A rollback journal is "hot" (to be played back) when it begins with this magic.
_MAGIC = bytes.fromhex("d9d505f920a163d7")


def _journal(path: Path) -> Path:
    return path.with_name(path.name + "-journal")


def _cold(journal: Path) -> bool:
    """No journal to play back: none, or one whose header was zeroed."""
    return not journal.exists() or journal.read_bytes()[:8] != _MAGIC


def test_journal_kept_with_a_zeroed_header_after_commit(tmp_path: Path) -> None:
    db = Database(tmp_path / "orlop.db")
    with db.write() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "persist"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        conn.execute("CREATE TABLE t (v TEXT)")
        conn.execute("INSERT INTO t VALUES ('kept')")
    journal = _journal(tmp_path / "orlop.db")
    assert journal.exists()
    assert _cold(journal)
    db.close()
    again = Database(tmp_path / "orlop.db")
    with again.read() as conn:
        assert [r[0] for r in conn.execute("SELECT v FROM t")] == ["kept"]
    again.close()


def test_writer_killed_mid_transaction_is_rolled_back(tmp_path: Path) -> None:
    path = tmp_path / "orlop.db"
    db = Database(path)
    with db.write() as conn:
        conn.execute("CREATE TABLE t (v TEXT)")
        conn.execute("INSERT INTO t VALUES ('before')")
    db.close()
    pid = os.fork()
    if pid == 0:  # the writer: changes pages on disk, then dies before COMMIT
        try:
            child = Database(path)
            with child.read() as conn:
                conn.execute("PRAGMA cache_size=2")  # a tiny cache spills to the file
            with child.write() as conn:
                conn.execute("UPDATE t SET v = 'lost'")
                for _ in range(20):
                    conn.execute("INSERT INTO t VALUES (hex(randomblob(4000)))")
                assert not _cold(_journal(path))  # pages written: a hot journal now
                os.kill(os.getpid(), signal.SIGKILL)
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    after = Database(path)
    with after.read() as conn:
        assert [r[0] for r in conn.execute("SELECT v FROM t")] == ["before"]
    after.close()
    assert _cold(_journal(path))
