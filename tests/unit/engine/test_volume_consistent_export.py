"""``volume export --consistent``'s two ways (engine/files/volumebackup.py), with a fake
engine around a real volume service: the writers are paused around a snapshot (reflink
filesystems) or around the whole export (others), and always resumed."""

from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from orlop.config import EngineConfig
from orlop.engine.files import volumebackup
from orlop.state import Database
from orlop.volumes.service import VolumeService
from orlop.volumes.snapshots import SnapshotStore


@dataclass
class _Container:
    status: str


@dataclass
class _FakeEngine:
    volumes: VolumeService
    calls: list[tuple[str, bool, list[str]]] = field(default_factory=list)

    def get_container(self, ref: str) -> Any:
        return _Container("running")

    def pause_container(self, ref: str, paused: bool = True) -> Any:
        snaps = [s.name for s in SnapshotStore(self.volumes).list("cv")]
        self.calls.append((ref, paused, snaps))


@pytest.mark.parametrize("reflink", [True, False])
def test_consistent_export_pauses_and_resumes(tmp_path: Path, reflink: bool,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = EngineConfig(root=tmp_path / "root", run_root=tmp_path / "run")
    cfg.root.mkdir(parents=True)
    db = Database(cfg.db_path)
    try:
        svc = VolumeService(cfg, db)
        vol = svc.create("cv")
        (vol.mountpoint / "f").write_text("data")
        engine = _FakeEngine(svc)
        monkeypatch.setattr(volumebackup, "writers", lambda e, n: [("c1id", "c1")])
        monkeypatch.setattr(volumebackup, "can_reflink", lambda e: reflink)
        out = tmp_path / "out.tar"
        fd = os.open(out, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            volumebackup.export_volume(engine, "cv", fd, consistent=True)
        finally:
            os.close(fd)
        assert [(ref, paused) for ref, paused, _ in engine.calls] == [
            ("c1id", True), ("c1id", False)]
        if reflink:  # frozen only while the temporary snapshot was taken
            assert engine.calls[0][2] == [] and engine.calls[1][2][0].startswith("export-")
        assert SnapshotStore(svc).list("cv") == []  # the temporary snapshot is gone
        with tarfile.open(out) as tf:
            member = tf.extractfile("f")
            assert member is not None and member.read() == b"data"
    finally:
        db.close()
