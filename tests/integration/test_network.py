"""Bridge networks for real (netavark + aardvark-dns): published ports reached from the
host on 127.0.0.1, names resolved on user networks, addresses from the pool, connect and
disconnect while running, Docker's refusals.  Every network here is ``--internal`` or
the default bridge reached only through 127.0.0.1; the harness checks after each test
that the root's bridges, firewall rules and DNS servers are gone."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness import Orlop

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/lib/podman/netavark"),
                                reason="netavark is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 5) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return str(r.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _subnet(orlop: Orlop, n: int = 0) -> str:
    """A /24 for this test's networks, derived from its root (tests may run
    concurrently with other roots on this host)."""
    h = abs(hash(str(orlop.root))) % 250
    return f"10.{60 + n}.{h}.0/24"


def test_seed_web_example_published_on_loopback(bb: Orlop, tmp_path: Path) -> None:
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("hello from orlop\n")
    port = _free_port()
    cid = bb.ok("run", "-d", "--name", "web", "-p", f"127.0.0.1:{port}:80", "-v",
                f"{www}:/www", "busybox", "httpd", "-f", "-h", "/www").strip()
    assert _get(f"http://127.0.0.1:{port}/") == "hello from orlop\n"
    assert bb.ok("port", "web") == f"80/tcp -> 127.0.0.1:{port}\n"
    assert bb.ok("port", "web", "80/tcp") == f"127.0.0.1:{port}\n"
    res = bb("port", "web", "81")
    assert res.returncode == 1 and "No public port '81/tcp' published for web" in res.stderr
    assert f"127.0.0.1:{port}->80/tcp" in bb.ok("ps", "--format", "{{.Ports}}")
    info = json.loads(bb.ok("inspect", cid))[0]
    ns = info["NetworkSettings"]
    assert ns["Ports"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    assert info["HostConfig"]["NetworkMode"] == "default"
    assert info["HostConfig"]["PortBindings"] == {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    bridge = ns["Networks"]["bridge"]
    assert bridge["IPAddress"] == ns["IPAddress"] and ns["IPAddress"]
    assert bridge["Gateway"] == ns["Gateway"] and bridge["MacAddress"] == ns["MacAddress"]
    assert bridge["NetworkID"] == json.loads(bb.ok("network", "inspect", "bridge"))[0]["Id"]
    # Published on 127.0.0.1 only: the gateway address (the host's, seen from another
    # container) does not answer on that port; the container's own address does.
    out = bb.ok("run", "--rm", "busybox", "sh", "-c",
                f"timeout 5 wget -q -O - http://{bridge['Gateway']}:{port}/ || echo refused; "
                f"timeout 5 wget -q -O - http://{ns['IPAddress']}:80/")
    assert out == "refused\nhello from orlop\n"
    bb.ok("rm", "-f", "web")
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)


def test_published_on_all_addresses_reaches_from_another_container(bb: Orlop,
                                                                   tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("all\n")
    port = _free_port()
    bb.ok("run", "-d", "--name", "web1", "-p", f"{port}:80", "-v", f"{tmp_path}:/www",
          "busybox", "httpd", "-f", "-h", "/www")
    assert _get(f"http://127.0.0.1:{port}/") == "all\n"
    gw = json.loads(bb.ok("inspect", "web1"))[0]["NetworkSettings"]["Gateway"]
    out = bb.ok("run", "--rm", "busybox", "timeout", "5", "wget", "-q", "-O", "-",
                f"http://{gw}:{port}/")
    assert out == "all\n"


def test_random_ports_expose_and_publish_all(bb: Orlop) -> None:
    bb.ok("run", "-d", "--name", "rnd", "--expose", "7000", "-P", "-p", "127.0.0.1::9000/udp",
          "busybox", "sleep", "60")
    ports = json.loads(bb.ok("inspect", "rnd"))[0]["NetworkSettings"]["Ports"]
    assert set(ports) == {"7000/tcp", "9000/udp"}
    assert ports["9000/udp"][0]["HostIp"] == "127.0.0.1"
    assert all(int(b[0]["HostPort"]) > 1024 for b in ports.values())
    # ps --filter publish= (host port), expose= (container port, tcp by default), network=
    bb.ok("run", "-d", "--name", "plain", "--network", "none", "busybox", "sleep", "60")
    fmt = ("--format", "{{.Names}}")
    udp = ports["9000/udp"][0]["HostPort"]
    assert bb.ok("ps", "--filter", f"publish={udp}/udp", *fmt) == "rnd\n"
    assert bb.ok("ps", "--filter", f"publish={udp}", *fmt) == ""
    assert bb.ok("ps", "--filter", "expose=7000", "--filter", "expose=1-2", *fmt) == "rnd\n"
    assert bb.ok("ps", "--filter", "expose=9000", *fmt) == ""
    assert bb.ok("ps", "--filter", "network=none", *fmt) == "plain\n"
    assert bb.ok("ps", "--filter", "network=bridge", *fmt) == "rnd\n"
    res = bb("ps", "--filter", "publish=127.0.0.1:80")
    assert res.returncode != 0 and "should not contain ':'" in res.stderr


@pytest.mark.parametrize("spec,err", [
    ("[::1]:8080:80", "IPv6 is not enabled"),
    ("8080:80/xyz", "invalid proto: xyz"),
    ("abc:80", "invalid hostPort: abc"),
    ("8000-8010:80-81", "invalid ranges specified"),
])
def test_bad_publish_refused_nothing_created(bb: Orlop, spec: str, err: str) -> None:
    res = bb("run", "--rm", "-p", spec, "busybox", "true")
    assert res.returncode == 125 and err in res.stderr
    assert bb.ok("ps", "-aq") == ""


def test_names_resolve_on_user_network_not_on_default_bridge(bb: Orlop) -> None:
    bb.ok("network", "create", "--internal", "--subnet", _subnet(bb), "appnet")
    bb.ok("run", "-d", "--name", "db", "--network", "appnet", "--network-alias", "database",
          "busybox", "sleep", "60")
    ip = json.loads(bb.ok("inspect", "db"))[0]["NetworkSettings"]["Networks"]["appnet"][
        "IPAddress"]
    out = bb.ok("run", "--rm", "--network", "appnet", "busybox", "sh", "-c",
                "nslookup db | grep -A1 '^Name'; nslookup database | grep -A1 '^Name'; "
                "ping -c1 -W2 db >/dev/null && echo pinged")
    assert out.count(f"Address: {ip}") == 2 and out.endswith("pinged\n")
    resolv = bb.ok("run", "--rm", "--network", "appnet", "busybox", "cat", "/etc/resolv.conf")
    gw = json.loads(bb.ok("network", "inspect", "appnet"))[0]["IPAM"]["Config"][0]["Gateway"]
    assert f"nameserver {gw}" in resolv
    # The default bridge has no DNS for containers (Docker's behaviour).
    bb.ok("run", "-d", "--name", "plain", "busybox", "sleep", "60")
    res = bb("run", "--rm", "busybox", "nslookup", "plain")
    assert "Address" not in res.stdout.split("Name:")[-1] if "Name:" in res.stdout else True
    assert bb("run", "--rm", "busybox", "ping", "-c1", "-W1", "plain").returncode != 0
    # Isolation: containers on different networks cannot reach each other.
    out = bb.ok("run", "--rm", "busybox", "sh", "-c", f"ping -c1 -W1 {ip} >/dev/null && "
                "echo reached || echo isolated")
    assert out == "isolated\n"


def test_concurrent_runs_get_distinct_addresses(bb: Orlop) -> None:
    bb.ok("network", "create", "--internal", "--subnet", _subnet(bb, 1), "--ip-range",
          _subnet(bb, 1).replace(".0/24", ".16/28"), "pool")

    def run(i: int) -> str:
        return bb.ok("run", "-d", "--name", f"c{i}", "--network", "pool", "busybox",
                     "sleep", "60").strip()

    with ThreadPoolExecutor(6) as ex:
        ids = list(ex.map(run, range(6)))
    ips = [json.loads(bb.ok("inspect", cid))[0]["NetworkSettings"]["Networks"]["pool"][
        "IPAddress"] for cid in ids]
    assert len(set(ips)) == 6
    assert all(16 < int(ip.rsplit(".", 1)[1]) < 32 for ip in ips)
    # An address freed by rm is handed out again.
    bb.ok("rm", "-f", "c0")
    again = bb.ok("run", "-d", "--name", "c9", "--network", "pool", "busybox", "sleep", "60")
    ip9 = json.loads(bb.ok("inspect", again.strip()))[0]["NetworkSettings"]["Networks"][
        "pool"]["IPAddress"]
    assert ip9 == ips[0]


def test_connect_disconnect_running_and_created(bb: Orlop) -> None:
    bb.ok("network", "create", "--internal", "--subnet", _subnet(bb, 2), "n2")
    bb.ok("run", "-d", "--name", "ca", "busybox", "sleep", "60")
    bb.ok("network", "connect", "--ip", _subnet(bb, 2).replace(".0/24", ".77"),
          "--alias", "alpha", "n2", "ca")
    out = bb.ok("exec", "ca", "ip", "-4", "-o", "addr")
    assert _subnet(bb, 2).replace(".0/24", ".77") in out and "eth1" in out
    nets = json.loads(bb.ok("inspect", "ca"))[0]["NetworkSettings"]["Networks"]
    assert set(nets) == {"bridge", "n2"} and "alpha" in nets["n2"]["Aliases"]
    assert "ca" in bb.ok("network", "inspect", "-f",
                        "{{range .Containers}}{{.Name}}{{end}}", "n2")
    res = bb("network", "rm", "n2")
    assert res.returncode == 1 and "has active endpoints" in res.stderr
    # The running container's /etc/hosts has its new address (libnetwork's join) and its
    # resolver is the new network's DNS server; a peer on n2 resolves its name and alias.
    ip77 = _subnet(bb, 2).replace(".0/24", ".77")
    gw = json.loads(bb.ok("network", "inspect", "n2"))[0]["IPAM"]["Config"][0]["Gateway"]
    hosts = bb.ok("exec", "ca", "cat", "/etc/hosts")
    assert any(ln.split()[0] == ip77 and "alpha" in ln.split() for ln in hosts.splitlines()
               if ln.strip())
    assert f"nameserver {gw}" in bb.ok("exec", "ca", "cat", "/etc/resolv.conf")
    bb.ok("run", "-d", "--name", "peer", "--network", "n2", "busybox", "sleep", "60")
    out = bb.ok("exec", "peer", "sh", "-c", "nslookup alpha; nslookup ca")
    assert out.count(f"Address: {ip77}") == 2, out
    peer_ip = json.loads(bb.ok("inspect", "peer"))[0]["NetworkSettings"]["Networks"]["n2"][
        "IPAddress"]
    assert f"Address: {peer_ip}" in bb.ok("exec", "ca", "nslookup", "peer")
    bb.ok("rm", "-f", "peer")
    bb.ok("network", "disconnect", "n2", "ca")
    assert "eth1" not in bb.ok("exec", "ca", "ip", "-o", "addr")
    assert ip77 not in bb.ok("exec", "ca", "cat", "/etc/hosts")
    assert f"nameserver {gw}" not in bb.ok("exec", "ca", "cat", "/etc/resolv.conf")
    res = bb("network", "disconnect", "n2", "ca")
    assert res.returncode != 0 and "is not connected to network n2" in res.stderr
    # On a created container: applied at start.
    bb.ok("create", "--name", "cb", "busybox", "ip", "-4", "-o", "addr")
    bb.ok("network", "connect", "n2", "cb")
    bb.ok("start", "cb")
    bb.ok("wait", "cb")
    assert "eth1" in bb.ok("logs", "cb")
    bb.ok("rm", "cb")
    bb.ok("rm", "-f", "ca")
    bb.ok("network", "rm", "n2")


def test_network_create_ls_inspect_rm_prune_and_refusals(bb: Orlop) -> None:
    sub = _subnet(bb, 3)
    nid = bb.ok("network", "create", "--internal", "--subnet", sub, "--gateway",
                sub.replace(".0/24", ".254"), "--label", "team=a", "-o",
                "com.docker.network.driver.mtu=1400", "lab").strip()
    assert len(nid) == 64
    info = json.loads(bb.ok("network", "inspect", "lab"))[0]
    assert info["IPAM"]["Config"] == [{"Subnet": sub, "Gateway": sub.replace(".0/24", ".254")}]
    assert info["Internal"] is True and info["Labels"] == {"team": "a"}
    assert bb.ok("network", "ls", "--format", "{{.Name}} {{.Driver}}").split("\n")[:4] == [
        "bridge bridge", "host host", "lab bridge", "none null"]
    assert bb.ok("network", "ls", "-q", "--filter", "label=team=a") == nid[:12] + "\n"
    assert bb.ok("network", "ls", "--filter", "type=custom", "--format", "{{.Name}}") == "lab\n"
    mtu = bb.ok("run", "--rm", "--network", "lab", "busybox", "cat", "/sys/class/net/eth0/mtu")
    assert mtu == "1400\n"
    for args, err in [
        (("-d", "overlay", "x1"), 'plugin "overlay" not found'),
        (("--subnet", sub, "x2"), "Pool overlaps with other one on this address space"),
        (("lab",), "network with name lab already exists"),
        (("--ipv6", "x3"), "IPv6"),
        (("-o", "com.docker.network.bridge.enable_icc=false", "x4"), "not supported"),
    ]:
        res = bb("network", "create", *args)
        assert res.returncode != 0 and err in res.stderr, (args, res.stderr)
    assert bb.ok("network", "ls", "-q", "--filter", "type=custom") == nid[:12] + "\n"
    res = bb("run", "--rm", "--network", "nosuch", "busybox", "true")
    assert res.returncode == 125 and "network nosuch not found" in res.stderr
    assert bb.ok("ps", "-aq") == ""
    res = bb("network", "rm", "bridge")
    assert res.returncode == 1 and "bridge is a pre-defined network and cannot be removed" \
        in res.stderr
    res = bb("network", "inspect", "nosuch")
    assert res.returncode == 1 and "No such network: nosuch" in res.stderr
    bb.ok("network", "create", "--internal", "--subnet", _subnet(bb, 4), "spare")
    assert bb.ok("network", "prune", "-f") == "Deleted Networks:\nlab\nspare\n\n"
    assert bb.ok("network", "ls", "-q", "--filter", "type=custom") == ""


def test_dns_hosts_hostname_files(bb: Orlop) -> None:
    out = bb.ok("run", "--rm", "--hostname", "h1", "--domainname", "example.test",
                "--add-host", "db.local:10.9.8.7", "--add-host", "gw:host-gateway",
                "--dns", "10.1.1.1", "--dns-search", "corp.test", "--dns-option", "ndots:2",
                "--mac-address", "02:42:ac:11:00:99", "busybox", "sh", "-c",
                "hostname; cat /etc/resolv.conf /etc/hosts; cat /sys/class/net/eth0/address")
    lines = out.splitlines()
    assert lines[0] == "h1"
    assert "nameserver 10.1.1.1" in lines and "search corp.test" in lines
    assert "options ndots:2" in lines
    assert "10.9.8.7\tdb.local" in lines
    gw = json.loads(bb.ok("network", "inspect", "bridge"))[0]["IPAM"]["Config"][0]["Gateway"]
    assert f"{gw}\tgw" in lines
    assert any(line.endswith("\th1.example.test h1") for line in lines)
    assert lines[-1] == "02:42:ac:11:00:99"
    # Without --mac-address: Docker's MAC made from the address (02:42 + its 4 bytes)
    out = bb.ok("run", "--rm", "busybox", "sh", "-c",
                "ip -4 -o addr show eth0; cat /sys/class/net/eth0/address").split()
    ip = next(w for w in out if w.count(".") == 3 and "/" in w).split("/")[0]
    assert out[-1] == "02:42:" + ":".join(f"{int(b):02x}" for b in ip.split("."))
    # The files are bind mounts, not written into the container's layer.
    cid = bb.ok("create", "busybox", "true").strip()
    bb.ok("start", "-a", cid)
    in_layer = bb.root / "containers" / cid / "diff" / "etc" / "resolv.conf"
    assert not in_layer.exists() or in_layer.stat().st_size == 0  # a mount point at most
    bb.ok("rm", cid)
    # --ip on the default bridge is Docker's error.
    res = bb("run", "--rm", "--ip", "10.1.2.3", "busybox", "true")
    assert res.returncode == 125 and "user specified IP address is supported on user " \
        "defined networks only" in res.stderr


def test_host_network_has_host_hostname_and_resolv(bb: Orlop) -> None:
    out = bb.ok("run", "--rm", "--network", "host", "busybox", "sh", "-c",
                "hostname; cat /etc/resolv.conf")
    assert out.splitlines()[0] == socket.gethostname()
    with open("/etc/resolv.conf") as f:
        host_ns = [ln for ln in f.read().splitlines() if ln.startswith("nameserver")]
    assert all(ns in out for ns in host_ns)


def test_container_network_mode_shares_namespace(bb: Orlop) -> None:
    bb.ok("run", "-d", "--name", "first", "busybox", "sleep", "60")
    ip = json.loads(bb.ok("inspect", "first"))[0]["NetworkSettings"]["IPAddress"]
    out = bb.ok("run", "--rm", "--network", "container:first", "busybox", "ip", "-4", "-o",
                "addr", "show", "eth0")
    assert ip in out
    res = bb("run", "--rm", "--network", "container:first", "-p", "80", "busybox", "true")
    assert res.returncode == 125 and "conflicting options" in res.stderr


def test_killed_monitor_network_reconciled(bb: Orlop) -> None:
    port = _free_port()
    cid = bb.ok("run", "-d", "-p", f"127.0.0.1:{port}:80", "busybox", "sleep", "60").strip()
    pid = json.loads(bb.ok("inspect", cid))[0]["State"]["Pid"]
    monitor = int(open(f"/proc/{pid}/stat").read().split(")")[1].split()[1])
    os.kill(monitor, signal.SIGKILL)
    time.sleep(0.3)
    assert bb.ok("ps", "-q") == ""  # reconciled: exited, network torn down
    rules = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True,
                           check=True).stdout
    assert f"--dport {port} " not in rules
    assert not list((bb.root / "run" / "netns").glob("*.json"))


def test_foreground_runs_share_the_default_bridge_then_it_goes(bb: Orlop) -> None:
    """A foreground run's interface stays on the default bridge (down, no address) for up
    to 2 s, so that the next run finds the bridge; then the bridge goes with it.  The
    same address is handed out again meanwhile without a conflict."""
    opts = json.loads(bb.ok("network", "inspect", "bridge"))[0]["Options"]
    brif = Path("/sys/class/net") / opts["com.docker.network.bridge.name"] / "brif"
    cmd = ("busybox", "sh", "-c", "ip -4 -o addr show eth0; ping -c1 -W2 $GW >/dev/null "
           "&& echo up")
    gw = json.loads(bb.ok("network", "inspect", "bridge"))[0]["IPAM"]["Config"][0]["Gateway"]
    linger = {"ORLOP_NET_LINGER": "2"}  # the default (tests/conftest.py turns it off)
    first = bb.ok("run", "--rm", "-e", f"GW={gw}", *cmd, env=linger)
    assert brif.is_dir() and len(list(brif.iterdir())) == 1  # the exited one, kept
    again = bb.ok("run", "--rm", "-e", f"GW={gw}", *cmd, env=linger)
    assert first.split()[3] == again.split()[3] and again.endswith("up\n")
    deadline = time.monotonic() + 10
    while brif.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not brif.exists()


def test_lingering_teardown_survives_a_deleted_run_root(bb: Orlop) -> None:
    """A script that deletes its temporary root right after `run --rm` (bench/network.py
    does) still gets the bridge and its rules removed, and the root is not re-created."""
    import shutil

    info = json.loads(bb.ok("network", "inspect", "bridge"))[0]
    bridge = Path("/sys/class/net") / info["Options"]["com.docker.network.bridge.name"]
    subnet = info["IPAM"]["Config"][0]["Subnet"]
    bb.ok("run", "--rm", "busybox", "true", env={"ORLOP_NET_LINGER": "2"})
    assert bridge.exists()
    shutil.rmtree(bb.root / "run")

    def rules() -> list[str]:
        out = subprocess.run(["iptables-save"], capture_output=True, text=True,
                             check=False).stdout
        return [ln for ln in out.splitlines() if subnet in ln]

    deadline = time.monotonic() + 10  # the bridge goes first, then the rules
    while (bridge.exists() or rules()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not bridge.exists() and not rules()
    assert not (bb.root / "run").exists()
