"""`orlop events`, `orlop stats` and `orlop update` with real containers (local engine)."""

from __future__ import annotations

import json
import multiprocessing
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from harness import Orlop
from orlop.engine.events import EventFilter, EventLog, cli_timestamp, parse_timestamp

CG = Path("/sys/fs/cgroup")


def _events(orlop: Orlop, since: float, *flags: str) -> list[dict[str, Any]]:
    out = orlop.ok("events", "--since", f"{since:.9f}", "--until", f"{time.time():.9f}",
                   "--format", "json", *flags)
    return [json.loads(line) for line in out.splitlines()]


def _pairs(evs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["Type"], e["Action"]) for e in evs]


def _in_order(seq: list[tuple[str, str]], wanted: list[tuple[str, str]]) -> bool:
    it = iter(seq)
    return all(w in it for w in wanted)


def test_events_run_stop_rm_volume_tag_give_dockers_sequence(bb: Orlop) -> None:
    t0 = time.time()
    cid = bb.ok("run", "-d", "--name", "ev1", "-l", "team=a", "busybox", "sleep", "60").strip()
    bb.ok("stop", "-t", "1", "ev1")
    bb.ok("rm", "ev1")
    bb.ok("volume", "create", "evvol")
    bb.ok("volume", "rm", "evvol")
    bb.ok("tag", "busybox", "evimg:1")
    evs = _events(bb, t0)
    assert _in_order(_pairs(evs), [
        ("container", "create"), ("container", "start"), ("container", "kill"),
        ("container", "die"), ("container", "stop"), ("container", "destroy"),
        ("volume", "create"), ("volume", "destroy"), ("image", "tag")]), _pairs(evs)
    create = next(e for e in evs if e["Action"] == "create" and e["Type"] == "container")
    assert create["Actor"] == {"ID": cid, "Attributes": {"image": "busybox", "name": "ev1",
                                                         "team": "a"}}
    assert (create["status"], create["id"], create["from"], create["scope"]) == \
        ("create", cid, "busybox", "local")
    assert create["time"] == create["timeNano"] // 1_000_000_000
    # sleep as PID 1 ignores SIGTERM: stop sends 15, then 9 after the timeout.
    assert [e["Actor"]["Attributes"]["signal"] for e in evs if e["Action"] == "kill"] == \
        ["15", "9"]
    die = next(e for e in evs if e["Action"] == "die")
    assert die["Actor"]["Attributes"]["exitCode"] == "137"
    tag = next(e for e in evs if e["Type"] == "image")
    assert tag["Actor"]["Attributes"] == {"name": "evimg:1"}
    assert tag["Actor"]["ID"].startswith("sha256:")
    # Docker's default line: local time with nanoseconds, type, action, id, attributes.
    line = bb.ok("events", "--since", f"{t0:.9f}", "--until", f"{time.time():.9f}",
                 "-f", "type=volume", "-f", "event=create").strip()
    assert line.endswith(" volume create evvol (driver=local)"), line
    assert line[4] == "-" and line[10] == "T" and line[19] == "." and line[29] in "Z+-"


def test_events_foreground_run_with_volume_has_attach_mount_unmount(bb: Orlop) -> None:
    t0 = time.time()
    res = bb("run", "--rm", "-v", "fgvol:/data", "busybox", "sh", "-c", "exit 3")
    assert res.returncode == 3
    pairs = _pairs(_events(bb, t0))
    assert _in_order(pairs, [
        ("volume", "create"), ("container", "create"), ("container", "attach"),
        ("volume", "mount"), ("container", "start"), ("container", "die"),
        ("volume", "unmount"), ("container", "destroy")]), pairs
    mount = next(e for e in _events(bb, t0) if e["Action"] == "mount")
    assert mount["Actor"]["Attributes"]["destination"] == "/data"
    assert mount["Actor"]["Attributes"]["read/write"] == "true"
    die = next(e for e in _events(bb, t0) if e["Action"] == "die")
    assert die["Actor"]["Attributes"]["exitCode"] == "3"


def test_events_filters_select_by_type_name_event_label_and_image(bb: Orlop) -> None:
    t0 = time.time()
    bb.ok("create", "--name", "fa", "-l", "role=db", "busybox", "true")
    bb.ok("create", "--name", "fb", "busybox", "true")
    bb.ok("volume", "create", "fv")
    assert {e["Actor"]["Attributes"]["name"] for e in _events(bb, t0, "-f", "container=fa")} \
        == {"fa"}
    assert _pairs(_events(bb, t0, "-f", "type=volume")) == [("volume", "create")]
    assert len(_events(bb, t0, "-f", "label=role=db")) == 1
    assert len(_events(bb, t0, "-f", "label=role")) == 1
    assert len(_events(bb, t0, "-f", "image=busybox", "-f", "event=create")) == 2
    assert _events(bb, t0, "-f", "container=fa", "-f", "type=volume") == []
    # Values of one key are alternatives.
    assert len(_events(bb, t0, "-f", "container=fa", "-f", "container=fb")) == 2
    res = bb("events", "-f", "nonsense")
    assert res.returncode == 1 and "bad format of filter (expected name=value)" in res.stderr
    res = bb("events", "--since", "1", "--until", "0s", "-f", "colour=red")
    assert res.returncode == 1 and "Invalid filter 'colour'" in res.stderr
    res = bb("events", "--since", "0s", "--until", "10m")
    assert res.returncode == 1 and "cannot be after `until` time" in res.stderr


def test_events_follow_sees_a_new_event_within_a_second(bb: Orlop) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "orlop", "--root", str(bb.root), "events", "-f",
         "type=volume"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)  # the follower is up and positioned at the end of the log
        bb.ok("volume", "create", "followed")
        t = time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], 5)
        assert ready, "no event within 5 s"
        line = proc.stdout.readline() if proc.stdout else ""
        assert time.monotonic() - t < 1.0
        assert " volume create followed (driver=local)" in line
    finally:
        proc.terminate()
        proc.wait(5)


def _writer(root: str, n: int, tag: str) -> None:
    log = EventLog(Path(root))
    for i in range(n):
        log.volume(f"{tag}-{i}", "create", {"driver": "local", "pad": "x" * 100})
    log.close()


def test_event_log_stays_bounded_with_concurrent_writers(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.setenv("ORLOP_EVENTS_LOG_SIZE", "20000")
    procs = [multiprocessing.get_context("fork").Process(
        target=_writer, args=(str(tmp_path), 400, f"w{k}")) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    cur, old = tmp_path / "events.log", tmp_path / "events.log.1"
    assert cur.stat().st_size <= 20000 and old.stat().st_size <= 20000
    lines = old.read_bytes().splitlines() + cur.read_bytes().splitlines()
    assert all(json.loads(line)["Type"] == "volume" for line in lines)  # none torn
    tail = EventLog(tmp_path).tail()
    history = tail.history()
    tail.close()
    assert len(history) == len(lines)
    # Rotation drops whole old files only: what is left of each writer is a run of
    # consecutive events (none lost in between), and the last event written is there.
    by_writer: dict[str, list[int]] = {}
    for e in history:
        k, _, i = e["Actor"]["ID"].partition("-")
        by_writer.setdefault(k, []).append(int(i))
    for nums in by_writer.values():
        assert sorted(nums) == list(range(min(nums), max(nums) + 1))
    assert history[-1]["Actor"]["ID"].endswith("-399")


def test_event_times_parse_as_the_docker_cli_and_api_do() -> None:
    now = 1_800_000_000.0
    assert cli_timestamp("10m", now) == str(int(now - 600))
    assert cli_timestamp("1700000000.5", now) == "1700000000.5"
    assert cli_timestamp("2026-01-02T03:04:05Z", now) == "1767323045.000000000"
    assert cli_timestamp("2026-01-02T03:04:05.25+01:00", now) == "1767319445.250000000"
    assert parse_timestamp("1700000000.5") == 1_700_000_000_500_000_000
    assert parse_timestamp("") == 0
    flt = EventFilter({"event": ["exec_start"]})
    assert flt.match({"Type": "container", "Action": "exec_start: sh -c x",
                      "Actor": {"ID": "a", "Attributes": {}}, "scope": "local"})


# --- stats ---------------------------------------------------------------------------


def _stats_json(orlop: Orlop, *args: str) -> list[dict[str, str]]:
    out = orlop.ok("stats", "--no-stream", "--format", "json", *args)
    return [json.loads(line) for line in out.splitlines()]


def _mib(text: str) -> float:
    units = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return float(text[:-len(unit)]) * units[unit]
    raise AssertionError(text)


def test_stats_of_a_busy_container_shows_cpu_and_memory(bb: Orlop) -> None:
    bb.ok("run", "-d", "--name", "spin", "-m", "64m", "busybox", "sh", "-c",
          "while :; do :; done")
    bb.ok("create", "--name", "idle", "busybox", "true")
    try:
        (row,) = _stats_json(bb, "spin")
        assert float(row["CPUPerc"].rstrip("%")) > 0, row
        used, limit = row["MemUsage"].split(" / ")
        assert _mib(used) > 0 and limit == "64MiB"
        assert float(row["MemPerc"].rstrip("%")) > 0
        assert row["Name"] == "spin" and len(row["ID"]) == 12 and row["PIDs"] == "1"
        # -a shows the stopped one with Docker's zeros; the table has Docker's header.
        table = bb.ok("stats", "--no-stream", "-a").splitlines()
        assert table[0].split() == ["CONTAINER", "ID", "NAME", "CPU", "%", "MEM", "USAGE",
                                    "/", "LIMIT", "MEM", "%", "NET", "I/O", "BLOCK", "I/O",
                                    "PIDS"]
        idle = next(line for line in table if " idle " in line)
        assert idle.split()[2:] == ["0.00%", "0B", "/", "0B", "0.00%", "0B", "/", "0B",
                                    "0B", "/", "0B", "0"]
        assert len(bb.ok("stats", "--no-stream", "--no-trunc", "--format", "{{.ID}}",
                         "spin").strip()) == 64
    finally:
        bb.ok("rm", "-f", "spin")
    res = bb("stats", "--no-stream", "nosuch")
    assert res.returncode == 1 and "No such container: nosuch" in res.stderr


# --- update --------------------------------------------------------------------------


def _cg(controller: str, cid: str, name: str) -> str:
    return (CG / controller / "orlop" / cid / name).read_text().strip()


def test_update_changes_the_cgroup_and_the_stored_config(bb: Orlop) -> None:
    cid = bb.ok("run", "-d", "--name", "upd", "busybox", "sleep", "60").strip()
    try:
        assert bb.ok("update", "--memory", "64m", "--pids-limit", "20", "--cpus", "0.5",
                     "upd").strip() == "upd"
        assert _cg("memory", cid, "memory.limit_in_bytes") == str(64 << 20)
        assert _cg("pids", cid, "pids.max") == "20"
        assert _cg("cpu", cid, "cpu.cfs_quota_us") == "50000"
        hc = json.loads(bb.ok("inspect", "upd"))[0]["HostConfig"]
        assert (hc["Memory"], hc["PidsLimit"], hc["NanoCpus"]) == (64 << 20, 20, 500_000_000)
        bb.ok("update", "--pids-limit", "-1", "upd")
        assert _cg("pids", cid, "pids.max") == "max"
        # Docker's refusals change nothing.
        res = bb("update", "-m", "1m", "upd")
        assert res.returncode == 1 and "Minimum memory limit allowed is 6MB" in res.stderr
        res = bb("update", "upd")
        assert res.returncode == 1 and "you must provide one or more flags" in res.stderr
        res = bb("update", "--restart", "always", "upd", "nosuch")
        assert res.returncode == 1 and res.stdout == "upd\n"
        assert "No such container: nosuch" in res.stderr
        hc = json.loads(bb.ok("inspect", "upd"))[0]["HostConfig"]
        assert hc["Memory"] == 64 << 20 and hc["RestartPolicy"]["Name"] == "always"
        assert "update" in [e["Action"] for e in _events(bb, time.time() - 60)]
    finally:
        bb.ok("rm", "-f", "upd")


@pytest.mark.skipif(bool(open("/proc/swaps").read().splitlines()[1:]),
                    reason="with swap the kernel pushes tmpfs pages out instead of EBUSY")
def test_update_memory_below_usage_is_refused_with_runcs_text(bb: Orlop) -> None:
    cid = bb.ok("run", "-d", "-m", "64m", "--name", "full", "busybox", "sleep", "60").strip()
    try:
        bb.ok("exec", "full", "dd", "if=/dev/urandom", "of=/dev/shm/f", "bs=1M", "count=20")
        res = bb("update", "-m", "8m", "full")
        assert res.returncode == 1
        assert f"Cannot update container {cid}: unable to set memory limit to 8388608 " \
               "(current usage: " in res.stderr
        assert json.loads(bb.ok("inspect", "full"))[0]["HostConfig"]["Memory"] == 64 << 20
        assert _cg("memory", cid, "memory.limit_in_bytes") == str(64 << 20)
    finally:
        bb.ok("rm", "-f", "full")


def test_update_of_a_stopped_container_applies_at_its_next_start(bb: Orlop) -> None:
    bb.ok("create", "--name", "later", "busybox", "sleep", "60")
    bb.ok("update", "-m", "32m", "--pids-limit", "9", "later")
    cid = bb.ok("start", "later").strip() and \
        json.loads(bb.ok("inspect", "later"))[0]["Id"]
    try:
        assert _cg("memory", cid, "memory.limit_in_bytes") == str(32 << 20)
        assert _cg("pids", cid, "pids.max") == "9"
    finally:
        bb.ok("rm", "-f", "later")


def test_rm_force_of_a_restart_always_container_ends(bb: Orlop) -> None:
    bb.ok("run", "-d", "--restart", "always", "--name", "ra", "busybox", "sleep", "60")
    t = time.monotonic()
    bb.ok("rm", "-f", "ra", timeout=20)
    assert time.monotonic() - t < 10
    assert bb.ok("ps", "-aq").strip() == ""


def test_stats_module_imports_stay_light() -> None:
    # The CLI's `events` path must not pull the server in (layers) and stays cheap.
    res = subprocess.run([sys.executable, "-c", "import orlop.cli.commands.events, sys; "
                          "print('aiohttp' in sys.modules)"], capture_output=True, text=True,
                         check=True, env={**os.environ})
    assert res.stdout.strip() == "False"
