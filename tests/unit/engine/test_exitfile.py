"""The exit codes --rm containers leave for `wait` (engine/containers/exitfile.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from orlop.config import EngineConfig
from orlop.engine.containers import exitfile


def test_exit_file_written_and_old_ones_swept_now_and_then(tmp_path: Path) -> None:
    cfg = EngineConfig(tmp_path / "root", tmp_path / "run")
    d = cfg.run_root / "containers"
    d.mkdir(parents=True)
    old = d / ("a" * 64 + ".exit")
    old.write_text("1")
    past = time.time() - exitfile.EXIT_FILE_TTL_S - 5
    os.utime(old, (past, past))
    exitfile.write_exit_file(cfg, "b" * 64, 3)
    assert (d / ("b" * 64 + ".exit")).read_text() == "3"
    assert not old.exists()  # the first write sweeps
    old.write_text("1")
    os.utime(old, (past, past))
    exitfile.write_exit_file(cfg, "c" * 64, 0)
    assert old.exists()  # not again within SWEEP_INTERVAL_S
    stamp = next(p for p in d.iterdir() if not p.name.startswith(("a", "b", "c")))
    back = time.time() - exitfile.SWEEP_INTERVAL_S - 1
    os.utime(stamp, (back, back))
    exitfile.write_exit_file(cfg, "d" * 64, 0)
    assert not old.exists()
    assert sorted(p.name for p in d.iterdir() if p.name[0] in "bcd") == [
        "b" * 64 + ".exit", "c" * 64 + ".exit", "d" * 64 + ".exit"]
