"""The `orlop` command as scripts/setup.sh installs it (orlop/launcher.py: the interpreter
with ``-S``, site-packages on the path without the .pth files' code) runs real commands:
its dependencies (pyseccomp for a container's seccomp filter) come from site-packages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orlop import launcher

SRC = Path(__file__).resolve().parents[2] / "src"


def _launcher(tmp: Path) -> Path:
    """What setup.sh writes over pip's console script, written here to a scratch dir."""
    cmd = tmp / "bin" / "orlop"
    cmd.parent.mkdir()
    subprocess.run([sys.executable, "-m", "orlop.launcher", "-o", str(cmd)], check=True,
                   env={**os.environ, "PYTHONPATH": str(SRC)}, capture_output=True)
    assert cmd.read_text().startswith(f"#!{sys.executable} -S\n")
    return cmd


@pytest.mark.root
def test_launcher_runs_a_container(tmp_orlop_dir: Path, busybox_tar: Path) -> None:
    cmd = _launcher(tmp_orlop_dir)
    env = {k: v for k, v in os.environ.items() if k not in ("ORLOP_HOST", "DOCKER_HOST")}
    env["PYTHONPATH"] = str(SRC)  # this checkout, as the tests' `python -m orlop` has it
    base = [str(cmd), "--root", str(tmp_orlop_dir / "root")]

    def ok(*args: str) -> str:
        res = subprocess.run([*base, *args], env=env, capture_output=True, text=True,
                             timeout=60, check=False)
        assert res.returncode == 0, (args, res.stderr)
        return res.stdout

    assert "Version:" in ok("version")
    ok("import", str(busybox_tar), "busybox:latest")
    out = ok("run", "--rm", "--network", "none", "-v", "data:/data", "busybox", "sh", "-c",
             "echo hi > /data/f && cat /data/f && grep Seccomp: /proc/self/status")
    assert out.split() == ["hi", "Seccomp:", "2"]
    code = ("import sys, orlop; print(sys.flags.no_site, orlop.__file__)")
    # The launcher's own interpreter flags and the checkout it loaded (PYTHONPATH honoured).
    res = subprocess.run([sys.executable, "-S", str(cmd), "--help"], env=env,
                         capture_output=True, text=True, check=True)
    assert "Usage:  orlop" in res.stdout
    res = subprocess.run([sys.executable, "-S", "-c", "from orlop.launcher import "
                          f"add_site_paths; add_site_paths(); {code}"], env=env,
                         capture_output=True, text=True, check=True)
    assert res.stdout.split() == ["1", str(SRC / "orlop" / "__init__.py")]


def test_installed_command_runs(tmp_path: Path) -> None:
    """The `orlop` command pip installed (setup.sh replaces it with the launcher) runs,
    without PYTHONPATH: the installed Orlop, whichever checkout it is."""
    try:
        cmd = launcher.installed_command()
    except SystemExit as e:
        pytest.skip(str(e))
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "ORLOP_HOST", "DOCKER_HOST")}
    res = subprocess.run([cmd, "--root", str(tmp_path / "root"), "version"], env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    assert "Version:" in res.stdout
