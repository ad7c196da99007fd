"""The warm namespace pool (engine/net/pool.py), for real: a keeper per root holds
namespaces set up by netavark on the default bridge, a `run` that publishes nothing
takes one and adopts its address, everything it held goes when it leaves (idle,
SIGTERM) and what a kill -9 leaves is repaired by the next command.  The suite turns
the pool off (tests/conftest.py); these tests turn it on for their own runs."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness import Orlop
from testsupport import keeper_pid, stop_keeper, until

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/lib/podman/netavark"),
                                reason="netavark is not installed")

POOL = {"ORLOP_NET_POOL": "2", "ORLOP_NET_POOL_IDLE": "60"}
SHOW = ("busybox", "sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'; "
        "ip -o link show eth0 | awk '{print $(NF-2)}'; cat /etc/hosts; "
        "ping -c1 -W2 $GW >/dev/null && echo reached")


def _pool_dir(o: Orlop) -> Path:
    return o.root / "run" / "netpool"


def _ready(o: Orlop) -> dict[str, str]:
    """slot -> address of the namespaces the keeper holds ready (its JSON files)."""
    out = {}
    for f in _pool_dir(o).glob("*.json"):
        doc = json.loads(f.read_text())
        (per,) = doc["networks"].values()
        out[f.name[:-5]] = per["static_ips"][0]
    return out


def _rows(o: Orlop) -> list[tuple[str, str]]:
    conn = sqlite3.connect(f"file:{o.root / 'orlop.db'}?mode=ro", uri=True)
    try:
        return [(r[0], r[1]) for r in conn.execute("SELECT slot, ip FROM netpool")]
    finally:
        conn.close()


def _bridge(o: Orlop) -> tuple[Path, str]:
    info = json.loads(o.ok("network", "inspect", "bridge"))[0]
    return (Path("/sys/class/net") / info["Options"]["com.docker.network.bridge.name"],
            info["IPAM"]["Config"][0]["Gateway"])


def _warm(o: Orlop, n: int = 2) -> dict[str, str]:
    """Wait until the keeper holds ``n`` namespaces set up (their JSON is written before
    netavark runs, so the bridge's members are counted too)."""
    brif = _bridge(o)[0] / "brif"
    assert until(lambda: len(_ready(o)) == n and brif.is_dir()
                 and len(list(brif.iterdir())) == n, 20), (
        f"the keeper did not fill its pool: {_ready(o)}; log: "
        f"{(_pool_dir(o) / 'keeper.log').read_text() if _pool_dir(o).exists() else ''}")
    return _ready(o)


def test_a_run_takes_a_warm_namespace_and_adopts_its_address(bb: Orlop) -> None:
    bridge, gw = _bridge(bb)
    bb.ok("run", "--rm", "busybox", "true", env=POOL)  # cold: starts the keeper
    ready = _warm(bb)
    assert sorted(ready.items()) == sorted(_rows(bb))  # each address reserved
    assert len(list((bridge / "brif").iterdir())) == 2  # the two ready ones, nothing else
    out = bb.ok("run", "--rm", "-e", f"GW={gw}", *SHOW, env=POOL).splitlines()
    ip = out[0].split("/")[0]
    assert ip in ready.values(), (ip, ready)
    mac = ":".join(f"{b:02x}" for b in (2, 0x42, *map(int, ip.split("."))))
    assert out[1] == mac  # Docker's MAC for the address, as its own setup gives
    assert any(line.startswith(f"{ip}\t") for line in out[2:]) and out[-1] == "reached"
    assert ip not in [r[1] for r in _rows(bb)]  # adopted: no longer the pool's
    # Refilled, and the used namespace's teardown leaves only the ready ones.
    assert until(lambda: len(_ready(bb)) == 2 and len(list((bridge / "brif").iterdir())) == 2,
                 20)
    # A detached container: inspect reports the address it runs with.
    cid = bb.ok("run", "-d", "busybox", "sleep", "300", env=POOL).strip()
    try:
        ns = json.loads(bb.ok("inspect", cid))[0]["NetworkSettings"]
        inside = bb.ok("exec", cid, "sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'")
        assert ns["IPAddress"] == inside.split("/")[0] and ns["MacAddress"]
        assert ns["Networks"]["bridge"]["IPAddress"] == ns["IPAddress"]
    finally:
        bb.ok("rm", "-f", cid)
    stop_keeper(bb.root)
    assert not _pool_dir(bb).exists() and not _rows(bb) and not bridge.exists()


def test_ports_and_other_networks_set_up_their_own(bb: Orlop) -> None:
    bb.ok("run", "--rm", "busybox", "true", env=POOL)
    ready = _warm(bb)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    out = bb.ok("run", "--rm", "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c",
                "ip -4 -o addr show eth0 | awk '{print $4}'", env=POOL)
    assert out.split("/")[0] not in ready.values()
    assert _ready(bb) == ready  # untouched

    def nat() -> str:
        return subprocess.run(["iptables-save", "-t", "nat"], capture_output=True,
                              text=True, check=False).stdout

    # Its teardown was handed to the keeper (no fork in the CLI): the port's rules go.
    assert until(lambda: f"--dport {port} " not in nat()
                 and not list((bb.root / "run" / "netns").glob("*")), 10)
    bb.ok("network", "create", "--internal", "poolnet")
    out = bb.ok("run", "--rm", "--network", "poolnet", "busybox", "sh", "-c",
                "ip -4 -o addr show eth0 | awk '{print $4}'", env=POOL)
    assert out.split("/")[0] not in ready.values() and _ready(bb) == ready
    stop_keeper(bb.root)
    bb.ok("network", "rm", "poolnet")


def test_concurrent_runs_get_distinct_addresses_with_the_pool(bb: Orlop) -> None:
    bb.ok("run", "--rm", "busybox", "true", env=POOL)
    _warm(bb)

    def one(_i: int) -> str:
        return bb.ok("run", "--rm", "busybox", "sh", "-c",
                     "ip -4 -o addr show eth0 | awk '{print $4}'; sleep 1", env=POOL).strip()

    with ThreadPoolExecutor(5) as ex:
        ips = list(ex.map(one, range(5)))
    assert len(set(ips)) == 5, ips
    stop_keeper(bb.root)


def test_an_idle_keeper_leaves_nothing_behind(bb: Orlop) -> None:
    bridge, _gw = _bridge(bb)
    env = {**POOL, "ORLOP_NET_POOL_IDLE": "1"}
    bb.ok("run", "--rm", "busybox", "true", env=env)
    assert until(lambda: keeper_pid(bb.root) != 0, 10)
    pid = keeper_pid(bb.root)
    assert until(lambda: not os.path.exists(f"/proc/{pid}"), 30)
    assert not _pool_dir(bb).exists() and not _rows(bb)
    assert until(lambda: not bridge.exists(), 10)  # its namespaces were the last members


def test_a_killed_keeper_is_repaired_by_the_next_command(bb: Orlop) -> None:
    bridge, _gw = _bridge(bb)
    bb.ok("run", "--rm", "busybox", "true", env=POOL)
    _warm(bb)
    pid = keeper_pid(bb.root)
    os.kill(pid, signal.SIGKILL)
    assert until(lambda: not os.path.exists(f"/proc/{pid}"), 10)
    assert _rows(bb)  # what it left: address reservations, JSON, the bridge
    bb.ok("ps", "-a")
    assert not _rows(bb) and not _pool_dir(bb).exists()
    assert until(lambda: not bridge.exists(), 10)
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True,
                           check=False).stdout
    subnet = json.loads(bb.ok("network", "inspect", "bridge"))[0]["IPAM"]["Config"][0]["Subnet"]
    assert subnet not in rules
    # And the next run works (cold, starting a new keeper).
    assert bb.ok("run", "--rm", "busybox", "echo", "ok", env=POOL) == "ok\n"
    _warm(bb)
    stop_keeper(bb.root)


def test_a_slot_freed_meanwhile_is_not_used(bb: Orlop) -> None:
    """If the pool's reservation is gone when a start takes its namespace (a repair freed
    it), the start drops that namespace and sets up its own."""
    bb.ok("run", "--rm", "busybox", "true", env=POOL)
    ready = _warm(bb)
    conn = sqlite3.connect(bb.root / "orlop.db")
    try:
        conn.execute("DELETE FROM netpool")
        conn.commit()
    finally:
        conn.close()
    out = bb.ok("run", "--rm", "busybox", "sh", "-c",
                "ip -4 -o addr show eth0 | awk '{print $4}'", env=POOL)
    ip = out.split("/")[0]
    assert ip  # it has an address: its own setup's
    taken = set(ready) - set(_ready(bb))
    assert len(taken) == 1  # the keeper handed one over; the start did not use it
    time.sleep(0.2)
    stop_keeper(bb.root)


def test_a_detached_containers_exit_hands_its_teardown_to_the_keeper(bb: Orlop) -> None:
    """The monitor's finish phase gives the namespace to the keeper (its auto-remove
    does not wait for netavark); the keeper tears it down."""
    bb.ok("run", "--rm", "busybox", "true", env=POOL)
    _warm(bb)
    brif = _bridge(bb)[0] / "brif"
    cid = bb.ok("run", "-d", "--rm", "busybox", "sleep", "0.5", env=POOL).strip()
    assert until(lambda: bb("inspect", cid).returncode != 0, 20)
    assert until(lambda: not list((bb.root / "run" / "netns").glob("*"))
                 and len(list(brif.iterdir())) == 2, 20)
    stop_keeper(bb.root)
