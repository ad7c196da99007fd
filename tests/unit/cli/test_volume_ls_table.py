"""`volume ls`'s default table and -q: the one-driver listing (the names as one string
from the name index, written with one join) gives what a line per volume gives, and a
store with several drivers still lists each volume with its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from orlop.cli.main import main
from orlop.state import Database


def _run(capsys: pytest.CaptureFixture[str], root: Path, *argv: str) -> str:
    code = main(["--root", str(root), "--run-root", str(root / "run"), *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    monkeypatch.setenv("ORLOP_PLUGIN_DIRS", str(plugins))  # no host plugin is listed
    return tmp_path / "root"


def test_volume_ls_one_driver_natural_order(capsys: pytest.CaptureFixture[str],
                                            root: Path) -> None:
    assert _run(capsys, root, "volume", "ls") == "DRIVER    VOLUME NAME\n"
    assert _run(capsys, root, "volume", "ls", "-q") == ""
    for name in ("v10", "v9", "b.x", "v1", "a_1"):
        _run(capsys, root, "volume", "create", name)
    assert _run(capsys, root, "volume", "ls") == (
        "DRIVER    VOLUME NAME\n"
        "local     a_1\nlocal     b.x\nlocal     v1\nlocal     v9\nlocal     v10\n")
    assert _run(capsys, root, "volume", "ls", "-q") == "a_1\nb.x\nv1\nv9\nv10\n"


def test_volume_ls_several_drivers(capsys: pytest.CaptureFixture[str], root: Path) -> None:
    for name in ("v2", "v10"):
        _run(capsys, root, "volume", "create", name)
    # A plugin's volume recorded earlier (the plugin is gone: ls lists it from the row).
    db = Database(root / "orlop.db")
    with db.write() as conn:
        conn.execute("INSERT INTO volumes (name, driver, created_at) VALUES "
                     "('v3', 'longdrivername', '2024-01-01T00:00:00Z')")
    db.close()
    assert _run(capsys, root, "volume", "ls") == (
        "DRIVER           VOLUME NAME\n"
        "local            v2\n"
        "longdrivername   v3\n"
        "local            v10\n")
    assert _run(capsys, root, "volume", "ls", "-q") == "v2\nv3\nv10\n"
