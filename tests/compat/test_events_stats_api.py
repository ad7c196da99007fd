"""GET /events, GET /containers/{id}/stats and POST /containers/{id}/update against real
Docker clients (docker CLI 28, docker-py) and Orlop's own remote CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .conftest import Server

CG = Path("/sys/fs/cgroup")


def _orlop(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orlop", "-H", server.host, *args],
                          capture_output=True, text=True, timeout=60, check=False)


def _actions(lines: str) -> list[tuple[str, str]]:
    return [(e["Type"], e["Action"]) for e in map(json.loads, lines.splitlines())]


def _in_order(seq: list[tuple[str, str]], wanted: list[tuple[str, str]]) -> bool:
    it = iter(seq)
    return all(w in it for w in wanted)


def test_docker_events_since_until_filter_give_the_sequence(bbd: Server) -> None:
    t0 = f"{time.time():.9f}"
    bbd.ok("run", "--rm", "--network", "none", "--name", "evr", "busybox", "true")
    bbd.ok("run", "-d", "--network", "none", "--name", "evd", "busybox", "sleep", "60")
    bbd.ok("stop", "-t", "1", "evd")
    bbd.ok("rm", "evd")
    bbd.ok("volume", "create", "evv")
    bbd.ok("volume", "rm", "evv")
    bbd.ok("tag", "busybox", "evtag:1")
    t1 = f"{time.time():.9f}"
    out = bbd.ok("events", "--since", t0, "--until", t1, "--format", "{{json .}}")
    seq = _actions(out)
    assert _in_order(seq, [
        ("container", "create"), ("container", "attach"), ("container", "start"),
        ("container", "die"), ("container", "destroy"),
        ("container", "create"), ("container", "start"), ("container", "kill"),
        ("container", "die"), ("container", "stop"), ("container", "destroy"),
        ("volume", "create"), ("volume", "destroy"), ("image", "tag")]), seq
    out = bbd.ok("events", "--since", t0, "--until", t1, "--filter", "container=evd",
                 "--filter", "event=die")
    (line,) = out.splitlines()
    assert " container die " in line and "exitCode=137" in line and "name=evd" in line
    assert _actions(bbd.ok("events", "--since", t0, "--until", t1, "--filter",
                           "type=volume", "--format", "{{json .}}")) == \
        [("volume", "create"), ("volume", "destroy")]
    # Orlop's remote CLI prints the same lines as the docker CLI.
    res = _orlop(bbd, "events", "--since", t0, "--until", t1, "--filter", "type=volume")
    assert res.returncode == 0, res.stderr
    assert res.stdout == bbd.ok("events", "--since", t0, "--until", t1, "--filter",
                                "type=volume")


def test_docker_py_events_decode_past_and_following(client: Any, bbd: Server) -> None:
    since = time.time()
    client.volumes.create("pyv1")
    until = time.time()
    evs = list(client.events(since=since, until=until, decode=True,
                             filters={"type": "volume"}))
    assert [(e["Action"], e["Actor"]["ID"]) for e in evs] == [("create", "pyv1")]
    # Following: a new event arrives within a second.
    stream = client.events(decode=True, filters={"type": "volume", "event": "create"})
    got: list[tuple[float, dict[str, Any]]] = []
    reader = threading.Thread(target=lambda: got.append((time.monotonic(), next(stream))),
                              daemon=True)
    reader.start()
    time.sleep(0.5)
    client.volumes.create("pyv2")
    created = time.monotonic()
    reader.join(5)
    stream.close()
    assert got, "no event within 5 s"
    assert got[0][1]["Actor"]["ID"] == "pyv2"
    assert got[0][0] - created < 1.0


def test_exec_events_carry_the_api_exec_id(client: Any, bbd: Server) -> None:
    c = client.containers.run("busybox", ["sleep", "60"], detach=True, network_mode="none")
    try:
        since = time.time()
        exec_id = client.api.exec_create(c.id, ["sh", "-c", "exit 3"])["Id"]
        client.api.exec_start(exec_id)
        until = time.time() + 0.5
        evs = list(client.events(since=since, until=until, decode=True,
                                 filters={"type": "container", "container": c.id}))
        execs = [(e["Action"].partition(":")[0], e["Actor"]["Attributes"].get("execID"))
                 for e in evs if e["Action"].startswith("exec_")]
        assert execs == [("exec_create", exec_id), ("exec_start", exec_id),
                         ("exec_die", exec_id)], evs
        die = next(e for e in evs if e["Action"] == "exec_die")
        assert die["Actor"]["Attributes"]["exitCode"] == "3"
    finally:
        c.remove(force=True)


def _events_fds(pid: int) -> int:
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").endswith("/events.log"):
                n += 1
        except OSError:
            pass
    return n


def test_a_client_leaving_an_events_stream_leaves_nothing_behind(bbd: Server) -> None:
    """The follower's handler ends (its open log file is closed) when the client goes."""
    before = _events_fds(bbd.proc.pid)
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(bbd.socket))
    s.sendall(b"GET /v1.45/events HTTP/1.1\r\nHost: x\r\n\r\n")
    head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 200") and b"application/json" in head
    deadline = time.monotonic() + 5
    while _events_fds(bbd.proc.pid) <= before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _events_fds(bbd.proc.pid) == before + 1
    s.close()
    deadline = time.monotonic() + 3
    while _events_fds(bbd.proc.pid) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _events_fds(bbd.proc.pid) == before


def test_events_api_errors_are_dockers(bbd: Server) -> None:
    status, _, body = bbd.raw("GET", "/v1.45/events?since=20&until=10")
    assert status == 400 and b"cannot be after `until` time" in body
    status, _, body = bbd.raw(
        "GET", "/v1.45/events?since=1&until=2&filters=%7B%22x%22%3A%5B%22y%22%5D%7D")
    assert status == 400 and b"Invalid filter 'x'" in body
    status, _, body = bbd.raw("GET", "/v1.45/events?since=abc")
    assert status == 400 and b"invalid syntax" in body


def test_stats_of_a_busy_container_through_docker_cli_py_and_orlop(client: Any,
                                                                   bbd: Server) -> None:
    bbd.ok("run", "-d", "--network", "none", "--name", "spin", "-m", "64m", "busybox", "sh",
           "-c", "while :; do :; done")
    bbd.ok("create", "--network", "none", "--name", "idle", "busybox", "true")
    try:
        row = json.loads(bbd.ok("stats", "--no-stream", "--format", "json", "spin"))
        assert float(row["CPUPerc"].rstrip("%")) > 0, row
        assert row["MemUsage"].endswith(" / 64MiB") and not row["MemUsage"].startswith("0B")
        assert row["Name"] == "spin" and row["PIDs"] == "1"
        s = client.containers.get("spin").stats(stream=False)
        assert s["name"] == "/spin" and len(s["id"]) == 64
        assert s["cpu_stats"]["cpu_usage"]["total_usage"] > \
            s["precpu_stats"]["cpu_usage"]["total_usage"] > 0
        assert s["cpu_stats"]["system_cpu_usage"] > s["precpu_stats"]["system_cpu_usage"]
        assert s["cpu_stats"]["online_cpus"] == os.cpu_count()
        assert s["memory_stats"]["usage"] > 0 and s["memory_stats"]["limit"] == 64 << 20
        assert s["pids_stats"]["current"] == 1
        one = client.api.stats("spin", stream=False, one_shot=True)
        assert one["precpu_stats"]["cpu_usage"]["total_usage"] == 0
        # A container that is not running: Docker's empty stats.
        idle = client.api.stats("idle", stream=False)
        assert idle["name"] == "/idle" and idle["memory_stats"] == {}
        assert idle["read"] == "0001-01-01T00:00:00Z"
        # Streaming: one object a second, precpu filled from the second on.
        frames = client.api.stats("spin", stream=True, decode=True)
        first, second = next(frames), next(frames)
        frames.close()
        assert second["precpu_stats"]["cpu_usage"]["total_usage"] == \
            first["cpu_stats"]["cpu_usage"]["total_usage"]
        res = _orlop(bbd, "stats", "--no-stream", "--format", "json", "spin")
        assert res.returncode == 0, res.stderr
        row = json.loads(res.stdout)
        assert float(row["CPUPerc"].rstrip("%")) > 0 and row["MemUsage"].endswith("/ 64MiB")
        res = _orlop(bbd, "stats", "--no-stream", "-a")
        assert res.returncode == 0 and " idle " in res.stdout and " spin " in res.stdout
    finally:
        bbd.ok("rm", "-f", "spin", "idle")
    status, _, body = bbd.raw("GET", "/v1.45/containers/nosuch/stats?stream=false")
    assert status == 404 and b"No such container: nosuch" in body


def test_docker_update_and_orlop_remote_update_change_limits(client: Any,
                                                           bbd: Server) -> None:
    cid = bbd.ok("run", "-d", "--network", "none", "--name", "upd", "busybox", "sleep",
                 "60").strip()
    try:
        assert bbd.ok("update", "--memory", "48m", "--pids-limit", "20", "upd").strip() == \
            "upd"
        assert (CG / "memory/orlop" / cid / "memory.limit_in_bytes").read_text().strip() \
            == str(48 << 20)
        assert (CG / "pids/orlop" / cid / "pids.max").read_text().strip() == "20"
        hc = client.api.inspect_container("upd")["HostConfig"]
        assert (hc["Memory"], hc["PidsLimit"]) == (48 << 20, 20)
        assert client.containers.get("upd").update(mem_limit="40m") == {"Warnings": []}
        res = _orlop(bbd, "update", "--cpus", "0.25", "--restart", "on-failure:3", "upd")
        assert res.returncode == 0 and res.stdout == "upd\n", res.stderr
        hc = client.api.inspect_container("upd")["HostConfig"]
        assert (hc["Memory"], hc["NanoCpus"]) == (40 << 20, 250_000_000)
        assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
        assert (CG / "cpu/orlop" / cid / "cpu.cfs_quota_us").read_text().strip() == "25000"
        res = bbd.docker("update", "--memory", "1m", "upd")
        assert res.returncode == 1 and "Minimum memory limit allowed is 6MB" in res.stderr
        t1 = f"{time.time():.9f}"
        out = bbd.ok("events", "--since", "1", "--until", t1, "--filter", "event=update")
        assert len(out.splitlines()) == 3
    finally:
        bbd.ok("rm", "-f", "upd")
