"""Container records and their mount points in the SQLite store.

Every container query of the engine is here: the functions take the connection of the
caller's transaction (several steps in one transaction: a create, a remove), and
:class:`ContainerStore` runs the one-step ones in a transaction of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from orlop.errors import ContainerNotFoundError, InvalidParameterError, NameConflictError
from orlop.state.sqlite import sqlite3

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms)
if TYPE_CHECKING:
    from typing import Any

    from orlop.engine.models import Container, HostConfig
    from orlop.state import Database

_COLUMNS = ("id, name, image_id, image_ref, created, config, host_config, status, pid, "
            "exit_code, started_at, finished_at, error, runtime, restart_count, oom_killed, "
            "manually_stopped")


def _row_to_container(row: sqlite3.Row) -> Container:
    # Imported here: the models' dataclasses cost ~5 ms to build, which a `volume ls`
    # (whose reconciliation only asks which containers are live) must not pay.
    from orlop.engine.models import Container, ContainerConfig, HostConfig

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
    check_name_free(conn, c.name)
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
    import json

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
    import json

    conn.execute("UPDATE containers SET creating_volumes = ? WHERE id = ?",
                 (json.dumps(list(names)), container_id))


# A container still being created (engine/containers/create.py) is nobody's to see or touch.
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
    import json

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


def check_name_free(conn: sqlite3.Connection, name: str) -> None:
    """Docker's conflict error if a container (in any state) already has ``name``."""
    owner = conn.execute("SELECT id FROM containers WHERE name = ?", (name,)).fetchone()
    if owner is not None:
        raise NameConflictError(name, owner["id"])


def set_host_config(conn: sqlite3.Connection, container_id: str, hc: HostConfig) -> None:
    conn.execute("UPDATE containers SET host_config = ? WHERE id = ?",
                 (hc.to_json(), container_id))


def anonymous_volume_names(conn: sqlite3.Connection) -> set[str]:
    """Names of every anonymous volume (the ones ``rm -v`` may remove)."""
    return {r["name"] for r in conn.execute("SELECT name FROM volumes WHERE anonymous = 1")}


def volume_names(conn: sqlite3.Connection, container_id: str) -> list[str]:
    """The volumes the container's mount points name."""
    return [r["volume_name"] for r in conn.execute(
        "SELECT DISTINCT volume_name FROM mount_points WHERE container_id = ? AND "
        "volume_name IS NOT NULL", (container_id,))]


def delete_creating(conn: sqlite3.Connection, container_id: str) -> None:
    """The record of a create that failed or whose creator died (nothing else)."""
    conn.execute("DELETE FROM containers WHERE id = ? AND status = 'creating'",
                 (container_id,))


# --- links (engine/net/links.py) ---------------------------------------------------


def insert_legacy_links(conn: sqlite3.Connection, container_id: str,
                        links: Sequence[tuple[str, str]]) -> None:
    """(alias, target id) pairs; a second link with the same alias is ignored, as
    dockerd ignores a link whose name is taken."""
    conn.executemany("INSERT OR IGNORE INTO legacy_links (container_id, alias, target_id) "
                     "VALUES (?,?,?)", [(container_id, a, t) for a, t in links])


def legacy_links(conn: sqlite3.Connection, container_id: str) -> list[tuple[str, str]]:
    """The container's legacy links: (alias, target id), in the order made."""
    return [(r["alias"], r["target_id"]) for r in conn.execute(
        "SELECT alias, target_id FROM legacy_links WHERE container_id = ? ORDER BY rowid",
        (container_id,))]


def legacy_parents(conn: sqlite3.Connection, target_id: str) -> list[tuple[str, str]]:
    """Who links to ``target_id``: (linking container id, alias)."""
    return [(r["container_id"], r["alias"]) for r in conn.execute(
        "SELECT container_id, alias FROM legacy_links WHERE target_id = ? ORDER BY rowid",
        (target_id,))]


def legacy_link_names(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """target id -> the names its legacy links give it (``/this/alias``), which dockerd
    lists in its ``Names`` after its own."""
    out: dict[str, list[str]] = {}
    for r in conn.execute("SELECT l.target_id, c.name, l.alias FROM legacy_links l JOIN "
                          "containers c ON c.id = l.container_id ORDER BY l.rowid"):
        out.setdefault(r["target_id"], []).append(f"/{r['name']}/{r['alias']}")
    return out


def delete_legacy_link(conn: sqlite3.Connection, container_id: str, alias: str) -> str | None:
    """Remove one legacy link; its target's id, or None when there was no such link."""
    row = conn.execute("SELECT target_id FROM legacy_links WHERE container_id = ? AND "
                       "alias = ?", (container_id, alias)).fetchone()
    if row is None:
        return None
    conn.execute("DELETE FROM legacy_links WHERE container_id = ? AND alias = ?",
                 (container_id, alias))
    return str(row["target_id"])


def insert_endpoint_links(conn: sqlite3.Connection, container_id: str, network_id: str,
                          links: Sequence[tuple[str, str]]) -> None:
    """An endpoint's ``Links`` ((target name, alias) pairs, in order); the endpoint's row
    must exist (the foreign key)."""
    conn.executemany(
        "INSERT INTO endpoint_links (container_id, network_id, position, target, alias) "
        "VALUES (?,?,?,?,?)",
        [(container_id, network_id, i, t, a) for i, (t, a) in enumerate(links)])


def endpoint_links(conn: sqlite3.Connection, container_id: str
                   ) -> dict[str, list[tuple[str, str]]]:
    """network id -> the container's endpoint links there: (target name, alias)."""
    out: dict[str, list[tuple[str, str]]] = {}
    for r in conn.execute("SELECT network_id, target, alias FROM endpoint_links WHERE "
                          "container_id = ? ORDER BY network_id, position", (container_id,)):
        out.setdefault(r["network_id"], []).append((r["target"], r["alias"]))
    return out


def endpoint_links_on(conn: sqlite3.Connection, network_id: str
                      ) -> list[tuple[str, str, str]]:
    """Every endpoint link on a network: (linking container id, target name, alias)."""
    return [(r["container_id"], r["target"], r["alias"]) for r in conn.execute(
        "SELECT container_id, target, alias FROM endpoint_links WHERE network_id = ? "
        "ORDER BY container_id, position", (network_id,))]


class ContainerStore:
    """The container records over the shared database, for callers with no transaction
    of their own: each method is one transaction.  :meth:`read` and :meth:`write` give
    the connection for several steps in one (with this module's functions)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self.db.read() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        with self.db.write() as conn:
            yield conn

    def get(self, container_id: str) -> Container | None:
        """By full id, in any state (None: no record)."""
        with self.db.read() as conn:
            return get_by_id(conn, container_id)

    def resolve(self, ref: str) -> Container:
        with self.db.read() as conn:
            return resolve(conn, ref)

    def list_all(self) -> list[Container]:
        with self.db.read() as conn:
            return list_all(conn)

    def mount_points(self, container_id: str) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            return mount_points(conn, container_id)

    def volume_names(self, container_id: str) -> list[str]:
        with self.db.read() as conn:
            return volume_names(conn, container_id)

    def update(self, container_id: str, **fields: Any) -> bool:
        """Set state fields if the record still exists; whether it did."""
        with self.db.write() as conn:
            if get_by_id(conn, container_id) is None:
                return False
            set_state(conn, container_id, **fields)
            return True

    def set_host_config(self, container_id: str, hc: HostConfig) -> None:
        with self.db.write() as conn:
            set_host_config(conn, container_id, hc)

    def live(self) -> list[tuple[str, str]]:
        """(id, status) of every container a process should be holding: running,
        paused, restarting, or being created."""
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT id, status FROM containers WHERE status IN "
                "('running', 'paused', 'restarting', 'creating')").fetchall()
        return [(r["id"], r["status"]) for r in rows]

    def creating_volumes(self, container_id: str) -> list[str] | None:
        """The anonymous volumes a create in progress recorded; None if the container
        is not (any more) being created."""
        import json

        with self.db.read() as conn:
            row = conn.execute("SELECT status, creating_volumes FROM containers "
                               "WHERE id = ?", (container_id,)).fetchone()
        if row is None or row["status"] != "creating":
            return None
        return [str(n) for n in json.loads(row["creating_volumes"] or "[]")]

    def set_creating_volumes(self, container_id: str, names: Sequence[str]) -> None:
        with self.db.write() as conn:
            set_creating_volumes(conn, container_id, names)

    def delete_creating(self, container_id: str) -> None:
        with self.db.write() as conn:
            delete_creating(conn, container_id)

    def ids(self) -> set[str]:
        """Ids of every container with a record, whatever its state."""
        with self.db.read() as conn:
            return {r["id"] for r in conn.execute("SELECT id FROM containers")}

    def volume_mount_refs(self) -> set[str]:
        """Every holder of a volume mount reference (a container id, or a helper's)."""
        with self.db.read() as conn:
            return {r[0] for r in conn.execute("SELECT DISTINCT ref FROM volume_mounts")}
