"""Fixtures for the volume unit tests: a service on a plain temporary root (no mounts)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orlop.config import EngineConfig
from orlop.state import Database
from orlop.volumes.service import VolumeService
from testsupport import add_container


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


def remove_container(db: Database, cid: str) -> None:
    with db.write() as conn:
        conn.execute("DELETE FROM containers WHERE id = ?", (cid,))
