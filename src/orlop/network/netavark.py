"""Drive netavark (and through it aardvark-dns): one ``setup`` when a container
starts, one ``teardown`` when it stops, each given the network options JSON on stdin
(netavark 1.4's format: container, per-network options, the networks, port mappings).

The JSON given to ``setup`` is kept beside the namespace until ``teardown`` has used
it, so that the tear-down after a crash (engine reconcile) undoes exactly what was set
up, even if the records have changed since.  aardvark-dns's state goes under the run
root (``--config``), so two Orlop roots on one host never share it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orlop.errors import SystemFailureError
from orlop.network.model import Endpoint, Network, PortMapping

CANDIDATE_DIRS = ("/usr/lib/podman", "/usr/libexec/podman", "/usr/local/libexec/podman",
                  "/usr/local/lib/podman")


def find_binary(name: str) -> str:
    env = os.environ.get(f"ORLOP_{name.upper().replace('-', '_')}")
    if env:
        return env
    for d in CANDIDATE_DIRS:
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if found:
        return found
    raise SystemFailureError(
        f"{name} is not installed: bridge networks need Debian's packages netavark and "
        "aardvark-dns (scripts/setup.sh installs them); use --network none or host")


def key(n: Network) -> str:
    """The name netavark knows a network by.  netavark names its per-network firewall
    chains after a hash of it, and those are host-global: every Orlop root has a network
    called ``bridge``, so the (unique) id is used, never the name."""
    return n.id


def network_info(n: Network) -> dict[str, Any]:
    subnets = [{"subnet": n.subnet, "gateway": n.gateway}]
    if n.ipv6:  # netavark adds the address and route, aardvark-dns answers AAAA
        subnets.append({"subnet": n.subnet6, "gateway": n.gateway6})
    info: dict[str, Any] = {
        "name": key(n), "id": n.id, "driver": "bridge", "network_interface": n.interface,
        "subnets": subnets, "ipv6_enabled": n.ipv6, "internal": n.internal,
        "dns_enabled": n.dns, "ipam_options": {"driver": "host-local"},
    }
    mtu = n.options.get("com.docker.network.driver.mtu")
    if mtu and mtu != "1500":
        info["options"] = {"mtu": mtu}
    return info


def options_json(container_id: str, container_name: str,
                 endpoints: Sequence[tuple[Network, Endpoint]],
                 ports: Sequence[PortMapping], dns_servers: Sequence[str] = ()
                 ) -> dict[str, Any]:
    networks: dict[str, Any] = {}
    for n, ep in endpoints:
        per: dict[str, Any] = {"interface_name": ep.interface,
                               "static_ips": [ep.ip, *([ep.ip6] if ep.ip6 else [])]}
        if n.dns:
            per["aliases"] = [*ep.aliases, container_id[:12]]
        if ep.mac:
            per["static_mac"] = ep.mac
        networks[key(n)] = per
    doc: dict[str, Any] = {
        "container_id": container_id, "container_name": container_name,
        "networks": networks,
        "network_info": {key(n): network_info(n) for n, _ep in endpoints},
    }
    if ports:
        doc["port_mappings"] = [p.to_netavark() for p in ports]
    if dns_servers:
        doc["dns_servers"] = list(dns_servers)
    return doc


def _run(verb: str, netns: str, doc: dict[str, Any], config_dir: Path) -> str:
    config_dir.mkdir(parents=True, exist_ok=True)
    argv = [find_binary("netavark"), "--config", str(config_dir), "-a",
            find_binary("aardvark-dns"), verb, netns]
    # One netavark at a time per root: a teardown that removes the last veth of a bridge
    # deletes the bridge, which a concurrent setup may have just found and be using
    # (netavark 1.4 locks only aardvark-dns's files; Podman serialises these calls too).
    lock = os.open(config_dir / "netavark.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        res = subprocess.run(argv, input=json.dumps(doc).encode(), capture_output=True,
                             timeout=60, check=False, close_fds=True,
                             start_new_session=True)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SystemFailureError(f"netavark {verb}: {err}") from err
    finally:
        os.close(lock)
    if res.returncode != 0:
        detail = _error_text(res.stderr, res.returncode)
        raise SystemFailureError(f"netavark {verb} failed: {detail}")
    return res.stdout.decode(errors="replace")


def _error_text(stderr: bytes, status: int) -> str:
    lines = [ln for ln in stderr.decode(errors="replace").splitlines()
             if ln.strip() and "failed to connect to syslog" not in ln]
    text = lines[-1] if lines else f"no error text (exit status {status})"
    try:
        return str(json.loads(text).get("error", text))
    except (ValueError, AttributeError):
        return text


def setup(netns: str, doc: dict[str, Any], config_dir: Path) -> dict[str, Any]:
    """Returns netavark's status block: per network, interfaces with their MACs."""
    out = _run("setup", netns, doc, config_dir)
    try:
        status = json.loads(out) if out.strip() else {}
    except ValueError:
        status = {}
    return status if isinstance(status, dict) else {}


def teardown(netns: str, doc: dict[str, Any], config_dir: Path) -> None:
    _run("teardown", netns, doc, config_dir)


def macs_of(status: dict[str, Any]) -> dict[str, str]:
    """network key -> the MAC netavark gave the container's interface on it."""
    out = {}
    for name, block in status.items():
        for iface in ((block or {}).get("interfaces") or {}).values():
            mac = (iface or {}).get("mac_address")
            if mac:
                out[name] = str(mac)
    return out
