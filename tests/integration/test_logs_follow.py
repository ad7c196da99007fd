"""``logs -f`` goes on from exactly where its history ended: no line lost or repeated,
also across rotations (json-file max-size / max-file).

The reader is engine/containers/logs.py's LogCursor; the writer watch.py's JsonLog, driven here
directly (deterministic, any number of rotations) and by a real container writing a
numbered line every 2 ms while several ``orlop logs -f`` start at different moments.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from harness import Orlop
from orlop.engine.containers import watch
from orlop.engine.containers.logs import follow, read_log, stream_log


def _numbers(lines: list[bytes] | list[str]) -> list[int]:
    return [int(x) for x in lines]


def _assert_contiguous(seen: list[int], last: int, what: str) -> None:
    assert seen, f"{what}: nothing seen"
    assert seen == list(range(seen[0], last + 1)), (
        f"{what}: not contiguous: first {seen[0]}, {len(seen)} lines, "
        f"gaps at {[b for a, b in itertools.pairwise(seen) if b != a + 1][:5]}")


def test_log_cursor_history_then_follow_is_seamless_across_rotations(
        tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    log = watch.JsonLog(str(path), max_size=600, max_file=4)  # ~11 lines a file
    n = 0

    def write(count: int) -> None:
        nonlocal n
        for _ in range(count):
            log.feed("stdout", f"{n}\n".encode())
            n += 1

    write(10)
    entries, cursor = read_log(path)
    seen = [int(e.data) for e in entries]
    assert seen == list(range(10))
    # Between the history and each read: 0 to 2 rotations (max-file 4 keeps them all).
    for burst in [3, 0, 11, 25, 1, 30, 12, 0, 7, 22] * 5:
        write(burst)
        seen += [int(e.data) for e in cursor.entries()]
    log.close()
    seen += [int(e.data) for e in cursor.entries()]
    cursor.close()
    assert seen == list(range(n))
    # A follower that falls behind by more than max-file files reads its own file to
    # the end (it holds it open), then resumes at the oldest file still there: one gap,
    # the lines the writer deleted unread (Docker's json-file loses the same).
    log = watch.JsonLog(str(path), max_size=600, max_file=4)
    _entries, cursor = read_log(path)
    first = n
    write(200)
    late = [int(e.data) for e in cursor.entries()]
    cursor.close()
    log.close()
    assert late[0] == first and late[-1] == n - 1
    gaps = [b for a, b in itertools.pairwise(late) if b != a + 1]
    assert len(gaps) == 1 and sorted(set(late)) == late
    assert len([f for f in tmp_path.iterdir() if f.name.startswith("c-json.log")]) == 4


def test_follow_thread_sees_every_line_of_a_live_writer(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    log = watch.JsonLog(str(path), max_size=2000, max_file=8)
    n = 0
    for n in range(10):
        log.feed("stdout", f"{n}\n".encode())
    entries, cursor = read_log(path)
    done = threading.Event()
    got: list[int] = [int(e.data) for e in entries]

    def reader() -> None:
        for e in follow(path, lambda: not done.is_set(), poll=0.001, cursor=cursor):
            got.append(int(e.data))

    t = threading.Thread(target=reader)
    t.start()
    for n in range(10, 1500):
        log.feed("stdout", f"{n}\n".encode())
        if n % 10 == 0:
            time.sleep(0.001)
    time.sleep(0.05)
    done.set()
    t.join(10)
    log.close()
    assert got == list(range(1500))


def test_log_cursor_tail_since_and_truncation(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    log = watch.JsonLog(str(path), max_size=300, max_file=3)
    for i in range(25):
        log.feed("stdout", f"{i}\n".encode())
    entries = list(stream_log(path, tail=3))
    assert _numbers([e.data for e in entries]) == [22, 23, 24]
    all_ = list(stream_log(path))
    # What max-file dropped is gone; the rest is whole and in order.
    _assert_contiguous(_numbers([e.data for e in all_]), 24, "history")
    log.close()
    # max-file=1 truncates in place: a follower starts the file again.
    one = tmp_path / "one-json.log"
    log1 = watch.JsonLog(str(one), max_size=200, max_file=1)
    _entries, cursor = read_log(one)
    got: list[int] = []
    stop = threading.Event()
    t = threading.Thread(target=lambda: got.extend(
        int(e.data) for e in follow(one, lambda: not stop.is_set(), poll=0.001,
                                    cursor=cursor)))
    t.start()
    for i in range(8):
        log1.feed("stdout", f"{i}\n".encode())
        time.sleep(0.02)
    stop.set()
    t.join(10)
    log1.close()
    assert got == list(range(8))


def test_follow_ends_when_the_log_is_removed_under_it(tmp_path: Path) -> None:
    """A --rm container's directory goes with its exit: the follower holding the file
    open gets its last lines and ends, never spins on the missing name."""
    path = tmp_path / "c-json.log"
    log = watch.JsonLog(str(path), max_size=0, max_file=1)
    log.feed("stdout", b"a\n")
    _entries, cursor = read_log(path)
    log.feed("stdout", b"b\n")
    log.close()
    path.unlink()
    t0 = time.monotonic()
    got = [e.data for e in follow(path, lambda: False, cursor=cursor)]
    assert got == [b"b\n"]
    assert time.monotonic() - t0 < 1


def _spawn_logs_f(orlop: Orlop, cid: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "ORLOP_ROOT"}
    return subprocess.Popen([sys.executable, "-m", "orlop", "--root", str(orlop.root),
                             "logs", "-f", cid], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_logs_f_started_while_writing_sees_every_line_once(bb: Orlop) -> None:
    """A container writes 0..N-1, a line every ~0.5 ms, its log rotated every ~800
    lines (max-size 64k, 5 files kept); four `orlop logs -f` start at different moments
    and each must see a contiguous run ending at N-1 (starting at the oldest line still
    kept when it started), none twice."""
    last = 5999
    cid = bb.ok("run", "-d", "--network", "none", "--log-opt", "max-size=64k",
                "--log-opt", "max-file=5", "busybox", "sh", "-c",
                f"i=0; while [ $i -le {last} ]; do echo $i; i=$((i+1)); usleep 300; done"
                ).strip()
    procs = []
    try:
        for pause in (0.0, 0.4, 0.5, 0.7):  # started at 0, 0.4, 0.9 and 1.6 s
            time.sleep(pause)
            procs.append(_spawn_logs_f(bb, cid))
        outs = []
        for p in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 0, err
            outs.append(out)
        assert bb.ok("inspect", "-f", "{{.State.ExitCode}}", cid).strip() == "0"
        for i, out in enumerate(outs):
            _assert_contiguous(_numbers(out.split()), last, f"logs -f #{i}")
        # Rotation happened (else the test proves less than it says).
        log_dir = bb.root / "containers" / cid
        assert any(f.name.endswith(".log.1") for f in log_dir.iterdir())
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        bb("rm", "-f", cid)
