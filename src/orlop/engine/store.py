"""Container records and their mount points in the SQLite store."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from orlop.engine.models import Container, ContainerConfig, HostConfig
from orlop.errors import ContainerNotFoundError, InvalidParameterError, NameConflictError

_COLUMNS = ("id, name, image_id, image_ref, created, config, host_config, status, pid, "
            "exit_code, started_at, finished_at, error, runtime, restart_count, oom_killed, "
            "manually_stopped")


def _row_to_container(row: sqlite3.Row) -> Container:
    return Container(
        id=row["id"], name=row["name"], image_id=row["image_id"], image_ref=row["image_ref"],
        created=row["created"], config=ContainerConfig.from_json(row["config"]),
        host_config=HostConfig.from_json(row["host_config"]), status=row["status"],
        pid=row["pid"], exit_code=row["exit_code"], started_at=row["started_at"],
        finished_at=row["finished_at"], error=row["error"], runtime=row["runtime"],
        restart_count=row["restart_count"], oom_killed=bool(row["oom_killed"]),
        manually_stopped=bool(row["manually_stopped"]),
    )


def insert(conn: sqlite3.Connection, c: Container,
           mount_points: Sequence[tuple[str, str, str | None, dict[str, Any]]]) -> None:
    """Insert a container and its mount points: (destination, type, volume_name, spec).

    Runs inside the caller's write transaction, so a name conflict or a volume that a
    racing `volume rm` deleted (the foreign key) rolls back everything.
    """
    owner = conn.execute("SELECT id FROM containers WHERE name = ?", (c.name,)).fetchone()
    if owner is not None:
        raise NameConflictError(c.name, owner["id"])
    conn.execute(
        f"INSERT INTO containers ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (c.id, c.name, c.image_id, c.image_ref, c.created, c.config.to_json(),
         c.host_config.to_json(), c.status, c.pid, c.exit_code, c.started_at, c.finished_at,
         c.error, c.runtime, c.restart_count, int(c.oom_killed), int(c.manually_stopped)),
    )
    insert_mount_points(conn, c.id, mount_points)


def insert_mount_points(conn: sqlite3.Connection, container_id: str,
                        mount_points: Sequence[tuple[str, str, str | None, dict[str, Any]]]
                        ) -> None:
    for pos, (dest, mtype, vol, spec) in enumerate(mount_points):
        conn.execute(
            "INSERT INTO mount_points (container_id, destination, position, type, volume_name,"
            " spec) VALUES (?,?,?,?,?,?)",
            (container_id, dest, pos, mtype, vol, json.dumps(spec, sort_keys=True)),
        )


def finish_create(conn: sqlite3.Connection, c: Container,
                  mount_points: Sequence[tuple[str, str, str | None, dict[str, Any]]]) -> None:
    """The last step of a create: the final configs, the mount points (references to
    the volumes) and the end of the 'creating' state, in the caller's transaction."""
    cur = conn.execute(
        "UPDATE containers SET config = ?, host_config = ?, status = ?, "
        "creating_volumes = '[]' WHERE id = ? AND status = 'creating'",
        (c.config.to_json(), c.host_config.to_json(), c.status, c.id))
    if cur.rowcount != 1:
        raise ContainerNotFoundError(c.id)
    insert_mount_points(conn, c.id, mount_points)


def set_creating_volumes(conn: sqlite3.Connection, container_id: str,
                         names: Sequence[str]) -> None:
    conn.execute("UPDATE containers SET creating_volumes = ? WHERE id = ?",
                 (json.dumps(list(names)), container_id))


# A container still being created (Engine.create_container) is nobody's to see or touch.
_VISIBLE = "status != 'creating'"


def resolve(conn: sqlite3.Connection, ref: str) -> Container:
    """By full id, name (with or without a leading "/"), or unique id prefix (Docker's order).

    A container in the ``creating`` state is not found: its creator holds it."""
    if not ref or "\x00" in ref:
        raise ContainerNotFoundError(ref)
    row = conn.execute(f"SELECT {_COLUMNS} FROM containers WHERE id = ? AND {_VISIBLE}",
                       (ref,)).fetchone()
    if row is None:
        row = conn.execute(f"SELECT {_COLUMNS} FROM containers WHERE name = ? AND {_VISIBLE}",
                           (ref.removeprefix("/"),)).fetchone()
    if row is None and all(ch in "0123456789abcdef" for ch in ref):
        rows = conn.execute(f"SELECT {_COLUMNS} FROM containers WHERE id LIKE ? AND {_VISIBLE} "
                            "LIMIT 2",
                            (ref + "%",)).fetchall()
        if len(rows) > 1:
            raise InvalidParameterError(
                f"multiple IDs found with provided prefix: {ref}")
        row = rows[0] if rows else None
    if row is None:
        raise ContainerNotFoundError(ref)
    return _row_to_container(row)


def list_all(conn: sqlite3.Connection) -> list[Container]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM containers WHERE {_VISIBLE} "
                        "ORDER BY created DESC, rowid DESC")
    return [_row_to_container(r) for r in rows]


def mount_points(conn: sqlite3.Connection, container_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT spec FROM mount_points WHERE container_id = ? ORDER BY position", (container_id,))
    return [json.loads(r["spec"]) for r in rows]


def set_state(conn: sqlite3.Connection, container_id: str, **fields: Any) -> None:
    allowed = {"status", "pid", "exit_code", "started_at", "finished_at", "error",
               "restart_count", "oom_killed", "manually_stopped", "name"}
    if not fields or not set(fields) <= allowed:
        raise ValueError(f"bad state fields {sorted(fields)}")
    assignments = ", ".join(f"{k} = ?" for k in fields)
    conn.execute(f"UPDATE containers SET {assignments} WHERE id = ?",
                 (*fields.values(), container_id))


def get_by_id(conn: sqlite3.Connection, container_id: str) -> Container | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM containers WHERE id = ?",
                       (container_id,)).fetchone()
    return None if row is None else _row_to_container(row)


def delete(conn: sqlite3.Connection, container_id: str) -> list[str]:
    """Delete the record; returns the names of the volumes it referenced.

    Its volume mount references go too: normally released when it stopped, they are
    left by a process killed while it started the container, and would otherwise keep
    the volumes "in use" by a container that no longer exists."""
    vols = [r["volume_name"] for r in conn.execute(
        "SELECT DISTINCT volume_name FROM mount_points WHERE container_id = ? "
        "AND volume_name IS NOT NULL", (container_id,))]
    held = [r["volume_name"] for r in conn.execute(
        "SELECT volume_name FROM volume_mounts WHERE ref = ?", (container_id,))]
    if held:
        conn.execute("DELETE FROM volume_mounts WHERE ref = ?", (container_id,))
        for name in held:
            conn.execute("UPDATE volumes SET mount_count = (SELECT COUNT(*) FROM "
                         "volume_mounts WHERE volume_name = ?) WHERE name = ?", (name, name))
    conn.execute("DELETE FROM containers WHERE id = ?", (container_id,))
    return vols
