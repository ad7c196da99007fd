"""Typed network objects: what a network and an endpoint are, as stored.

Records with slots (orlop/records.py), not dataclasses: every ``run`` imports this module,
and building its five frozen dataclasses cost ~4.5 ms at each start.  Each ``__init__`` is
written out with the dataclass's parameters and defaults (a ``_NEW`` default stands for a
new empty dict per object, as ``field(default_factory=dict)`` made).
"""

from __future__ import annotations

from orlop.records import FrozenRecord

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Final

# Docker's names for the modes that are not networks of their own.
DEFAULT_BRIDGE = "bridge"
BUILTIN_MODES = ("none", "host")

# The default of a dict field: stands for "a new empty dict" (never stored itself).
_NEW: Final[dict[str, str]] = {}


class Network(FrozenRecord):
    _fields = ("id", "name", "driver", "subnet", "gateway", "ip_range", "internal", "dns",
               "interface", "labels", "options", "created", "ipv6", "subnet6", "gateway6",
               "gateway6_given", "ip_range6", "aux_addresses", "aux_addresses6",
               "ipam_options")
    __slots__ = _fields
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
    ipv6: bool
    subnet6: str
    gateway6: str
    gateway6_given: bool
    ip_range6: str
    # --aux-address: name -> address, per family; reserved, never given to a container.
    aux_addresses: dict[str, str]
    aux_addresses6: dict[str, str]
    # IPAM.Options as given: None (absent or null) or {} (the docker CLI's); shown so
    ipam_options: dict[str, str] | None

    def __init__(self, id: str, name: str, driver: str, subnet: str, gateway: str,
                 ip_range: str, internal: bool, dns: bool, interface: str,
                 labels: dict[str, str], options: dict[str, str], created: str,
                 ipv6: bool = False, subnet6: str = "", gateway6: str = "",
                 gateway6_given: bool = False, ip_range6: str = "",
                 aux_addresses: dict[str, str] = _NEW,
                 aux_addresses6: dict[str, str] = _NEW,
                 ipam_options: dict[str, str] | None = _NEW) -> None:
        self._set(id=id, name=name, driver=driver, subnet=subnet, gateway=gateway,
                  ip_range=ip_range, internal=internal, dns=dns, interface=interface,
                  labels=labels, options=options, created=created, ipv6=ipv6,
                  subnet6=subnet6, gateway6=gateway6, gateway6_given=gateway6_given,
                  ip_range6=ip_range6,
                  aux_addresses={} if aux_addresses is _NEW else aux_addresses,
                  aux_addresses6={} if aux_addresses6 is _NEW else aux_addresses6,
                  ipam_options={} if ipam_options is _NEW else ipam_options)

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def predefined(self) -> bool:
        return self.name == DEFAULT_BRIDGE


class Endpoint(FrozenRecord):
    _fields = ("container_id", "network_id", "endpoint_id", "ip", "mac", "aliases",
               "static_ip", "position", "ip6", "static_ip6", "link_local_ips",
               "driver_opts")
    __slots__ = _fields
    container_id: str
    network_id: str
    endpoint_id: str
    ip: str
    mac: str
    aliases: list[str]
    static_ip: bool
    position: int
    ip6: str  # "" on a network without IPv6
    static_ip6: bool  # --ip6 / IPAMConfig.IPv6Address
    # IPAMConfig.LinkLocalIPs: extra addresses of the container's interface on the network
    link_local_ips: tuple[str, ...]
    # EndpointSettings.DriverOpts: kept and shown (Docker 20.10's bridge applies none)
    driver_opts: dict[str, str]

    def __init__(self, container_id: str, network_id: str, endpoint_id: str, ip: str,
                 mac: str = "", aliases: list[str] | None = None, static_ip: bool = False,
                 position: int = 0, ip6: str = "", static_ip6: bool = False,
                 link_local_ips: tuple[str, ...] = (),
                 driver_opts: dict[str, str] = _NEW) -> None:
        self._set(container_id=container_id, network_id=network_id,
                  endpoint_id=endpoint_id, ip=ip, mac=mac,
                  aliases=[] if aliases is None else aliases, static_ip=static_ip,
                  position=position, ip6=ip6, static_ip6=static_ip6,
                  link_local_ips=link_local_ips,
                  driver_opts={} if driver_opts is _NEW else driver_opts)

    @property
    def interface(self) -> str:
        return f"eth{self.position}"


class EndpointRequest(FrozenRecord):
    """What a create/connect asks of one network (--ip, --alias, --mac-address, --ip6,
    --link-local-ip, --driver-opt)."""

    _fields = ("network", "ip", "aliases", "mac", "ip6", "link_local_ips", "driver_opts")
    __slots__ = _fields
    network: str
    ip: str
    aliases: tuple[str, ...]
    mac: str
    ip6: str
    link_local_ips: tuple[str, ...]
    driver_opts: dict[str, str]

    def __init__(self, network: str, ip: str = "", aliases: tuple[str, ...] = (),
                 mac: str = "", ip6: str = "", link_local_ips: tuple[str, ...] = (),
                 driver_opts: dict[str, str] = _NEW) -> None:
        self._set(network=network, ip=ip, aliases=aliases, mac=mac, ip6=ip6,
                  link_local_ips=link_local_ips,
                  driver_opts={} if driver_opts is _NEW else driver_opts)


class EndpointExtras(FrozenRecord):
    """An API endpoint's settings beyond its address and aliases (the NetworkingConfig of
    a network other than the NetworkMode's: ``RunOptions.extra_endpoints``)."""

    _fields = ("ip6", "link_local_ips", "driver_opts")
    __slots__ = _fields
    ip6: str
    link_local_ips: tuple[str, ...]
    driver_opts: dict[str, str]

    def __init__(self, ip6: str = "", link_local_ips: tuple[str, ...] = (),
                 driver_opts: dict[str, str] = _NEW) -> None:
        self._set(ip6=ip6, link_local_ips=link_local_ips,
                  driver_opts={} if driver_opts is _NEW else driver_opts)


class PortMapping(FrozenRecord):
    """One published port as netavark takes it (``range`` ports from each start)."""

    _fields = ("container_port", "host_port", "protocol", "host_ip", "range")
    __slots__ = _fields
    container_port: int
    host_port: int
    protocol: str
    host_ip: str
    range: int

    def __init__(self, container_port: int, host_port: int, protocol: str,
                 host_ip: str = "", range: int = 1) -> None:
        self._set(container_port=container_port, host_port=host_port, protocol=protocol,
                  host_ip=host_ip, range=range)

    def to_netavark(self) -> dict[str, object]:
        return {"container_port": self.container_port, "host_port": self.host_port,
                "protocol": self.protocol, "host_ip": self.host_ip, "range": self.range}
