"""Operation markers (state/inflight.py): a marker is dead only once its process is."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from orlop.state import inflight


def test_inflight_marker_held_while_operation_runs_then_gone(tmp_path: Path) -> None:
    with inflight.operation(tmp_path):
        with inflight.operation(tmp_path):  # nested: one marker
            assert len(os.listdir(tmp_path / inflight.DIR_NAME)) == 1
        assert inflight.dead_markers(tmp_path) == []  # ours, and held
    assert os.listdir(tmp_path / inflight.DIR_NAME) == []


def test_inflight_marker_of_killed_process_is_dead_then_cleared(tmp_path: Path) -> None:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        with inflight.operation(tmp_path):
            os.write(w, b"x")
            signal.pause()
        os._exit(0)
    os.close(w)
    assert os.read(r, 1) == b"x"
    os.close(r)
    assert inflight.dead_markers(tmp_path) == []  # still running
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    dead = inflight.dead_markers(tmp_path)
    assert len(dead) == 1 and dead[0].startswith(f"{pid}-")
    inflight.clear(tmp_path, dead)
    assert inflight.dead_markers(tmp_path) == []


def test_inflight_unlocked_marker_of_live_process_is_not_dead(tmp_path: Path) -> None:
    """Its creator may be between open() and flock(): a running pid keeps it alive."""
    d = tmp_path / inflight.DIR_NAME
    d.mkdir()
    (d / f"{os.getppid()}-abc").touch()
    (d / "999999999-abc").touch()  # no such pid
    assert inflight.dead_markers(tmp_path) == ["999999999-abc"]
