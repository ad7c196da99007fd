"""Nothing of a removed container stays under the run root (issue 15)."""

from __future__ import annotations

import os
import time

from harness import Orlop


def _run_files(o: Orlop, cid: str) -> list[str]:
    run_dir = o.root / "run" / "containers"
    if not run_dir.exists():
        return []
    return sorted(n for n in os.listdir(run_dir) if n.startswith(cid))


def test_rm_of_detached_container_leaves_no_run_root_files(bb: Orlop) -> None:
    """`-d` containers used to leave <id>.exit behind after rm; every kind of removal
    (stopped, rm -f of a running one, a foreground one) now leaves none."""
    stopped = bb.ok("run", "-d", "busybox", "true").strip()
    assert bb.ok("wait", stopped).strip() == "0"
    assert _run_files(bb, stopped)  # the exit code is kept while the container exists
    running = bb.ok("run", "-d", "-i", "busybox", "sleep", "60").strip()
    bb.ok("run", "--name", "fg", "busybox", "true")
    fg = bb.ok("inspect", "-f", "{{.Id}}", "fg").strip()
    bb.ok("rm", stopped)
    bb.ok("rm", "-f", running)
    bb.ok("rm", "fg")
    for cid in (stopped, running, fg):
        assert _run_files(bb, cid) == []
    assert bb.ok("ps", "-aq") == ""


def test_rm_container_exit_code_outlives_it_for_wait_then_is_swept(bb: Orlop) -> None:
    """A --rm container removed by its monitor keeps its exit code for a racing `wait`;
    a minute later the next monitor that writes one drops it."""
    cid = bb.ok("run", "-d", "--rm", "busybox", "sh", "-c", "exit 3").strip()
    deadline = time.monotonic() + 20
    while bb("inspect", cid).returncode == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert bb.ok("wait", cid).strip() == "3"
    [exit_file] = _run_files(bb, cid)
    # A minute later: the file is old, and so is the last sweep's stamp (sweeps run at
    # most every 10 s, engine/containers/exitfile.py)
    old = time.time() - 120
    os.utime(bb.root / "run" / "containers" / exit_file, (old, old))
    stamp = bb.root / "run" / "containers" / ".sweep.exit"
    if stamp.exists():
        os.utime(stamp, (old, old))
    bb.ok("run", "--rm", "busybox", "true")
    bb.ok("run", "-d", "busybox", "true")
    deadline = time.monotonic() + 20
    while _run_files(bb, cid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _run_files(bb, cid) == []
