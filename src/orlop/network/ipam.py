"""Address management, pure: which subnet a new network gets, which address a new
endpoint gets.  The store calls ``next_address`` inside its write transaction."""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Iterator

from orlop.errors import ConflictError, InvalidParameterError

Net = ipaddress.IPv4Network


def parse_subnet(text: str) -> Net:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidParameterError(f"invalid CIDR address: {text}") from None
    if net.version != 4:
        raise InvalidParameterError(
            f"IPv6 subnets are not supported by Orlop networks: {text}")
    assert isinstance(net, Net)
    if net.prefixlen > 30:
        raise InvalidParameterError(f"subnet {text} is too small: at most /30")
    return net


def parse_ip(text: str) -> ipaddress.IPv4Address:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidParameterError(f"invalid IP address: {text}") from None
    if ip.version != 4:
        raise InvalidParameterError(f"IPv6 addresses are not supported by Orlop networks: "
                                    f"{text}")
    assert isinstance(ip, ipaddress.IPv4Address)
    return ip


def host_routes(path: str = "/proc/net/route") -> list[Net]:
    """The host's IPv4 routes other than the default route (what a new subnet must not
    overlap, or the host would lose a route)."""
    out: list[Net] = []
    try:
        with open(path) as f:
            next(f, None)
            for line in f:
                cols = line.split()
                if len(cols) < 8:
                    continue
                dest = int(cols[1], 16).to_bytes(4, "little")
                mask = int(cols[7], 16).to_bytes(4, "little")
                if mask == b"\0\0\0\0":
                    continue
                net = ipaddress.IPv4Network(
                    (ipaddress.IPv4Address(dest), ipaddress.IPv4Address(mask).compressed),
                    strict=False)
                out.append(net)
    except OSError:
        pass
    return out


def candidates(seed: str | None) -> Iterator[Net]:
    """Subnets offered to a network created without ``--subnet``.  The default root
    takes Docker's pools (172.17-31.0.0/16, then 192.168.x.0/20); a private root (tests,
    several engines on one host) starts at a place of 10.128.0.0/9 derived from its path,
    so that two roots rarely offer each other's subnet."""
    if seed is None:
        for b in range(17, 32):
            yield ipaddress.IPv4Network(f"172.{b}.0.0/16")
        for c in range(0, 256, 16):
            yield ipaddress.IPv4Network(f"192.168.{c}.0/20")
        return
    start = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "big") % 32768
    for i in range(32768):
        n = (start + i) % 32768
        yield ipaddress.IPv4Network(f"10.{128 + n // 256}.{n % 256}.0/24")


def choose_subnet(seed: str | None, used: Iterable[Net]) -> Net:
    taken = [*used, *host_routes()]
    for net in candidates(seed):
        if not any(net.overlaps(t) for t in taken):
            return net
    raise ConflictError("could not find an available, non-overlapping IPv4 address pool "
                        "among the defaults to assign to the network")


def check_overlap(net: Net, used: Iterable[tuple[str, Net]]) -> None:
    for _name, other in used:
        if net.overlaps(other):
            raise ConflictError("Pool overlaps with other one on this address space")


def next_address(subnet: Net, gateway: ipaddress.IPv4Address, ip_range: Net | None,
                 used: set[str]) -> ipaddress.IPv4Address:
    """The lowest free host address of the pool (Docker hands them out in order)."""
    pool = ip_range or subnet
    for ip in pool.hosts() if pool.prefixlen < 31 else pool:
        if ip == gateway or ip == subnet.network_address or ip == subnet.broadcast_address:
            continue
        if str(ip) not in used:
            return ip
    raise ConflictError(f"no available IPv4 addresses on this network's address pools: "
                        f"{subnet}")


def mac_from_ip(ip: ipaddress.IPv4Address) -> str:
    """Docker's bridge driver MAC for an address without ``--mac-address``
    (libnetwork's ``GenerateMACFromIP``: 02:42 then the four address bytes).  Chosen with
    the address, so the start hands it to netavark and records nothing more."""
    return ":".join(f"{b:02x}" for b in (0x02, 0x42, *ip.packed))
