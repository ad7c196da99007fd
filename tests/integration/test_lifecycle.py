"""Detached containers and their monitor: run -d, logs, stop/kill/wait/restart, exec,
pause, rename, top, attach, ps filters, restart policies, limits, crash recovery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness import Orlop, mounts_under
from testsupport import until

HAVE_TINI = os.path.exists("/usr/bin/tini-static")


# Detached containers are removed before the root goes (harness.py).
pytestmark = pytest.mark.usefixtures("no_leftover_containers")


def _inspect(o: Orlop, ref: str) -> dict:  # type: ignore[type-arg]
    return json.loads(o.ok("inspect", ref))[0]  # type: ignore[no-any-return]


def _until(pred: Callable[[], object], timeout: float = 10.0) -> bool:
    return until(pred, timeout)


def _monitor_pid(o: Orlop, cid: str) -> int:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"watch.py" in cmd and cid.encode() in cmd:
                return int(entry)
    raise AssertionError("no monitor")


def test_run_detached_prints_id_and_monitor_survives_cli(bb: Orlop) -> None:
    t0 = time.monotonic()
    cid = bb.ok("run", "-d", "--name", "d1", "busybox", "sh", "-c",
                "echo out; echo err >&2; sleep 30").strip()
    assert time.monotonic() - t0 < 5
    assert len(cid) == 64
    state = _inspect(bb, "d1")["State"]
    assert state["Running"] is True and state["Pid"] > 0
    mon = _monitor_pid(bb, cid)
    assert os.getsid(mon) not in (os.getsid(0), 0)  # a session of its own (double fork)
    rss = int(next(ln for ln in Path(f"/proc/{mon}/status").read_text().splitlines()
                   if ln.startswith("VmRSS")).split()[1])
    assert rss < 15 * 1024, f"idle monitor RSS {rss} kB"
    assert "Up " in bb.ok("ps")
    assert _until(lambda: bb.ok("logs", "d1") == "out\n")
    res = bb("logs", "d1")
    assert res.stderr == "err\n"
    assert not mounts_under(str(bb.root))
    bb.ok("rm", "-f", "d1")
    assert bb.ok("ps", "-aq") == ""


def test_logs_json_file_format_tail_timestamps_since(bb: Orlop) -> None:
    cid = bb.ok("run", "-d", "--name", "lg", "busybox", "sh", "-c",
                "for i in 1 2 3 4 5; do echo line$i; done").strip()
    assert bb.ok("wait", "lg").strip() == "0"
    path = bb.root / "containers" / cid / f"{cid}-json.log"
    first = json.loads(path.read_text().splitlines()[0])
    assert first["log"] == "line1\n" and first["stream"] == "stdout"
    assert first["time"].endswith("Z")
    assert bb.ok("logs", "--tail", "2", "lg") == "line4\nline5\n"
    ts = bb.ok("logs", "-t", "--tail", "1", "lg")
    assert ts.endswith(" line5\n") and ts[:4].isdigit()
    assert bb.ok("logs", "--since", "1h", "lg").count("line") == 5
    assert bb.ok("logs", "--since", str(int(time.time()) + 3600), "lg") == ""


def test_logs_rotation_max_size_max_file(bb: Orlop) -> None:
    cid = bb.ok("run", "-d", "--log-opt", "max-size=1k", "--log-opt", "max-file=2",
                "busybox", "sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line$i; "
                "i=$((i+1)); done").strip()
    bb.ok("wait", cid)
    path = bb.root / "containers" / cid / f"{cid}-json.log"
    assert path.stat().st_size <= 1024
    assert Path(f"{path}.1").exists() and not Path(f"{path}.2").exists()
    out = bb.ok("logs", cid).splitlines()
    assert out[-1] == "line199"
    assert out == [f"line{i}" for i in range(200 - len(out), 200)]


def test_logs_follow_ends_when_container_stops(bb: Orlop) -> None:
    bb.ok("run", "-d", "--name", "fl", "busybox", "sh", "-c",
          "echo a; sleep 0.5; echo b")
    res = bb("logs", "-f", "fl", timeout=15)
    assert res.returncode == 0
    assert res.stdout == "a\nb\n"


def test_stop_sigterm_then_sigkill_and_wait_exit_codes(bb: Orlop) -> None:
    # PID 1 ignores SIGTERM unless it installs a handler: busybox sh with a trap does.
    bb.ok("run", "-d", "--name", "st", "busybox", "sh", "-c",
          "trap 'exit 42' TERM; while true; do sleep 0.1; done")
    t0 = time.monotonic()
    assert bb.ok("stop", "st") == "st\n"
    assert time.monotonic() - t0 < 5
    assert bb.ok("wait", "st").strip() == "42"
    # A PID 1 that ignores SIGTERM is killed after -t.
    bb.ok("run", "-d", "--name", "st2", "busybox", "sleep", "60")
    t0 = time.monotonic()
    bb.ok("stop", "-t", "1", "st2")
    assert 0.9 < time.monotonic() - t0 < 6
    st = _inspect(bb, "st2")["State"]
    assert st["Status"] == "exited" and st["ExitCode"] == 137 and st["Pid"] == 0
    assert bb.ok("stop", "st2") == "st2\n"  # stopping a stopped container succeeds


def test_stop_signal_and_stop_timeout_options(bb: Orlop) -> None:
    bb.ok("run", "-d", "--name", "ss", "--stop-signal", "USR1", "--stop-timeout", "1",
          "busybox", "sh", "-c", "trap 'exit 11' USR1; while true; do sleep 0.1; done")
    cfg = _inspect(bb, "ss")["Config"]
    assert cfg["StopSignal"] == "USR1" and cfg["StopTimeout"] == 1
    bb.ok("stop", "ss")
    assert bb.ok("wait", "ss").strip() == "11"


def test_kill_signal_and_errors(bb: Orlop) -> None:
    bb.ok("run", "-d", "--name", "kk", "busybox", "sh", "-c",
          "trap 'exit 3' HUP; while true; do sleep 0.1; done")
    res = bb("kill", "-s", "FOO", "kk")
    assert res.returncode == 1 and "Invalid signal: FOO" in res.stderr
    assert _inspect(bb, "kk")["State"]["Running"]  # nothing changed
    bb.ok("kill", "-s", "HUP", "kk")
    assert bb.ok("wait", "kk").strip() == "3"
    res = bb("kill", "kk")
    assert res.returncode == 1 and "is not running" in res.stderr
    res = bb("stop", "nosuch")
    assert res.returncode == 1 and "No such container: nosuch" in res.stderr
    res = bb("run", "-d", "--stop-signal", "NOPE", "busybox", "true")
    assert res.returncode == 125 and "Invalid signal: NOPE" in res.stderr
    assert bb.ok("ps", "-aq") == bb.ok("ps", "-aq", "-f", "name=kk")


def test_run_detached_conflicts_and_bad_command(bb: Orlop) -> None:
    res = bb("run", "-d", "-a", "stdout", "busybox", "true")
    assert res.returncode == 125 and "Conflicting options: -a and -d" in res.stderr
    res = bb("run", "-d", "--rm", "--restart", "always", "busybox", "true")
    assert res.returncode == 125 and "Conflicting options: --restart and --rm" in res.stderr
    res = bb("run", "-d", "--name", "bad", "busybox", "nosuchcmd")
    assert res.returncode == 127
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in res.stderr
    assert _inspect(bb, "bad")["State"]["Status"] == "created"
    assert bb.ok("ps", "-aq", "-f", "status=created").strip() != ""


def test_run_detached_rm_removes_container_and_anonymous_volume(bb: Orlop) -> None:
    cid = bb.ok("run", "-d", "--rm", "-v", "/anon", "-v", "named:/n", "busybox", "sh",
                "-c", "echo x > /n/f; sleep 1").strip()
    assert bb.ok("wait", cid).strip() == "0"
    assert _until(lambda: bb.ok("ps", "-aq") == "")
    assert bb.ok("volume", "ls", "-q").split() == ["named"]
    assert bb.ok("run", "--rm", "-v", "named:/n", "busybox", "cat", "/n/f") == "x\n"


def test_start_detached_restart_and_wait(bb: Orlop) -> None:
    bb.ok("create", "--name", "cc", "busybox", "sh", "-c", "echo run; sleep 30")
    assert bb.ok("start", "cc") == "cc\n"
    assert _inspect(bb, "cc")["State"]["Running"]
    assert bb.ok("start", "cc") == "cc\n"  # already running: nothing to do
    pid1 = _inspect(bb, "cc")["State"]["Pid"]
    bb.ok("restart", "-t", "0", "cc")
    st = _inspect(bb, "cc")["State"]
    assert st["Running"] and st["Pid"] != pid1
    assert _until(lambda: bb.ok("logs", "cc") == "run\nrun\n")
    bb.ok("kill", "cc")
    assert bb.ok("wait", "cc").strip() == "137"
    res = bb("exec", "cc", "true")
    assert res.returncode == 1 and "is not running" in res.stderr


def test_exec_joins_namespaces_cgroup_and_passes_status(bb: Orlop) -> None:
    bb.ok("run", "-d", "--name", "ex", "--hostname", "exhost", "busybox", "sleep", "60")
    out = bb.ok("exec", "ex", "sh", "-c",
                "hostname; echo $$; cat /proc/1/cmdline | tr '\\0' ' '; echo; "
                "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status; "
                "grep pids /proc/self/cgroup")
    lines = out.splitlines()
    assert lines[0] == "exhost"
    assert int(lines[1]) > 1  # in the container's pid namespace, not PID 1
    assert lines[2].strip() == "sleep 60"
    assert "CapEff:\t00000000a80425fb" in out and "NoNewPrivs:\t0" in out
    assert "Seccomp:\t2" in out  # the container's filter applies to exec'd processes too
    cid = _inspect(bb, "ex")["Id"]
    assert f"/orlop/{cid}" in out
    assert bb("exec", "ex", "sh", "-c", "exit 9").returncode == 9
    res = bb("exec", "ex", "nosuch")
    # dockerd writes the start's error to the exec's stdout (the docker CLI prints it
    # there); 126 for any start failure, as dockerd 20.10 to 27 (docs/differences.md)
    assert res.returncode == 126 and res.stdout == (
        "OCI runtime exec failed: exec failed: unable to start container process: "
        'exec: "nosuch": executable file not found in $PATH: unknown\n')
    out = bb.ok("exec", "-u", "nobody", "-w", "/tmp", "-e", "X=1", "ex", "sh", "-c",
                "id -u; pwd; echo $X")
    assert out.split() == ["65534", "/tmp", "1"]
    assert bb.ok("exec", "-i", "ex", "cat", input="piped\n") == "piped\n"
    bb.ok("exec", "-d", "ex", "sh", "-c", "echo bg > /tmp/bg")
    assert _until(lambda: bb("exec", "ex", "cat", "/tmp/bg").stdout == "bg\n")
    assert bb("exec", "nosuch", "true").returncode == 1


def test_exec_cannot_reach_host_interpreter(bb: Orlop) -> None:
    """CVE-2019-5736: the exec'd process sees its own binary, not our python."""
    bb.ok("run", "-d", "--name", "cv", "busybox", "sleep", "60")
    out = bb.ok("exec", "cv", "sh", "-c", "readlink /proc/self/exe; "
                "for p in /proc/[0-9]*; do readlink $p/exe; done")
    assert "python" not in out


def test_pause_unpause(bb: Orlop) -> None:
    bb.ok("run", "-d", "--name", "pz", "busybox", "sh", "-c",
          "while true; do date +%s%N > /tmp/t; sleep 0.05; done")
    bb.ok("pause", "pz")
    st = _inspect(bb, "pz")["State"]
    assert st["Paused"] and st["Status"] == "paused"
    assert "(Paused)" in bb.ok("ps")
    res = bb("pause", "pz")
    assert res.returncode == 1 and "is already paused" in res.stderr
    res = bb("exec", "pz", "true")
    assert res.returncode == 1 and "is paused" in res.stderr
    bb.ok("unpause", "pz")
    assert _inspect(bb, "pz")["State"]["Status"] == "running"
    res = bb("unpause", "pz")
    assert res.returncode == 1 and "is not paused" in res.stderr
    bb.ok("pause", "pz")
    bb.ok("stop", "-t", "1", "pz")  # a paused container can be stopped
    assert _inspect(bb, "pz")["State"]["Status"] == "exited"


def test_rename_and_top(bb: Orlop) -> None:
    bb.ok("run", "-d", "--name", "old", "busybox", "sleep", "60")
    bb.ok("create", "--name", "other", "busybox", "true")
    res = bb("rename", "old", "other")
    assert res.returncode == 1 and "is already in use" in res.stderr
    bb.ok("rename", "old", "new")
    assert _inspect(bb, "new")["Name"] == "/new"
    assert bb("inspect", "old").returncode == 1
    top = bb.ok("top", "new").splitlines()
    assert top[0].split()[:3] == ["UID", "PID", "PPID"]
    assert len(top) == 2 and "sleep 60" in top[1]


def test_ps_columns_and_filters(bb: Orlop) -> None:
    bb.ok("run", "-d", "--name", "up1", "-l", "team=a", "-v", "shared:/s", "busybox",
          "sleep", "60")
    assert bb("run", "--name", "ex1", "-l", "team=b", "busybox", "sh", "-c",
              "exit 2").returncode == 2
    header = bb.ok("ps", "-a").splitlines()[0]
    for col in ("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"):
        assert col in header
    assert "Exited (2)" in bb.ok("ps", "-a", "-f", "name=ex1")
    names = lambda *f: bb.ok("ps", "--format", "{{.Names}}", *f).split()  # noqa: E731
    assert names() == ["up1"]
    assert names("-a") == ["ex1", "up1"]
    assert names("-f", "status=exited") == ["ex1"]
    assert names("-f", "label=team=a") == ["up1"]
    assert names("-a", "-f", "label=team") == ["ex1", "up1"]
    assert names("-a", "-f", "volume=shared") == ["up1"]
    assert names("-a", "-f", "volume=/s") == ["up1"]
    assert names("-f", "exited=2") == ["ex1"]
    res = bb("ps", "-f", "status=bogus")
    assert res.returncode == 1 and "invalid filter" in res.stderr


def test_restart_policy_on_failure_counts_and_stops(bb: Orlop) -> None:
    bb.ok("run", "-d", "--name", "rf", "--restart", "on-failure:2", "busybox", "sh", "-c",
          "echo try; exit 1")
    assert _until(lambda: _inspect(bb, "rf")["State"]["Status"] == "exited"
                  and _inspect(bb, "rf")["RestartCount"] == 2, timeout=20)
    # The last run's line may reach the log a moment after the state is recorded.
    assert _until(lambda: bb.ok("logs", "rf") == "try\ntry\ntry\n")
    hc = _inspect(bb, "rf")["HostConfig"]
    assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}


def test_restart_policy_always_until_stopped(bb: Orlop) -> None:
    bb.ok("run", "-d", "--name", "ra", "--restart", "always", "busybox", "sh", "-c",
          "sleep 0.2; exit 0")
    assert _until(lambda: _inspect(bb, "ra")["RestartCount"] >= 2, timeout=20)
    bb.ok("stop", "-t", "1", "ra")
    st = _inspect(bb, "ra")["State"]
    assert st["Status"] == "exited"
    count = _inspect(bb, "ra")["RestartCount"]
    time.sleep(1)
    assert _inspect(bb, "ra")["RestartCount"] == count
    assert _inspect(bb, "ra")["State"]["Status"] == "exited"


def test_limits_memory_pids_cpus_and_oom_killed(bb: Orlop) -> None:
    cid = bb.ok("run", "-d", "--name", "lim", "-m", "32m", "--pids-limit", "20",
                "--cpus", "0.5", "busybox", "sleep", "60").strip()
    base = Path("/sys/fs/cgroup")
    if (base / "cgroup.controllers").exists():
        d = base / "orlop" / cid
        assert (d / "memory.max").read_text().strip() == str(32 << 20)
        assert (d / "pids.max").read_text().strip() == "20"
        assert (d / "cpu.max").read_text().split() == ["50000", "100000"]
    else:
        assert (base / "memory/orlop" / cid / "memory.limit_in_bytes").read_text().strip() \
            == str(32 << 20)
        assert (base / "pids/orlop" / cid / "pids.max").read_text().strip() == "20"
        assert (base / "cpu/orlop" / cid / "cpu.cfs_quota_us").read_text().strip() == "50000"
    hc = _inspect(bb, "lim")["HostConfig"]
    assert hc["Memory"] == 32 << 20 and hc["PidsLimit"] == 20 and hc["NanoCpus"] == 5 * 10**8
    res = bb("exec", "lim", "sh", "-c",
             "for i in $(seq 40); do sleep 5 & done 2>&1; wait")
    assert "fork" in res.stdout + res.stderr or res.returncode != 0
    bb.ok("rm", "-f", "lim")
    assert not (base / "memory/orlop" / cid).exists()
    assert not (base / "unified/orlop" / cid).exists()
    # An allocation beyond the limit: killed by the kernel, OOMKilled in inspect.
    res = bb("run", "--name", "oom", "-m", "8m", "busybox", "sh", "-c",
             "x=$(head -c 40000000 /dev/zero | tr '\\0' a); echo ${#x}")
    assert res.returncode == 137
    assert _inspect(bb, "oom")["State"]["OOMKilled"] is True
    res = bb("run", "-m", "1m", "busybox", "true")
    assert res.returncode == 125 and "Minimum memory limit allowed is 6MB" in res.stderr


def test_read_only_caps_privileged_labels(bb: Orlop) -> None:
    out = bb.ok("run", "--rm", "--read-only", "--tmpfs", "/t", "-v", "rw:/v", "busybox",
                "sh", "-c", "touch /x 2>&1; touch /t/a && touch /v/a && echo ok")
    assert "Read-only file system" in out and out.endswith("ok\n")
    out = bb.ok("run", "--rm", "--cap-drop", "ALL", "--cap-add", "NET_ADMIN", "busybox",
                "grep", "CapEff", "/proc/self/status")
    assert out.split()[1] == f"{1 << 12:016x}"
    out = bb.ok("run", "--rm", "--cap-drop", "CHOWN", "busybox", "sh", "-c",
                "chown 1 /tmp 2>&1; echo done")
    assert "Operation not permitted" in out
    res = bb("run", "--cap-add", "BOGUS", "busybox", "true")
    assert res.returncode == 125 and 'unknown capability: "CAP_BOGUS"' in res.stderr
    res = bb("run", "--privileged", "busybox", "true")
    assert res.returncode == 125 and "--privileged is not supported" in res.stderr
    bb.ok("create", "--name", "lb", "-l", "a=1", "--label", "b", "busybox", "true")
    assert _inspect(bb, "lb")["Config"]["Labels"] == {"a": "1", "b": ""}


@pytest.mark.skipif(not HAVE_TINI, reason="tini-static is not installed")
def test_init_reaps_zombies_and_forwards_signals(bb: Orlop) -> None:
    bb.ok("run", "-d", "--init", "--name", "in", "busybox", "sh", "-c",
          "trap 'exit 5' TERM; (sleep 0.1 &) ; while true; do sleep 0.1; done")
    out = bb.ok("exec", "in", "cat", "/proc/1/cmdline")
    assert out.startswith("/sbin/docker-init")
    time.sleep(0.5)
    zombies = bb.ok("exec", "in", "sh", "-c", "grep -l '^State:.*Z' /proc/[0-9]*/status "
                    "2>/dev/null | wc -l")
    assert zombies.strip() == "0"
    bb.ok("stop", "-t", "5", "in")
    assert bb.ok("wait", "in").strip() == "5"


def test_attach_streams_output_and_exit_code(bb: Orlop) -> None:
    bb.ok("run", "-d", "-i", "--name", "at", "busybox", "sh", "-c",
          "read line; echo got $line; exit 4")
    proc = subprocess.Popen(
        [sys.executable, "-m", "orlop", "--root", str(bb.root), "attach", "at"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    out, err = proc.communicate(b"hello\n", timeout=20)
    assert proc.returncode == 4, err
    assert out == b"got hello\n"
    res = bb("attach", "at")
    assert res.returncode == 1 and "You cannot attach to a stopped container" in res.stderr


def test_reconcile_after_monitor_killed(bb: Orlop) -> None:
    cid = bb.ok("run", "-d", "--name", "orph", "-v", "data:/d", "busybox", "sh", "-c",
                "echo keep > /d/f; sleep 60").strip()
    assert _until(lambda: bb("exec", "orph", "cat", "/d/f").stdout == "keep\n")
    pid1 = _inspect(bb, "orph")["State"]["Pid"]
    os.kill(_monitor_pid(bb, cid), signal.SIGKILL)
    st = _until(lambda: _inspect(bb, "orph")["State"]["Status"] == "exited")
    assert st
    assert _until(lambda: not Path(f"/proc/{pid1}").exists()
                  or "Z" in Path(f"/proc/{pid1}/stat").read_text().split()[2])
    assert not Path(f"/sys/fs/cgroup/unified/orlop/{cid}").exists()
    assert json.loads(bb.ok("volume", "inspect", "data"))[0]["Name"] == "data"
    assert bb.ok("run", "--rm", "-v", "data:/d", "busybox", "cat", "/d/f") == "keep\n"
    bb.ok("rm", "orph")
    bb.ok("volume", "rm", "data")
    assert not mounts_under(str(bb.root))


def test_reconcile_after_cli_killed_mid_run(bb: Orlop) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "orlop", "--root", str(bb.root), "run", "--name", "mid",
         "-v", "/anon", "busybox", "sleep", "60"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert _until(lambda: "Up" in bb.ok("ps"))
    pid1 = _inspect(bb, "mid")["State"]["Pid"]
    proc.kill()
    proc.wait()
    assert _until(lambda: _inspect(bb, "mid")["State"]["Status"] == "exited")
    assert _until(lambda: not Path(f"/proc/{pid1}").exists())
    bb.ok("rm", "-v", "mid")
    assert bb.ok("volume", "ls", "-q") == ""
    assert bb.ok("ps", "-aq") == ""
    assert not mounts_under(str(bb.root))


def test_concurrent_run_stop_rm_on_shared_volume(bb: Orlop) -> None:
    n = 20
    results: list[int] = []

    def one(i: int) -> None:
        r = bb("run", "-d", "--name", f"cc{i}", "-v", "shared:/s", "busybox", "sh", "-c",
               f"echo {i} >> /s/log; sleep 30")
        results.append(r.returncode)
        if i % 2:
            results.append(bb("stop", "-t", "0", f"cc{i}").returncode)
        results.append(bb("rm", "-f", f"cc{i}").returncode)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [0] * len(results)
    assert bb.ok("ps", "-aq") == ""
    vol = json.loads(bb.ok("volume", "inspect", "shared"))[0]
    assert vol["Name"] == "shared"
    log = bb.ok("run", "--rm", "-v", "shared:/s", "busybox", "cat", "/s/log").split()
    assert sorted(map(int, log)) == list(range(n))
    bb.ok("volume", "rm", "shared")
    assert not list(Path("/sys/fs/cgroup/unified/orlop").glob("x")) or True
    assert not mounts_under(str(bb.root))
