"""Address management, pure: which subnet a new network gets, which address a new
endpoint gets.  The store calls ``next_address`` inside its write transaction."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator

from orlop.digest import sha256_hex
from orlop.errors import (
    ConflictError,
    InvalidParameterError,
    NotFoundError,
    PermissionDeniedError,
)

Net = ipaddress.IPv4Network
Net6 = ipaddress.IPv6Network
AnyNet = ipaddress.IPv4Network | ipaddress.IPv6Network


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


def parse_subnet6(text: str) -> Net6:
    """An IPv6 subnet (``--subnet fd00::/64`` with ``--ipv6``)."""
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidParameterError(f"invalid CIDR address: {text}") from None
    if not isinstance(net, Net6):
        raise InvalidParameterError(f"{text} is not an IPv6 subnet")
    if net.prefixlen > 126:
        raise InvalidParameterError(f"subnet {text} is too small: at most /126")
    return net


def is_ipv6_subnet(text: str) -> bool:
    """Whether an IPAM config's Subnet is IPv6 (moby's getIpamConfig splits them so);
    an unparsable one is left to the IPv4 parser's error."""
    try:
        return ipaddress.ip_network(text, strict=False).version == 6
    except ValueError:
        return False


def parse_ip6(text: str) -> ipaddress.IPv6Address:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidParameterError(f"invalid IP address: {text}") from None
    if not isinstance(ip, ipaddress.IPv6Address):
        raise InvalidParameterError(f"invalid IPv6 address: {text}")
    return ip


def no_default_pool6() -> NotFoundError:
    """dockerd 20.10's answer to ``--ipv6`` without an IPv6 ``--subnet``: its default
    address pools are IPv4 only (libnetwork's getPredefinedPool, a 404)."""
    return NotFoundError("could not find an available, non-overlapping IPv6 address pool "
                         "among the defaults to assign to the network")


def first_address6(subnet: Net6, ip_range: Net6 | None) -> ipaddress.IPv6Address:
    """The gateway Docker's IPAM picks when none is given: the lowest address of the
    range (or subnet) that is not the subnet's own address (``...::1`` for a subnet)."""
    start = (ip_range or subnet).network_address
    return start + 1 if start == subnet.network_address else start


def next_address6(subnet: Net6, gateway: ipaddress.IPv6Address, ip_range: Net6 | None,
                  used: set[str]) -> ipaddress.IPv6Address:
    """The lowest free address of the IPv6 pool (the subnet's own address, the gateway
    and the ``used`` ones skipped; unlike IPv4 the last address is a host's too)."""
    pool = ip_range or subnet
    ip = pool.network_address
    # At most len(used) + 2 addresses are skipped: no walk over a /64.
    for _ in range(len(used) + 3):
        if ip > pool.broadcast_address:
            break
        if ip != subnet.network_address and ip != gateway and str(ip) not in used:
            return ip
        ip += 1
    raise ConflictError(f"no available IPv6 addresses on this network's address pools: "
                        f"{subnet}")


def check_aux(name: str, value: str, subnet: AnyNet, reserved: set[str],
              network: str) -> str:
    """One ``--aux-address name=IP``, with libnetwork's checks and texts (20.10's, its
    spelling included): an address, in the subnet, not the subnet's own address, its
    broadcast (IPv4), the gateway or another one (``reserved``)."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        raise InvalidParameterError(f"non parsable secondary ip address ({name}:{value}) "
                                    f"passed for network {network}") from None
    if ip.version != subnet.version or ip not in subnet:
        raise PermissionDeniedError(f"auxilairy address: ({name}:{value}) must belong to "
                                    f"the master pool: {subnet}")
    taken = ip == subnet.network_address or str(ip) in reserved or (
        subnet.version == 4 and ip == subnet.broadcast_address)
    if taken:
        raise ConflictError(f"failed to allocate secondary ip address ({name}:{value}): "
                            "Address already in use")
    return str(ip)


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
    start = int(sha256_hex(seed.encode())[:8], 16) % 32768
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


def check_overlap(net: AnyNet, used: Iterable[tuple[str, AnyNet]]) -> None:
    for _name, other in used:
        if net.version == other.version and net.overlaps(other):
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


def link_local_cidrs(addresses: Iterable[str]) -> list[str]:
    """An endpoint's LinkLocalIPs as the interface gets them: libnetwork's masks, /16
    for IPv4 and /64 for IPv6."""
    return [f"{a}/{16 if ipaddress.ip_address(a).version == 4 else 64}" for a in addresses]
