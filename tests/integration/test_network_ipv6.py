"""IPv6 networks, auxiliary addresses, link-local addresses and endpoint driver options
for real (netavark writes the IPv6 addresses and routes, aardvark-dns answers AAAA):
two containers reach each other over IPv6 by name and address, aux addresses are never
handed out, a link-local address is on the interface.  Every network here is
``--internal``; the harness checks after each test that the root's bridges, firewall
rules and DNS servers are gone."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness import Orlop

pytestmark = [
    pytest.mark.skipif(not os.path.exists("/usr/lib/podman/netavark"),
                       reason="netavark is not installed"),
    pytest.mark.skipif(Path("/proc/sys/net/ipv6/conf/all/disable_ipv6").read_text().strip()
                       != "0" if Path("/proc/sys/net/ipv6").exists() else True,
                       reason="IPv6 is disabled in this kernel"),
]


def _subnets(orlop: Orlop) -> tuple[str, str]:
    """An IPv4 /24 and an IPv6 /64 (ULA) for this test's network, derived from its root
    (tests may run concurrently with other roots on this host)."""
    h = abs(hash(str(orlop.root))) % 250
    return f"10.70.{h}.0/24", f"fd00:6f:{h:x}::/64"


def test_ipv6_network_names_addresses_and_aux(bb: Orlop) -> None:
    v4, v6 = _subnets(bb)
    p4, p6 = v4.removesuffix("0/24"), v6.removesuffix("/64")
    bb.ok("network", "create", "--internal", "--ipv6", "--subnet", v4, "--subnet", v6,
          "--aux-address", f"r4={p4}2", "--aux-address", f"r6={p6}2", "six")
    info = json.loads(bb.ok("network", "inspect", "six"))[0]
    assert info["EnableIPv6"] is True
    assert info["IPAM"]["Config"] == [
        {"Subnet": v4, "Gateway": f"{p4}1", "AuxiliaryAddresses": {"r4": f"{p4}2"}},
        {"Subnet": v6, "AuxiliaryAddresses": {"r6": f"{p6}2"}}]
    bb.ok("run", "-d", "--name", "one", "--network", "six", "--ip6", f"{p6}f00d",
          "busybox", "sleep", "60")
    bb.ok("run", "-d", "--name", "two", "--network", "six", "busybox", "sleep", "60")
    one = json.loads(bb.ok("inspect", "one"))[0]["NetworkSettings"]["Networks"]["six"]
    two = json.loads(bb.ok("inspect", "two"))[0]["NetworkSettings"]["Networks"]["six"]
    assert (one["GlobalIPv6Address"], one["GlobalIPv6PrefixLen"], one["IPv6Gateway"]) == (
        f"{p6}f00d", 64, f"{p6}1")
    assert one["IPAMConfig"] == {"IPv6Address": f"{p6}f00d"} and two["IPAMConfig"] is None
    # The aux addresses (.2 / ::2) are skipped: the first automatic ones are .3 and ::3.
    assert one["IPAddress"] == f"{p4}3"
    assert (two["IPAddress"], two["GlobalIPv6Address"]) == (f"{p4}4", f"{p6}3")
    members = json.loads(bb.ok("network", "inspect", "six"))[0]["Containers"].values()
    assert sorted(m["IPv6Address"] for m in members) == [f"{p6}3/64", f"{p6}f00d/64"]
    inside = bb.ok("exec", "two", "ip", "-6", "-o", "addr", "show", "dev", "eth0")
    assert f"{p6}3/64" in inside
    out = bb.ok("exec", "two", "sh", "-c",
                f"ping -6 -c1 -W3 {p6}f00d >/dev/null && echo by-address; "
                "nslookup -type=AAAA one | grep -c f00d; "
                "ping -6 -c1 -W3 one >/dev/null && echo by-name")
    assert out.split() == ["by-address", "1", "by-name"], out
    bb.ok("rm", "-f", "one", "two")
    bb.ok("network", "rm", "six")


def test_link_local_addresses_and_driver_opts(bb: Orlop) -> None:
    v4, _v6 = _subnets(bb)
    bb.ok("run", "-d", "--name", "ll", "--link-local-ip", "169.254.8.8", "busybox",
          "sleep", "60")
    assert "inet 169.254.8.8/16" in bb.ok("exec", "ll", "ip", "-4", "-o", "addr", "show",
                                          "dev", "eth0")
    bb.ok("network", "create", "--internal", "--subnet", v4, "side")
    bb.ok("network", "connect", "--driver-opt", "com.example.setting=on",
          "--link-local-ip", "169.254.9.9", "side", "ll")
    assert "inet 169.254.9.9/16" in bb.ok("exec", "ll", "ip", "-4", "-o", "addr", "show",
                                          "dev", "eth1")
    nets = json.loads(bb.ok("inspect", "ll"))[0]["NetworkSettings"]["Networks"]
    assert nets["bridge"]["IPAMConfig"] == {"LinkLocalIPs": ["169.254.8.8"]}
    assert nets["bridge"]["DriverOpts"] is None
    assert nets["side"]["IPAMConfig"] == {"LinkLocalIPs": ["169.254.9.9"]}
    assert nets["side"]["DriverOpts"] == {"com.example.setting": "on"}
    res = bb("network", "connect", "--driver-opt", "novalue", "side", "ll")
    assert res.returncode != 0 and "invalid key/value pair format in driver options" \
        in res.stderr
    bb.ok("rm", "-f", "ll")
    bb.ok("network", "rm", "side")
