"""`orlop version`, `info`, `--help`, and the crun subset of the data model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import Orlop, mounts_under


def test_version_and_info(bb: Orlop) -> None:
    out = bb.ok("version")
    assert "Version:" in out and "API version:" in out
    assert bb.ok("version", "-f", "{{.Server.Version}}").strip() == \
        bb.ok("version", "-f", "{{.Client.Version}}").strip()
    bb.ok("create", "busybox", "true")
    info = bb.ok("info")
    assert " Containers: 1" in info and " Images: 1" in info
    assert str(bb.root) in info
    assert bb.ok("info", "-f", "{{.Containers}} {{.Images}} {{.Driver}}") == "1 1 overlay2\n"


def test_help_does_not_import_the_runtime() -> None:
    code = ("import sys; from orlop.cli.main import main; main(['--help']); "
            "bad = [m for m in sys.modules if m.startswith(('orlop.runtime', 'orlop.engine', "
            "'orlop.kernel', 'sqlite3', 'orlop.client.transport', 'ssl', 'http.client', "
            "'aiohttp'))]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().endswith("[]")


def test_unknown_command_and_bad_flag(orlop: Orlop) -> None:
    res = orlop("frobnicate")
    assert res.returncode == 1 and "'frobnicate' is not an orlop command" in res.stderr
    res = orlop("run", "--no-such-flag", "busybox")
    assert res.returncode == 125 and "--no-such-flag" in res.stderr


@pytest.mark.skipif(not os.path.exists("/usr/bin/crun"), reason="crun is not installed")
def test_crun_runs_the_same_data_model(bb: Orlop, tmp_orlop_dir: Path) -> None:
    host = tmp_orlop_dir / "h"
    host.mkdir()
    bb.ok("create", "--name", "dbdata", "-v", "/dbdata", "busybox", "true")
    out = bb.ok("run", "--rm", "--runtime", "crun", "-v", "cv:/data", "-v", f"{host}:/h:ro",
                "--tmpfs", "/t:size=1m", "--volumes-from", "dbdata", "busybox", "sh", "-c",
                "echo v > /data/f; echo d > /dbdata/f; touch /h/x 2>&1; "
                "grep -c ' /t ' /proc/self/mountinfo; echo $$")
    assert "Read-only file system" in out
    assert out.split()[-2:] == ["1", "1"]
    assert (bb.root / "volumes/cv/_data/f").read_text() == "v\n"
    # The built-in runtime sees what crun wrote into the data-volume container's volume.
    assert bb.ok("run", "--rm", "--volumes-from", "dbdata", "busybox", "cat",
                 "/dbdata/f") == "d\n"
    assert not mounts_under(str(bb.root))
