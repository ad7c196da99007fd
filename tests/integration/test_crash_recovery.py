"""Fault injection: `kill -9` the CLI at random moments, then check that nothing is broken.

Issue 10 item 9: a CLI killed during `volume create/rm`, `run`, `run --rm` or `volume
import` left a volume that could no longer be removed.  Each iteration here starts one
operation as `python -m orlop --root R ...`, sleeps a random delay spread over the
operation's measured duration, SIGKILLs the CLI (by pid only, as a user's `kill -9` does:
whatever it started keeps running or dies as it would), and then checks the invariants
(:func:`check_invariants`):

* every container `ps -a` lists is removable with `rm -f`;
* every volume `volume ls` lists can be mounted (`run --rm -v NAME:/x busybox true`) and
  removed (`volume rm`);
* busybox still runs; a sentinel volume made before the loop still holds its data;
* ``PRAGMA integrity_check`` is ``ok``;
* no junk: no mount below the root, no staging/trash directory under ``volumes/``, no
  container directory, nothing in ``tmp/``, no run file of a container that is gone.

Seeds are deterministic (``seed = base + iteration``); a failure names the operation, the
seed and the delay, and ``ORLOP_CRASH_SEED=<seed>`` re-runs that one iteration.  The
default run does a few iterations per operation; the ``slow`` test does hundreds:

    bash scripts/test.sh -m slow      # or: pytest -m slow tests/integration/test_crash_recovery.py
    ORLOP_CRASH_ITERATIONS=1000 pytest -m slow tests/integration/test_crash_recovery.py
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness import Orlop
from testsupport import mounts_under, unmount_all_under

SENTINEL = "crash-sentinel"
SENTINEL_TEXT = "sentinel data 1234"
# Volumes an operation's set-up makes once per root and the invariant check keeps (after
# checking them): everything else it finds is removed.
KEEP = {SENTINEL, "crash-shared"}
EXIT_FILE_TTL_S = 60


@dataclass
class Operation:
    """One command to kill, with what it needs before each attempt."""

    name: str
    argv: Callable[[Orlop], list[str]]
    setup: Callable[[Orlop], None] = lambda _o: None
    once: Callable[[Orlop], None] = lambda _o: None  # per root, before the loop
    durations: list[float] = field(default_factory=list)


def _once_shared(o: Orlop) -> None:
    o.ok("volume", "create", "crash-shared")
    o.ok("run", "--rm", "-v", "crash-shared:/s", "busybox", "mkdir", "-p", "/s/d")


def _setup_rm(o: Orlop) -> None:
    o.ok("volume", "create", "crash-rm")
    o.ok("run", "--rm", "-v", "crash-rm:/x", "busybox", "sh", "-c",
         "for i in $(seq 300); do echo $i > /x/f$i; done; "
         "dd if=/dev/zero of=/x/big bs=1M count=8 2>/dev/null")


def _once_import(o: Orlop) -> None:
    o.ok("volume", "create", "crash-src")
    o.ok("run", "--rm", "-v", "crash-src:/x", "busybox", "sh", "-c",
         "for i in $(seq 400); do mkdir -p /x/d$((i % 20)); echo $i > /x/d$((i % 20))/f$i;"
         " done; dd if=/dev/urandom of=/x/big bs=1M count=16 2>/dev/null")
    count = o.ok("run", "--rm", "-v", "crash-src:/x", "busybox", "sh", "-c", "find /x | wc -l")
    (o.cwd / "crash-src.count").write_text(count.strip())
    o.ok("volume", "export", "crash-src", "-o", "crash-src.tar")
    o.ok("volume", "rm", "crash-src")


OPERATIONS = {
    "volume-create": Operation(
        "volume-create",
        lambda o: ["volume", "create", "--label", "k=v", "crash-new"]),
    "volume-create-tmpfs": Operation(
        "volume-create-tmpfs",
        lambda o: ["volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs",
                   "crash-tmpfs"]),
    "volume-rm": Operation(
        "volume-rm", lambda o: ["volume", "rm", "crash-rm"], setup=_setup_rm),
    "run": Operation(
        "run",
        lambda o: ["run", "-v", "crash-data:/data", "-v", "/anon",
                   "--mount", "src=crash-shared,dst=/sub,volume-subpath=d",
                   "--mount", "type=tmpfs,dst=/t",
                   "busybox", "sh", "-c", "echo hi > /data/f; echo hi > /anon/f"],
        once=_once_shared),
    "run-rm": Operation(
        "run-rm",
        lambda o: ["run", "--rm", "-v", "/anon",
                   "--mount", "src=crash-shared,dst=/sub,volume-subpath=d",
                   "-v", "crash-rmdata:/data", "busybox", "sh", "-c", "echo hi > /anon/f"],
        once=_once_shared),
    "run-d": Operation(
        "run-d",
        lambda o: ["run", "-d", "-v", "/anon", "-v", "crash-d:/d",
                   "--mount", "src=crash-shared,dst=/sub,volume-subpath=d",
                   "busybox", "sleep", "30"],
        once=_once_shared),
    "volume-import": Operation(
        "volume-import", lambda o: ["volume", "import", "crash-imp", "crash-src.tar"],
        once=_once_import),
}


def _cmd(o: Orlop, argv: list[str]) -> list[str]:
    return [sys.executable, "-m", "orlop", "--root", str(o.root), *argv]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ORLOP_ROOT", None)
    return env


def measure(o: Orlop, op: Operation, times: int = 3) -> float:
    """The operation's median duration, run to completion (then cleaned up)."""
    for _ in range(times):
        op.setup(o)
        t0 = time.monotonic()
        res = subprocess.run(_cmd(o, op.argv(o)), cwd=o.cwd, env=_env(), capture_output=True,
                             text=True, timeout=60, check=False)
        op.durations.append(time.monotonic() - t0)
        assert res.returncode == 0, f"{op.name}: {res.stderr}"
        check_invariants(o, f"{op.name} (not killed)")
    return statistics.median(op.durations)


def kill_during(o: Orlop, op: Operation, seed: int, duration: float) -> float:
    """Start the operation and SIGKILL it after a delay drawn from ``seed``."""
    rng = random.Random(seed)
    delay = rng.uniform(0.0, duration * 1.1)
    op.setup(o)
    proc = subprocess.Popen(_cmd(o, op.argv(o)), cwd=o.cwd, env=_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(delay)
    # By pid only: a user's `kill -9 <pid>` leaves the CLI's children to their own fate
    # (a foreground container dies with its parent by PDEATHSIG; a -d monitor lives on).
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return delay


def check_invariants(o: Orlop, where: str) -> None:
    """What must hold after any kill (the module docstring); cleans up as it checks."""

    def ok(*args: str) -> str:
        res = o(*args, timeout=60)
        assert res.returncode == 0, (
            f"{where}: orlop {' '.join(args)} exited {res.returncode}: {res.stderr.strip()}")
        return res.stdout

    for cid in ok("ps", "-a", "-q", "--no-trunc").split():
        ok("rm", "-f", cid)
    assert ok("ps", "-a", "-q").split() == [], f"{where}: containers left after rm -f"
    for name in ok("volume", "ls", "-q").split():
        # Not `run --rm`: it would remove an anonymous volume itself (Orlop removes every
        # anonymous volume of a --rm container; Docker only those made for it).
        got = ok("run", "--name", "crash-check", "-v", f"{name}:/x", "busybox", "sh", "-c",
                 "find /x | wc -l")
        ok("rm", "crash-check")
        if name == "crash-imp":  # an import is all or nothing: never half a volume
            want = (o.cwd / "crash-src.count").read_text()
            assert got.strip() == want, f"{where}: half-imported volume ({got.strip()} of " \
                                        f"{want} entries)"
        if name not in KEEP:
            ok("volume", "rm", name)
    got = ok("run", "--rm", "-v", f"{SENTINEL}:/x", "busybox", "cat", "/x/sentinel")
    assert got.strip() == SENTINEL_TEXT, f"{where}: sentinel volume changed: {got!r}"
    assert sorted(ok("volume", "ls", "-q").split()) == sorted(
        n for n in KEEP if (o.root / "volumes" / n).exists()), f"{where}: volumes left"
    conn = sqlite3.connect(o.root / "orlop.db", timeout=30)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", where
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == [], where
        assert conn.execute("SELECT COUNT(*) FROM volume_mounts").fetchone()[0] == 0, (
            f"{where}: references held by containers that no longer exist")
    finally:
        conn.close()
    assert mounts_under(str(o.root)) == [], f"{where}: mounts left: {mounts_under(str(o.root))}"
    junk = _junk(o.root)
    assert junk == [], f"{where}: left behind: {junk}"


def _junk(root: Path) -> list[str]:
    """What no finished operation leaves: staging and trash dirs, dirs of containers that
    are gone, files in tmp/, run files of containers that are gone, subpath pins."""
    out: list[str] = []
    vols = root / "volumes"
    if vols.is_dir():
        for name in os.listdir(vols):
            if name.startswith("."):
                out.append(f"volumes/{name}")
                continue
            out += [f"volumes/{name}/{e}" for e in os.listdir(vols / name)
                    if e not in ("_data", "opts.json")]
    for sub in ("containers", "tmp"):
        if (root / sub).is_dir():
            out += [f"{sub}/{e}" for e in os.listdir(root / sub)]
    run = root / "run" / "containers"
    if run.is_dir():
        now = time.time()
        for e in os.listdir(run):
            # A --rm container's exit code is kept a while for `wait` (EXIT_FILE_TTL_S).
            if e.endswith(".exit") and now - os.lstat(run / e).st_mtime < EXIT_FILE_TTL_S:
                continue
            out.append(f"run/containers/{e}")
    return out


def _prepare(o: Orlop, ops: list[Operation]) -> None:
    o.ok("volume", "create", SENTINEL)
    o.ok("run", "--rm", "-v", f"{SENTINEL}:/x", "busybox", "sh", "-c",
         f"echo '{SENTINEL_TEXT}' > /x/sentinel")
    for op in ops:
        op.once(o)


def _fresh_root(o: Orlop, busybox_tar: Path) -> None:
    """Start again on an empty root (after a failure, so that one does not cascade)."""
    unmount_all_under(str(o.root))
    for p in mounts_under(str(o.root)):
        subprocess.run(["umount", "-l", p], check=False)
    shutil.rmtree(o.root, ignore_errors=True)
    o.ok("import", str(busybox_tar), "busybox:latest")


def run_iterations(o: Orlop, busybox_tar: Path, names: list[str], iterations: int,
                   base_seed: int, measure_runs: int = 3) -> tuple[int, list[str]]:
    """Kill each operation in turn at ``iterations`` random points.  Returns the number
    of iterations and the failures: every one is collected (the root is then made
    afresh) so that one run reports all it finds."""
    ops = [OPERATIONS[n] for n in names]
    _prepare(o, ops)
    check_invariants(o, "before the loop")
    durations = {op.name: measure(o, op, measure_runs) for op in ops}
    only = os.environ.get("ORLOP_CRASH_SEED")
    seeds = [int(only)] if only else [base_seed + i for i in range(iterations)]
    failures: list[str] = []
    for seed in seeds:
        op = ops[seed % len(ops)]
        where = f"{op.name} (ORLOP_CRASH_SEED={seed})"
        try:
            delay = kill_during(o, op, seed, durations[op.name])
            where = (f"{op.name} killed after {delay * 1000:.0f} ms of "
                     f"{durations[op.name] * 1000:.0f} (ORLOP_CRASH_SEED={seed})")
            check_invariants(o, where)
        except (AssertionError, subprocess.TimeoutExpired) as err:
            msg = str(err).splitlines()[0] if str(err) else repr(err)
            failures.append(msg if msg.startswith(where) else f"{where}: {msg}")
            _fresh_root(o, busybox_tar)
            _prepare(o, ops)
    return len(seeds), failures


ALL = list(OPERATIONS)


@pytest.mark.timeout(300)
def test_crash_kill9_at_random_points_leaves_a_usable_root(bb: Orlop,
                                                          busybox_tar: Path) -> None:
    """One random kill each for the operations with the most steps (the default run
    stays short: the named-step tests below cover every operation deterministically, the
    slow test below kills each at hundreds of points)."""
    ops = ["run", "run-rm", "volume-import", "volume-rm"]
    n, failures = run_iterations(bb, busybox_tar, ops, len(ops), base_seed=1000,
                                 measure_runs=1)
    assert failures == [], "\n".join(failures)
    assert n >= 1


@pytest.mark.slow
@pytest.mark.timeout(7200)
def test_crash_kill9_hundreds_of_points_leaves_a_usable_root(bb: Orlop,
                                                            busybox_tar: Path) -> None:
    n = int(os.environ.get("ORLOP_CRASH_ITERATIONS", "350"))
    ops = os.environ.get("ORLOP_CRASH_OPS", ",".join(ALL)).split(",")
    done, failures = run_iterations(bb, busybox_tar, ops, n,
                                    base_seed=int(os.environ.get("ORLOP_CRASH_BASE", "0")))
    print(f"crash iterations: {done}, failures: {len(failures)}")
    assert failures == [], f"{len(failures)} of {done} iterations failed:\n" + "\n".join(
        failures)


def _once_shared_and_tmpfs(o: Orlop) -> None:
    _once_shared(o)
    o.ok("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "crash-tmpfs")


def _once_import_existing(o: Orlop) -> None:
    _once_import(o)
    o.ok("volume", "create", "crash-imp")
    o.ok("run", "--rm", "-v", "crash-imp:/x", "busybox", "sh", "-c",
         "for i in $(seq 100); do echo old > /x/old$i; done")


def _created_container(o: Orlop) -> None:
    o.ok("create", "--name", "crash-c", "-v", "/anon", "busybox", "true")


# Deterministic kills at the steps that left junk or an unremovable volume before the
# repair existed (found by the random kills; each is a point of the code named by
# ORLOP_FAULT): id -> (point, per-root set-up, command).
FAULT_POINTS: dict[str, tuple[str, Callable[[Orlop], None], list[str]]] = {
    # Volumes mounted and referenced, a tmpfs volume mounted, a subpath pinned, the
    # container not started: the references kept `volume rm` refusing ("in use" by a
    # container that no longer exists).
    "run": ("start.after_mount", _once_shared_and_tmpfs,
            ["run", "-v", "crash-data:/data", "-v", "/anon", "-v", "crash-tmpfs:/t",
             "--mount", "src=crash-shared,dst=/sub,volume-subpath=d", "busybox", "true"]),
    "run-rm": ("start.after_mount", _once_shared,
               ["run", "--rm", "-v", "/anon", "--mount",
                "src=crash-shared,dst=/sub,volume-subpath=d", "busybox", "true"]),
    "volume-create": ("volume.create.staged", lambda o: None,
                      ["volume", "create", "crash-new"]),
    "volume-import": ("volume.create.staged", _once_import,
                      ["volume", "import", "crash-imp", "crash-src.tar"]),
    # Into an existing volume: the old content, swapped out, was being deleted.
    "volume-import-existing": ("volume.import.swapped", _once_import_existing,
                               ["volume", "import", "crash-imp", "crash-src.tar"]),
    "volume-rm": ("volume.rm.after_commit", _setup_rm, ["volume", "rm", "crash-rm"]),
    "rm": ("rm.after_delete", _created_container, ["rm", "-v", "crash-c"]),
}


@pytest.mark.parametrize("case", list(FAULT_POINTS))
def test_crash_kill9_at_named_step_is_repaired(bb: Orlop, case: str) -> None:
    point, setup, argv = FAULT_POINTS[case]
    _prepare(bb, [])
    setup(bb)
    res = bb(*argv, env={"ORLOP_FAULT": point})
    where = f"{' '.join(argv[:2])} killed at {point}"
    assert res.returncode == 137, f"{where}: {res.returncode} {res.stderr}"
    if case == "volume-rm":  # the next command, a volume verb, repairs what was left
        bb.ok("volume", "ls")
        assert [n for n in os.listdir(bb.root / "volumes") if n.startswith(".")] == []
    check_invariants(bb, where)


def test_crash_volume_import_killed_midway_leaves_no_half_volume(bb: Orlop) -> None:
    """A new volume appears only once its import is complete: killed half-way through
    the archive, `volume import` leaves no volume (before: one with half the files)."""
    _prepare(bb, [OPERATIONS["volume-import"]])
    data = (bb.cwd / "crash-src.tar").read_bytes()
    proc = subprocess.Popen(_cmd(bb, ["volume", "import", "crash-imp", "-"]), cwd=bb.cwd,
                            env=_env(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    assert proc.stdin is not None
    proc.stdin.write(data[: len(data) // 2])
    proc.stdin.flush()
    time.sleep(1.5)  # it extracts what it has, then waits for more
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdin.close()
    assert "crash-imp" not in bb.ok("volume", "ls", "-q").split()
    check_invariants(bb, "volume import killed half-way")
