"""Removing a container's directory never deletes through a mount left inside it.

``shutil.rmtree`` (what ``rm`` used) is fd-based but crosses mount points: a bind that
failed to go away under ``containers/ID`` would have had the host directory it shows
emptied.  The removal now stops at a mount point (volumes/fsutil.remove_tree) and leaves
the rest for the repair; without one, everything goes as before."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from harness import Orlop


def _cid(o: Orlop, name: str) -> str:
    return str(json.loads(o.ok("inspect", name))[0]["Id"])


def test_rm_removes_the_whole_directory(bb: Orlop) -> None:
    bb.ok("create", "--name", "plain", "busybox", "true")
    cdir = bb.root / "containers" / _cid(bb, "plain")
    assert cdir.is_dir()
    bb.ok("rm", "plain")
    assert not cdir.exists()
    assert bb.ok("run", "--rm", "--network", "none", "busybox", "echo", "hi").strip() == "hi"
    assert list((bb.root / "containers").iterdir()) == []


def test_rm_does_not_delete_through_a_leftover_mount(bb: Orlop, tmp_path: Path) -> None:
    host = tmp_path / "hostdata"
    host.mkdir()
    (host / "precious").write_text("keep me")
    bb.ok("create", "--name", "leaky", "busybox", "true")
    cdir = bb.root / "containers" / _cid(bb, "leaky")
    target = cdir / "leftover"
    target.mkdir()
    subprocess.run(["mount", "--bind", str(host), str(target)], check=True)
    try:
        bb.ok("rm", "leaky")  # the record goes; the directory stays at the mount
        assert (host / "precious").read_text() == "keep me"
        assert "leaky" not in bb.ok("ps", "-a")
    finally:
        subprocess.run(["umount", str(target)], check=True)
    assert (host / "precious").read_text() == "keep me"
