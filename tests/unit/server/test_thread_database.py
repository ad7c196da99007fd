"""orlopd's per-thread connection to the store (server/context.py)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from orlop.config import EngineConfig
from orlop.engine import Engine
from orlop.server.context import ServerContext, _thread_database


def _config(tmp_path: Path) -> EngineConfig:
    return EngineConfig(tmp_path / "root", tmp_path / "run")


def test_thread_keeps_its_connection_across_calls(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    ctx = ServerContext(cfg)
    try:
        seen = []
        for _ in range(3):
            def call(e: Engine) -> None:
                e.list_containers(all_=True)
                seen.append((threading.get_ident(), id(e.db), id(e.db._conn)))
            ctx._run(call)
        assert len(set(seen)) == 1  # same thread, same connection
        # Another thread has its own.
        other: list[int] = []
        t = threading.Thread(target=lambda: other.append(id(_thread_database(cfg))))
        t.start()
        t.join()
        assert other[0] != seen[0][1]
    finally:
        ctx.close()


def test_connection_reopened_when_the_root_was_made_again(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    ctx = ServerContext(cfg)
    try:
        ctx._run(lambda e: e.list_containers(all_=True))
        db = _thread_database(cfg)
        first = db._conn
        assert first is not None
        shutil.rmtree(cfg.root)
        # The next call makes the root and a new store, and uses that one.
        names = ctx._run(lambda e: [c.name for c in e.list_containers(all_=True)])
        assert names == []
        assert db._conn is not first and (cfg.root / "orlop.db").exists()
    finally:
        ctx.close()
