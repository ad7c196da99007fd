"""Schema version 5 (state/schema.py): a version-4 database gains the link tables (and
every later migration), and their foreign keys drop a link with either container
(legacy) or with its endpoint."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from orlop.engine import store
from orlop.state.db import Database, _split_sql
from orlop.state.schema import MIGRATIONS, SCHEMA_VERSION


def _v4(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:4]:
        for statement in _split_sql(script):
            conn.execute(statement)
    conn.execute("PRAGMA user_version=4")
    conn.execute("INSERT INTO images (id, config, created, size) VALUES ('i', '{}', '', 0)")
    for cid in ("a", "b", "c"):
        conn.execute("INSERT INTO containers (id, name, image_id, image_ref, created, config,"
                     " host_config, status, runtime) VALUES (?, ?, 'i', 'x', '', '{}', '{}',"
                     " 'created', 'orlop')", (cid, "n" + cid))
    conn.execute("INSERT INTO networks (id, name, driver, subnet, gateway, interface, created)"
                 " VALUES ('net', 'appnet', 'bridge', '10.1.0.0/24', '10.1.0.1', 'br0', '')")
    conn.execute("INSERT INTO endpoints (container_id, network_id, endpoint_id, ip) VALUES "
                 "('c', 'net', 'e', '10.1.0.2')")
    conn.close()


def test_version_4_migrates_and_links_go_with_what_they_name(tmp_path: Path) -> None:
    _v4(tmp_path / "orlop.db")
    db = Database(tmp_path / "orlop.db")
    with db.write() as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION >= 5
        store.insert_legacy_links(conn, "a", [("db", "b"), ("db", "c"), ("other", "c")])
        store.insert_endpoint_links(conn, "c", "net", [("up", "bar"), ("nb", "nb")])
    with db.read() as conn:
        assert store.legacy_links(conn, "a") == [("db", "b"), ("other", "c")]  # first wins
        assert store.legacy_parents(conn, "c") == [("a", "other")]
        assert store.legacy_link_names(conn) == {"b": ["/na/db"], "c": ["/na/other"]}
        assert store.endpoint_links(conn, "c") == {"net": [("up", "bar"), ("nb", "nb")]}
        assert store.endpoint_links_on(conn, "net") == [("c", "up", "bar"), ("c", "nb", "nb")]
    with db.write() as conn:
        assert store.delete_legacy_link(conn, "a", "db") == "b"
        assert store.delete_legacy_link(conn, "a", "db") is None
        conn.execute("DELETE FROM endpoints WHERE container_id = 'c'")  # a disconnect
        store.delete(conn, "c")  # the target of a's "other"
    with db.read() as conn:
        assert store.legacy_links(conn, "a") == []
        assert store.endpoint_links(conn, "c") == {}
    db.close()
