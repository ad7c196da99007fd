"""The installed `orlop` command's start (orlop/launcher.py): the interpreter runs with
``-S`` and add_site_paths puts on ``sys.path`` what ``site`` would, minus the code of
``.pth`` files and ``sitecustomize``.  Each case compares a fresh ``python3 -S`` against
a normal start of the same interpreter, in the same environment."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from orlop import launcher

SRC = Path(__file__).resolve().parents[2] / "src"

_SHOW = ("import json, sys; print(json.dumps({'path': sys.path[1:], "
         "'modules': sorted(m for m in ('sitecustomize', 'usercustomize') "
         "if m in sys.modules), 'exit': hasattr(__builtins__, 'exit')}))")
_LAUNCH = f"from orlop.launcher import add_site_paths; add_site_paths(); {_SHOW}"


def _start(*args: str, env: dict[str, str], cwd: Path) -> dict[str, object]:
    res = subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True,
                         text=True, check=True)
    out: dict[str, object] = json.loads(res.stdout.splitlines()[-1])
    return out


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return {**env, **extra}


def test_same_path_as_site(tmp_path: Path) -> None:
    """The real site-packages of this interpreter (and its .pth files' directories),
    after PYTHONPATH's entries, a relative one included: as a normal start has them."""
    (tmp_path / "rel").mkdir()
    env = _env(PYTHONPATH=os.pathsep.join([str(SRC), "rel", str(tmp_path)]))
    normal = _start("-c", _SHOW, env=env, cwd=tmp_path)
    ours = _start("-S", "-c", _LAUNCH, env=env, cwd=tmp_path)
    assert ours["path"] == normal["path"]
    assert ours["exit"] is True  # site's builtins (exit, quit, help) are there too
    assert sysconfig.get_paths()["purelib"] in ours["path"]  # type: ignore[operator]


def test_pth_paths_without_their_code(tmp_path: Path) -> None:
    """A user site's .pth: its directory line is honoured, its import line is not run;
    sitecustomize and usercustomize (found on PYTHONPATH) are not imported."""
    user = tmp_path / "user"
    env = _env(PYTHONUSERBASE=str(user), PYTHONPATH=str(tmp_path / "custom"))
    usersite = Path(subprocess.run(
        [sys.executable, "-c", "import site; print(site.getusersitepackages())"], env=env,
        capture_output=True, text=True, check=True).stdout.strip())
    usersite.mkdir(parents=True)
    (usersite / "extra").mkdir()
    marker = tmp_path / "ran"
    (usersite / "a.pth").write_text(
        f"# a comment\nextra\nmissing\nimport pathlib; pathlib.Path({str(marker)!r}).touch()\n")
    (tmp_path / "custom").mkdir()
    for name in ("sitecustomize", "usercustomize"):
        (tmp_path / "custom" / f"{name}.py").write_text("")

    normal = _start("-c", _SHOW, env=env, cwd=tmp_path)
    assert marker.exists() and normal["modules"] == ["sitecustomize", "usercustomize"]
    marker.unlink()
    ours = _start("-S", "-c", _LAUNCH.replace("from orlop", f"import sys; sys.path.insert("
                                              f"1, {str(SRC)!r}); from orlop", 1),
                  env=env, cwd=tmp_path)
    assert not marker.exists()
    assert ours["modules"] == []
    assert str(usersite / "extra") in ours["path"]  # type: ignore[operator]
    assert str(usersite / "missing") not in ours["path"]  # type: ignore[operator]
    # site skips a directory already on the path: SRC is one when this checkout is the
    # editable install (its .pth names it), as on CI
    assert ours["path"] == list(dict.fromkeys([str(SRC), *normal["path"]]))  # type: ignore[misc]


def _venv(tmp_path: Path) -> tuple[Path, Path]:
    """An empty venv (no pip, no system site-packages): what a `pip install` into it
    would leave, with Orlop's sources reached by a .pth file."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site_packages = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip())
    return python, site_packages


@pytest.mark.parametrize("pth", ["path", "import hook"])
def test_launcher_in_a_venv(tmp_path: Path, pth: str) -> None:
    """The launcher of a venv's interpreter finds Orlop through the venv's .pth file: a
    directory line (an editable install), or only an import line (an installer's finder
    hook), for which it falls back to the whole of site."""
    python, site_packages = _venv(tmp_path)
    line = str(SRC) if pth == "path" else f"import sys; sys.path.append({str(SRC)!r})"
    (site_packages / "orlop-src.pth").write_text(line + "\n")
    cmd = tmp_path / "orlop"
    assert launcher.write(str(cmd), launcher.script(str(python)))
    res = subprocess.run([str(cmd), "--help"], env=_env(), capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stderr
    assert "Usage:  orlop [OPTIONS] COMMAND" in res.stdout


def test_script_and_write(tmp_path: Path) -> None:
    text = launcher.script("/opt/py/bin/python3")
    assert text.startswith("#!/opt/py/bin/python3 -S\n")
    compile(text, "orlop", "exec")
    assert "def add_site_paths() -> None:" in text and text.endswith("run()\n")
    path = tmp_path / "orlop"
    path.write_text("#!/usr/bin/python3\nold console script\n")
    assert launcher.write(str(path), text)
    assert path.read_text() == text
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert not launcher.write(str(path), text)  # already there: left alone
    assert [p.name for p in tmp_path.iterdir()] == ["orlop"]
    (tmp_path / "adir").mkdir()
    with pytest.raises(OSError):
        launcher.write(str(tmp_path / "adir"), text)  # the rename fails: no leftover
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "orlop"]


def test_installed_command_skips_an_egg_info_that_lists_no_command(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """setup.sh runs the launcher with src on PYTHONPATH, where an editable build leaves
    orlop.egg-info (sources only): the command comes from the installed dist-info."""
    src = tmp_path / "src"
    (src / "orlop.egg-info").mkdir(parents=True)
    (src / "orlop.egg-info" / "PKG-INFO").write_text("Name: orlop\nVersion: 0.1.0\n")
    (src / "orlop.egg-info" / "SOURCES.txt").write_text("src/orlop/__init__.py\n")
    site = tmp_path / "lib" / "site-packages"
    info = site / "orlop-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Name: orlop\nVersion: 0.1.0\n")
    (info / "RECORD").write_text("../../bin/orlop,,\norlop-0.1.0.dist-info/RECORD,,\n")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "orlop").write_text("#!/bin/sh\n")
    monkeypatch.setattr(sys, "path", [str(src), str(site)])
    assert launcher.installed_command() == os.path.realpath(tmp_path / "bin" / "orlop")
    monkeypatch.setattr(sys, "path", [str(src)])
    with pytest.raises(SystemExit, match="lists no `orlop` command"):
        launcher.installed_command()


def test_the_command_runs_with_the_launchers_collector_thresholds(tmp_path: Path) -> None:
    """The launcher's text and ``python -m orlop`` set GC_THRESHOLDS before the CLI's
    imports (a command whose ``run()`` is replaced by a report of them)."""
    text = launcher.script(sys.executable).replace(
        "\nrun()\n", "\nimport gc; print(list(gc.get_threshold()))\n")
    cmd = tmp_path / "orlop"
    cmd.write_text(text)
    cmd.chmod(0o755)
    env = {**_env(), "PYTHONPATH": str(SRC)}
    out = subprocess.run([str(cmd)], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == list(launcher.GC_THRESHOLDS)
    probe = ("import runpy, gc, orlop.cli.main as m\n"
             "m.run = lambda: print(list(gc.get_threshold()))\n"
             "runpy.run_module('orlop', run_name='__main__')\n")
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                         text=True, check=True)
    assert json.loads(out.stdout) == list(launcher.GC_THRESHOLDS)
    assert launcher.GC_THRESHOLDS[0] > 700
