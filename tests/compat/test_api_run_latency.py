"""``docker run`` in the foreground through orlopd, on the fast path: the helper that runs
an attached container is forked by the warm fork server (server/helpers.py ForkServer,
server/monitor.py ``--standby``) ahead of the call (a spare) and given its stdio over a
unix socket (SCM_RIGHTS).

Correctness only (the figures are bench/api.py's): output from the first byte, exit
codes, stdin, the helper holding the container's lock and outliving orlopd, nothing
left behind (processes, zombies, descriptors, mounts), and a fork server that died
replaced.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.compat.conftest import Server, mounts_under


def _helpers(root: str) -> dict[int, bytes]:
    """pid -> command line of every orlop.server.monitor process of this root."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            argv = Path(f"/proc/{d}/cmdline").read_bytes()
        except OSError:
            continue
        if b"orlop.server.monitor" in argv and root.encode() + b"\0" in argv:
            out[int(d)] = argv
    return out


def _ppid(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def _fork_servers(server: Server) -> list[int]:
    """orlopd's fork server(s): `--standby` children of orlopd (the helpers it forks
    carry the same command line, but are its children)."""
    return [pid for pid, argv in _helpers(str(server.root)).items()
            if b"--standby\0" in argv and _ppid(pid) == server.proc.pid]


def _forked(server: Server, fork_server: int) -> list[int]:
    """The helpers the fork server forked that serve a call (not its spare)."""
    return [pid for pid in _helpers(str(server.root))
            if _ppid(pid) == fork_server and not _is_spare(pid)]


def _is_spare(pid: int) -> bool:
    """The fork server's spare (a child forked ahead of its call): it holds no pipe,
    where a helper serving a call holds at least its status pipe."""
    try:
        targets = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    return not any(t.startswith("pipe:") for t in targets)


def _spares(server: Server) -> set[int]:
    return {pid for fs in _fork_servers(server) for pid in _helpers(str(server.root))
            if _ppid(pid) == fs and _is_spare(pid)}


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


def _fd_count(pid: int, but: str = "") -> int:
    """Descriptors of ``pid``, those open on ``but`` not counted."""
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        n += not but or target != but
    return n


def _until(cond: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def test_run_rm_output_complete_from_first_byte(bbd: Server) -> None:
    """A fast `echo` loses nothing (the pipes are the helper's before the container
    starts), stdout and stderr stay apart, and a large output arrives whole."""
    for i in range(8):
        res = bbd.docker("run", "--rm", "--network", "none", "busybox", "echo", f"hello-{i}")
        assert (res.returncode, res.stdout, res.stderr) == (0, f"hello-{i}\n", "")
    res = bbd.docker("run", "--rm", "--network", "none", "busybox", "sh", "-c",
                     "echo out; echo err >&2")
    assert (res.returncode, res.stdout, res.stderr) == (0, "out\n", "err\n")
    res = bbd.docker("run", "--rm", "--network", "none", "busybox", "seq", "1", "20000")
    assert res.returncode == 0
    assert res.stdout == "".join(f"{n}\n" for n in range(1, 20001))
    assert bbd.ok("ps", "-aq") == ""


def test_run_exit_codes_and_start_errors_propagate(bbd: Server) -> None:
    res = bbd.docker("run", "--rm", "--network", "none", "busybox", "sh", "-c", "exit 7")
    assert res.returncode == 7
    res = bbd.docker("run", "--network", "none", "--name", "kept", "busybox", "sh", "-c",
                     "echo out; exit 3")
    assert (res.returncode, res.stdout) == (3, "out\n")
    assert bbd.ok("inspect", "-f", "{{.State.ExitCode}}", "kept").strip() == "3"
    # Docker's 127 and its text for a command that is not there; nothing is left.
    res = bbd.docker("run", "--rm", "--network", "none", "busybox", "/nonexistent")
    assert res.returncode == 127
    assert "/nonexistent" in res.stderr and "no such file or directory" in res.stderr
    assert bbd.ok("ps", "-aq").split() == [bbd.ok("inspect", "-f", "{{.Id}}",
                                                  "kept").strip()[:12]]


def test_run_interactive_stdin_reaches_container(bbd: Server) -> None:
    res = bbd.docker("run", "-i", "--rm", "--network", "none", "busybox", "cat",
                     input="first\nsecond\n")
    assert (res.returncode, res.stdout) == (0, "first\nsecond\n")
    res = bbd.docker("run", "-i", "--rm", "--network", "none", "busybox", "sh", "-c",
                     "read x; echo got-$x; exit 4", input="it\n")
    assert (res.returncode, res.stdout) == (4, "got-it\n")


def test_run_rm_leaves_no_process_fd_or_mount(bbd: Server) -> None:
    """Forked helpers are reaped by the fork server (no zombie), orlopd's descriptors
    come back to where they were, and no mount is left under the root."""
    root = str(bbd.root)
    bbd.ok("run", "--rm", "--network", "none", "busybox", "true")  # fork server up
    assert _until(lambda: len(_fork_servers(bbd)) == 1)
    # The store's connections are the worker threads' own, kept between calls (one per
    # thread that made a call, server/context.py): not counted.
    db = str(bbd.root / "orlop.db")
    before = _fd_count(bbd.proc.pid, db)
    for _ in range(6):
        bbd.ok("run", "--rm", "--network", "none", "busybox", "true")
    assert bbd.ok("ps", "-aq") == ""
    assert _until(lambda: _fd_count(bbd.proc.pid, db) <= before), \
        (before, os.listdir(f"/proc/{bbd.proc.pid}/fd"))
    # At most one per worker thread (8, orlopd's default) and the volume list's.
    assert _fd_count(bbd.proc.pid) - _fd_count(bbd.proc.pid, db) <= 9
    # The fork server and its one spare (forked ahead of the next call), nothing else.
    assert _until(lambda: set(_helpers(root)) == set(_fork_servers(bbd)) | _spares(bbd)
                  and len(_spares(bbd)) <= 1), _helpers(root)
    (server,) = _fork_servers(bbd)
    children = [d for d in os.listdir("/proc") if d.isdigit() and _ppid(int(d)) == server]
    assert not [c for c in children if _state(int(c)) == "Z"], "zombie helpers"
    assert not mounts_under(root)


def test_attached_helper_holds_lock_and_outlives_orlopd(bbd: Server) -> None:
    """The helper of a foreground `docker run` is the container's monitor: it holds the
    container's lock, is in a session of its own and goes on when orlopd is killed (the
    fork server goes with orlopd)."""
    from orlop.config import EngineConfig
    from orlop.engine import Engine

    root = str(bbd.root)
    env = {**os.environ, "DOCKER_HOST": bbd.host, "DOCKER_CONFIG": str(bbd.dir / "cfg")}
    cli = subprocess.Popen(["docker", "run", "--rm", "--network", "none", "--name", "fg",
                            "busybox", "sleep", "300"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = Engine(EngineConfig.from_env(root))
    try:
        def running() -> bool:
            try:
                c = engine.get_container("fg")
            except Exception:
                return False
            return c.status == "running" and engine.is_running(c)

        assert _until(running, 20)
        (fork_server,) = _fork_servers(bbd)
        attached = _forked(bbd, fork_server)
        assert len(attached) == 1, _helpers(root)
        assert os.getsid(attached[0]) == attached[0] != os.getsid(bbd.proc.pid)
        bbd.proc.send_signal(signal.SIGKILL)
        bbd.proc.wait()
        cli.kill()
        cli.wait()
        assert _until(lambda: fork_server not in _helpers(root)), \
            "the fork server outlived orlopd"
        time.sleep(0.2)
        assert running(), "the container did not outlive orlopd"
        # The spare went with the fork server.
        assert _until(lambda: _helpers(root).keys() == {attached[0]}), _helpers(root)
    finally:
        engine.close()
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    # Still its monitor: it records the exit of a container killed by `orlop kill` and
    # removes it (--rm), leaving nothing.
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "ORLOP_HOST")}
    res = subprocess.run([sys.executable, "-m", "orlop", "--root", root, "kill", "fg"],
                         capture_output=True, text=True, env=env, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    assert _until(lambda: not _helpers(root)), _helpers(root)
    engine = Engine(EngineConfig.from_env(root))
    try:
        assert not engine.list_containers(all_=True)
    finally:
        engine.close()
    assert _until(lambda: not mounts_under(root))


def test_fork_server_replaced_when_it_died(bbd: Server) -> None:
    """A fork server that died is not used: the next call gets a helper anyway (and
    starts a new fork server), output and all."""
    bbd.ok("run", "--rm", "--network", "none", "busybox", "true")
    assert _until(lambda: len(_fork_servers(bbd)) == 1)
    (first,) = _fork_servers(bbd)
    os.kill(first, signal.SIGKILL)
    assert _until(lambda: first not in _fork_servers(bbd))
    for i in range(3):
        res = bbd.docker("run", "--rm", "--network", "none", "busybox", "echo", f"again-{i}")
        assert (res.returncode, res.stdout) == (0, f"again-{i}\n")
    assert _until(lambda: len(_fork_servers(bbd)) == 1)
    assert _fork_servers(bbd) != [first]


def test_spare_killed_before_its_call_is_replaced(bbd: Server) -> None:
    """A spare that died before its call is not handed one: the call gets a helper
    forked for it, output and all, and a new spare is forked after it."""
    bbd.ok("run", "--rm", "--network", "none", "busybox", "true")
    assert _until(lambda: len(_spares(bbd)) == 1)
    (spare,) = _spares(bbd)
    os.kill(spare, signal.SIGKILL)
    assert _until(lambda: spare not in _helpers(str(bbd.root)))
    res = bbd.docker("run", "--rm", "--network", "none", "busybox", "echo", "after")
    assert (res.returncode, res.stdout) == (0, "after\n")
    assert _until(lambda: len(_spares(bbd)) == 1 and spare not in _spares(bbd))
    res = bbd.docker("run", "--rm", "--network", "none", "busybox", "echo", "spare")
    assert (res.returncode, res.stdout) == (0, "spare\n")


def test_store_made_again_under_orlopd_is_the_one_used(bbd: Server,
                                                        busybox_tar: Path) -> None:
    """orlopd's worker threads and its spare helper keep a connection to the store: a
    store deleted under them (and made again) is not written through a stale one."""
    bbd.ok("run", "--rm", "--network", "none", "busybox", "true")  # connections, a spare
    assert _until(lambda: len(_spares(bbd)) == 1)
    (bbd.root / "orlop.db").unlink()
    assert bbd.ok("ps", "-aq") == ""  # a new, empty store
    with open(busybox_tar, "rb") as f:
        res = subprocess.run(["docker", "import", "-", "busybox:latest"], stdin=f,
                             capture_output=True, check=False,
                             env={**os.environ, "DOCKER_HOST": bbd.host,
                                  "DOCKER_CONFIG": str(bbd.dir / "cfg")})
    assert res.returncode == 0, res.stderr
    res = bbd.docker("run", "--network", "none", "--name", "kept", "busybox", "echo", "new")
    assert (res.returncode, res.stdout) == (0, "new\n"), res.stderr
    assert bbd.ok("inspect", "-f", "{{.State.Status}}", "kept").strip() == "exited"
    bbd.ok("rm", "kept")
