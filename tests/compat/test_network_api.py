"""Networks through orlopd: the docker CLI, docker-py and `orlop -H` against the
``/networks`` routes and the create body's ports/networking fields.  Networks are
``--internal``; the host reaches containers only through ports published on 127.0.0.1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from typing import Any

from .conftest import Server


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> bytes:
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return bytes(r.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _subnet(server: Server, n: int) -> str:
    return f"10.{70 + n}.{abs(hash(str(server.root))) % 250}.0/24"


def _orlop_remote(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "ORLOP_HOST")}
    return subprocess.run([sys.executable, "-m", "orlop", "-H", server.host, *args],
                          capture_output=True, text=True, timeout=60, env=env, check=False)


def test_docker_cli_network_lifecycle_and_errors(bbd: Server) -> None:
    nid = bbd.ok("network", "create", "--internal", "--subnet", _subnet(bbd, 0),
                 "--label", "k=v", "front").strip()
    info = json.loads(bbd.ok("network", "inspect", "front"))[0]
    assert info["Id"] == nid and info["Internal"] is True and info["Labels"] == {"k": "v"}
    assert info["IPAM"]["Config"][0]["Subnet"] == _subnet(bbd, 0)
    names = bbd.ok("network", "ls", "--format", "{{.Name}}").split()
    assert {"bridge", "host", "none", "front"} <= set(names)
    bbd.ok("run", "-d", "--name", "svc", "--network", "front", "--network-alias", "api",
           "busybox", "sleep", "60")
    out = bbd.ok("run", "--rm", "--network", "front", "busybox", "sh", "-c",
                 "nslookup api >/dev/null && nslookup svc >/dev/null && echo resolved")
    assert out == "resolved\n"
    res = bbd.docker("network", "rm", "front")
    assert res.returncode != 0 and "has active endpoints" in res.stderr
    bbd.ok("network", "create", "--internal", "--subnet", _subnet(bbd, 1), "back")
    bbd.ok("network", "connect", "--alias", "b", "back", "svc")
    nets = json.loads(bbd.ok("inspect", "svc"))[0]["NetworkSettings"]["Networks"]
    assert set(nets) == {"front", "back"} and nets["back"]["IPAddress"]
    bbd.ok("network", "disconnect", "back", "svc")
    res = bbd.docker("network", "create", "--subnet", _subnet(bbd, 0), "clash")
    assert res.returncode != 0 and "Pool overlaps" in res.stderr
    res = bbd.docker("network", "create", "-d", "weave", "w")
    assert res.returncode != 0 and 'plugin "weave" not found' in res.stderr
    # Through the API (the docker CLI takes any 404 of a create for a missing image and
    # tries a pull, which cannot work here): 404 with Docker's text, nothing created.
    status, _h, body = bbd.raw("POST", "/containers/create", json.dumps(
        {"Image": "busybox", "HostConfig": {"NetworkMode": "missing"}}).encode(),
        {"Content-Type": "application/json"})
    assert status == 404 and b"network missing not found" in body
    bbd.ok("rm", "-f", "svc")
    bbd.ok("network", "rm", "front", "back")


def test_docker_cli_publish_and_port(bbd: Server) -> None:
    www = bbd.dir / "www"
    www.mkdir()
    (www / "index.html").write_text("via dockerd api\n")
    port = _port()
    bbd.ok("run", "-d", "--name", "web", "-p", f"127.0.0.1:{port}:80", "-v", f"{www}:/www",
           "busybox", "httpd", "-f", "-h", "/www")
    assert _get(f"http://127.0.0.1:{port}/") == b"via dockerd api\n"
    assert bbd.ok("port", "web").strip() == f"80/tcp -> 127.0.0.1:{port}"
    assert f"127.0.0.1:{port}->80/tcp" in bbd.ok("ps", "--format", "{{.Ports}}")
    remote = _orlop_remote(bbd, "port", "web", "80")
    assert remote.stdout == f"127.0.0.1:{port}\n", remote.stderr
    bbd.ok("rm", "-f", "web")


def test_orlop_remote_network_verbs(bbd: Server) -> None:
    res = _orlop_remote(bbd, "network", "create", "--internal", "--subnet", _subnet(bbd, 2),
                        "rnet")
    assert res.returncode == 0, res.stderr
    res = _orlop_remote(bbd, "network", "ls", "--filter", "type=custom", "--format",
                        "{{.Name}}")
    assert res.stdout == "rnet\n"
    res = _orlop_remote(bbd, "run", "-d", "--name", "r1", "--network", "rnet", "--ip",
                        _subnet(bbd, 2).replace(".0/24", ".50"), "busybox", "sleep", "60")
    assert res.returncode == 0, res.stderr
    res = _orlop_remote(bbd, "inspect", "-f",
                        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "r1")
    assert res.stdout.strip() == _subnet(bbd, 2).replace(".0/24", ".50")
    res = _orlop_remote(bbd, "network", "rm", "rnet")
    assert res.returncode == 1 and "has active endpoints" in res.stderr
    _orlop_remote(bbd, "rm", "-f", "r1")
    res = _orlop_remote(bbd, "network", "prune", "-f")
    assert res.stdout == "Deleted Networks:\nrnet\n\n", res.stderr


def test_docker_py_networks_and_ports(client: Any, bbd: Server) -> None:
    import docker

    net = client.networks.create("pynet", driver="bridge", internal=True,
                                 ipam=docker.types.IPAMConfig(pool_configs=[
                                     docker.types.IPAMPool(subnet=_subnet(bbd, 3))]))
    assert net.attrs["Internal"] is True
    port = _port()
    c = client.containers.run("busybox", ["sleep", "60"], detach=True, name="py1",
                              ports={"80/tcp": ("127.0.0.1", port)})
    c.reload()
    assert c.ports == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}
    net.connect(c, aliases=["pyalias"])
    net.reload()
    assert c.id in net.attrs["Containers"]
    c.reload()
    assert "pyalias" in c.attrs["NetworkSettings"]["Networks"]["pynet"]["Aliases"]
    net.disconnect(c)
    c.reload()
    assert set(c.attrs["NetworkSettings"]["Networks"]) == {"bridge"}
    # inspect (by id and by name), list by name, run on the network, resolve by name
    got = client.networks.get(net.id[:12])
    assert (got.name, got.attrs["Driver"]) == ("pynet", "bridge")
    assert got.attrs["IPAM"]["Config"][0]["Subnet"] == _subnet(bbd, 3)
    assert [n.id for n in client.networks.list(names=["pynet"])] == [net.id]
    c2 = client.containers.run("busybox", ["sleep", "60"], detach=True, name="py2",
                               network="pynet")
    c2.reload()
    ip = c2.attrs["NetworkSettings"]["Networks"]["pynet"]["IPAddress"]
    assert ip.startswith(_subnet(bbd, 3).rsplit(".", 1)[0] + ".")
    assert c2.attrs["HostConfig"]["NetworkMode"] == "pynet"
    out = client.containers.run("busybox", ["nslookup", "py2"], network="pynet", remove=True)
    assert f"Address: {ip}" in out.decode()
    assert [x.name for x in client.containers.list(filters={"network": "pynet"})] == ["py2"]
    c2.remove(force=True)
    c.remove(force=True)
    net.remove()
    assert "pynet" not in [n.name for n in client.networks.list()]
