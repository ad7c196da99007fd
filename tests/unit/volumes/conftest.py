"""Fixtures for the volume unit tests: a service on a plain temporary root (no mounts)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from orlop.config import EngineConfig
from orlop.state import Database
from orlop.volumes.service import VolumeService


@pytest.fixture
def config(tmp_path: Path) -> EngineConfig:
    return EngineConfig(root=tmp_path / "root", run_root=tmp_path / "run")


@pytest.fixture
def db(config: EngineConfig) -> Iterator[Database]:
    config.root.mkdir(parents=True)
    database = Database(config.db_path)
    yield database
    database.close()


@pytest.fixture
def svc(config: EngineConfig, db: Database) -> VolumeService:
    return VolumeService(config, db)


class Containers:
    """Fake containers in the database, as the engine records them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, *volumes: str) -> str:
        return add_container(self.db, *volumes)

    def remove(self, cid: str) -> None:
        remove_container(self.db, cid)


@pytest.fixture
def containers(db: Database) -> Containers:
    return Containers(db)


def add_container(db: Database, *volumes: str) -> str:
    """A fake stopped container whose mount points reference ``volumes``, as the engine
    records one (an images row is needed for the containers foreign key)."""
    cid = secrets.token_hex(32)
    with db.write() as conn:
        conn.execute("INSERT OR IGNORE INTO images (id, config, created, size) "
                     "VALUES ('sha256:test', '{}', '2026-01-01T00:00:00Z', 0)")
        conn.execute(
            "INSERT INTO containers (id, name, image_id, image_ref, created, config, "
            "host_config, status, runtime) VALUES (?, ?, 'sha256:test', 'test', "
            "'2026-01-01T00:00:00Z', '{}', '{}', 'exited', 'orlop')", (cid, f"c{cid[:12]}"))
        for i, vol in enumerate(volumes):
            conn.execute(
                "INSERT INTO mount_points (container_id, destination, position, type, "
                "volume_name, spec) VALUES (?, ?, ?, 'volume', ?, '{}')",
                (cid, f"/m{i}", i, vol))
    return cid


def remove_container(db: Database, cid: str) -> None:
    with db.write() as conn:
        conn.execute("DELETE FROM containers WHERE id = ?", (cid,))
