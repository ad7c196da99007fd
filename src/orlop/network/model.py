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

    @property
    def interface(self) -> str:
        return f"eth{self.position}"


@dataclass(frozen=True)
class EndpointRequest:
    """What a create/connect asks of one network (--ip, --alias, --mac-address)."""

    network: str
    ip: str = ""
    aliases: tuple[str, ...] = ()
    mac: str = ""


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
