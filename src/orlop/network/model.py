"""Typed network objects: what a network and an endpoint are, as stored."""

from __future__ import annotations

from dataclasses import dataclass, field

# Docker's names for the modes that are not networks of their own.
DEFAULT_BRIDGE = "bridge"
BUILTIN_MODES = ("none", "host")


@dataclass(frozen=True)
class Network:
    id: str
    name: str
    driver: str
    subnet: str
    gateway: str
    ip_range: str
    internal: bool
    dns: bool
    interface: str
    labels: dict[str, str]
    options: dict[str, str]
    created: str
    # IPv6 (``--ipv6``): the subnet, its gateway (the one in use) and whether the user gave
    # it (Docker's IPAM.Config shows only what was given), the sub-range to allocate from.
    ipv6: bool = False
    subnet6: str = ""
    gateway6: str = ""
    gateway6_given: bool = False
    ip_range6: str = ""
    # --aux-address: name -> address, per family; reserved, never given to a container.
    aux_addresses: dict[str, str] = field(default_factory=dict)
    aux_addresses6: dict[str, str] = field(default_factory=dict)
    # IPAM.Options as given: None (absent or null) or {} (the docker CLI's); shown so
    ipam_options: dict[str, str] | None = field(default_factory=dict)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def predefined(self) -> bool:
        return self.name == DEFAULT_BRIDGE


@dataclass(frozen=True)
class Endpoint:
    container_id: str
    network_id: str
    endpoint_id: str
    ip: str
    mac: str = ""
    aliases: list[str] = field(default_factory=list)
    static_ip: bool = False
    position: int = 0
    ip6: str = ""  # "" on a network without IPv6
    static_ip6: bool = False  # --ip6 / IPAMConfig.IPv6Address
    # IPAMConfig.LinkLocalIPs: extra addresses of the container's interface on the network
    link_local_ips: tuple[str, ...] = ()
    # EndpointSettings.DriverOpts: kept and shown (Docker 20.10's bridge applies none)
    driver_opts: dict[str, str] = field(default_factory=dict)

    @property
    def interface(self) -> str:
        return f"eth{self.position}"


@dataclass(frozen=True)
class EndpointRequest:
    """What a create/connect asks of one network (--ip, --alias, --mac-address, --ip6,
    --link-local-ip, --driver-opt)."""

    network: str
    ip: str = ""
    aliases: tuple[str, ...] = ()
    mac: str = ""
    ip6: str = ""
    link_local_ips: tuple[str, ...] = ()
    driver_opts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EndpointExtras:
    """An API endpoint's settings beyond its address and aliases (the NetworkingConfig of
    a network other than the NetworkMode's: ``RunOptions.extra_endpoints``)."""

    ip6: str = ""
    link_local_ips: tuple[str, ...] = ()
    driver_opts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PortMapping:
    """One published port as netavark takes it (``range`` ports from each start)."""

    container_port: int
    host_port: int
    protocol: str
    host_ip: str = ""
    range: int = 1

    def to_netavark(self) -> dict[str, object]:
        return {"container_port": self.container_port, "host_port": self.host_port,
                "protocol": self.protocol, "host_ip": self.host_ip, "range": self.range}
