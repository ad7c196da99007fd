"""Docker's port syntax: ``-p``/``--expose``/``-P`` parsed into Docker's own shapes
(``PortBindings``, ``ExposedPorts``), then turned into concrete mappings at start.

Pure logic, except ``free_port``/``check_bindable``, which ask the kernel whether a
host port can be taken (Docker's userland proxy would fail the same way)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence

from orlop.errors import ConflictError, InvalidParameterError
from orlop.network.model import PortMapping

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any

PROTOCOLS = ("tcp", "udp", "sctp")
PortBindings = dict[str, list[dict[str, str]]]


def _port_range(text: str, what: str) -> tuple[int, int]:
    lo, sep, hi = text.partition("-")
    try:
        start = int(lo)
        end = int(hi) if sep else start
    except ValueError:
        raise InvalidParameterError(f"invalid {what}: {text}") from None
    if not (0 < start <= 65535 and 0 < end <= 65535) or end < start:
        raise InvalidParameterError(f"invalid {what}: {text}")
    return start, end


def _split_proto(text: str) -> tuple[str, str]:
    port, _, proto = text.partition("/")
    proto = proto.lower() or "tcp"
    if proto not in PROTOCOLS:
        raise InvalidParameterError(f"invalid proto: {proto}")
    return port, proto


def parse_publish(spec: str) -> PortBindings:
    """One ``-p`` value -> ``{"80/tcp": [{"HostIp": ..., "HostPort": ...}], ...}``."""
    rest, proto = _split_proto(spec)
    host_ip = ""
    if rest.startswith("["):
        addr, sep, after = rest[1:].partition("]")
        if not sep or not after.startswith(":"):
            raise InvalidParameterError(f"invalid IP address: {rest}")
        host_ip, rest = addr, after[1:]
    parts = rest.split(":")
    if len(parts) > 3:
        # A bare IPv6 address without brackets.
        raise InvalidParameterError(f"invalid IP address in {spec!r}: write IPv6 "
                                    "addresses in brackets, [::1]:8080:80")
    if len(parts) == 3:
        if host_ip:
            raise InvalidParameterError(f"invalid port specification: {spec!r}")
        host_ip, host, ctr = parts
    elif len(parts) == 2:
        host, ctr = parts
    else:
        host, ctr = "", parts[0]
    if host_ip:
        try:
            addr_obj = ipaddress.ip_address(host_ip)
        except ValueError:
            raise InvalidParameterError(f"invalid IP address: {host_ip}") from None
        if addr_obj.version == 6:
            raise InvalidParameterError(
                f"cannot publish on the IPv6 address {host_ip}: IPv6 is not enabled for "
                "published ports (Orlop publishes on IPv4 host addresses only)")
    if not ctr:
        raise InvalidParameterError(f"no port specified: {spec}<empty>")
    c_start, c_end = _port_range(ctr, "containerPort")
    out: PortBindings = {}
    if host:
        h_start, h_end = _port_range(host, "hostPort")
        if c_end != c_start and (h_end - h_start) != (c_end - c_start):
            raise InvalidParameterError(
                f"invalid ranges specified for container and host Ports: {ctr} and {host}")
        if c_end == c_start and h_end != h_start:
            # One container port, a host range: the first free host port of it (Docker).
            out[f"{c_start}/{proto}"] = [{"HostIp": host_ip, "HostPort": host}]
            return out
        for i in range(c_end - c_start + 1):
            out.setdefault(f"{c_start + i}/{proto}", []).append(
                {"HostIp": host_ip, "HostPort": str(h_start + i)})
    else:
        for port in range(c_start, c_end + 1):
            out.setdefault(f"{port}/{proto}", []).append({"HostIp": host_ip, "HostPort": ""})
    return out


def parse_publish_all(specs: Iterable[str]) -> PortBindings:
    merged: PortBindings = {}
    for spec in specs:
        for key, binds in parse_publish(spec).items():
            merged.setdefault(key, []).extend(binds)
    return merged


def parse_expose(specs: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``--expose 80``, ``--expose 8000-8010/udp`` -> ``ExposedPorts``."""
    out: dict[str, dict[str, Any]] = {}
    for spec in specs:
        port, proto = _split_proto(spec)
        start, end = _port_range(port, "port")
        for p in range(start, end + 1):
            out[f"{p}/{proto}"] = {}
    return out


def port_key(key: str) -> tuple[int, str]:
    port, _, proto = key.partition("/")
    return int(port), (proto or "tcp")


def requested(port_bindings: Mapping[str, Sequence[Mapping[str, str]]] | None,
              exposed: Iterable[str], publish_all: bool
              ) -> list[tuple[int, str, str, str]]:
    """(container port, protocol, host ip, host port spec) for every binding to make;
    ``-P`` adds a random host port for each exposed port not bound already."""
    out: list[tuple[int, str, str, str]] = []
    bound = set()
    for key, binds in sorted((port_bindings or {}).items(), key=lambda kv: port_key(kv[0])):
        port, proto = port_key(key)
        bound.add((port, proto))
        for b in binds or [{"HostIp": "", "HostPort": ""}]:
            out.append((port, proto, b.get("HostIp") or "", b.get("HostPort") or ""))
    if publish_all:
        for key in sorted(exposed, key=port_key):
            port, proto = port_key(key)
            if (port, proto) not in bound:
                out.append((port, proto, "", ""))
    return out


def _sock_type(proto: str) -> int:
    import socket  # here: only a published port needs it

    return socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM


def check_bindable(host_ip: str, port: int, proto: str) -> bool:
    """Whether nothing on the host holds ``host_ip:port`` (a listener the DNAT rule
    would silently shadow)."""
    import socket  # here: only a published port needs it

    if proto == "sctp":
        return True
    with socket.socket(socket.AF_INET, _sock_type(proto)) as s:
        try:
            s.bind((host_ip or "0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port(host_ip: str, proto: str) -> int:
    """A host port the kernel considers free (Docker takes one from the ephemeral range)."""
    import socket  # here: only a published port needs it

    with socket.socket(socket.AF_INET, _sock_type(proto if proto != "sctp" else "tcp")) as s:
        s.bind((host_ip or "0.0.0.0", 0))
        return int(s.getsockname()[1])


def allocate(wanted: Sequence[tuple[int, str, str, str]],
             taken: set[tuple[int, str]]) -> list[PortMapping]:
    """Concrete mappings for ``wanted``; ``taken`` holds (host port, proto) already
    published by other running containers of this root (updated in place)."""
    out: list[PortMapping] = []
    for port, proto, host_ip, host in wanted:
        if host:
            start, end = _port_range(host, "hostPort")
            chosen = 0
            for candidate in range(start, end + 1):
                if (candidate, proto) not in taken and check_bindable(host_ip, candidate,
                                                                      proto):
                    chosen = candidate
                    break
            if not chosen:
                raise ConflictError(f"Bind for {host_ip or '0.0.0.0'}:{host} failed: port "
                                    "is already allocated")
        else:
            chosen = free_port(host_ip, proto)
            while (chosen, proto) in taken:
                chosen = free_port(host_ip, proto)
        taken.add((chosen, proto))
        out.append(PortMapping(container_port=port, host_port=chosen, protocol=proto,
                               host_ip=host_ip))
    return out


def ports_json(mappings: Iterable[PortMapping], exposed: Iterable[str]
               ) -> dict[str, list[dict[str, str]] | None]:
    """``NetworkSettings.Ports``: each exposed or published port, null when unpublished."""
    out: dict[str, list[dict[str, str]] | None] = dict.fromkeys(exposed)
    for m in mappings:
        out.setdefault(f"{m.container_port}/{m.protocol}", None)
        binds = out[f"{m.container_port}/{m.protocol}"] or []
        binds.append({"HostIp": m.host_ip or "0.0.0.0", "HostPort": str(m.host_port)})
        out[f"{m.container_port}/{m.protocol}"] = binds
    return out


def from_mapping_json(items: Iterable[Mapping[str, Any]]) -> list[PortMapping]:
    return [PortMapping(container_port=int(m["container_port"]), host_port=int(m["host_port"]),
                        protocol=str(m["protocol"]), host_ip=str(m.get("host_ip") or ""),
                        range=int(m.get("range") or 1)) for m in items]


def check_bindings(raw: object, where: str = "HostConfig.PortBindings"
                   ) -> PortBindings:
    """The API's ``PortBindings`` (``{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}``,
    a null list meaning one random port), validated as the daemon does."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidParameterError(f"json: cannot unmarshal into Go struct field {where} "
                                    "of type nat.PortMap")
    out: PortBindings = {}
    for key, binds in raw.items():
        port, _sep, proto = str(key).partition("/")
        _split_proto(f"{port}/{proto or 'tcp'}")
        _port_range(port, "containerPort")
        norm = f"{port}/{(proto or 'tcp').lower()}"
        if binds is None:
            binds = [{}]
        if not isinstance(binds, list) or not all(isinstance(b, dict) for b in binds):
            raise InvalidParameterError(f"json: cannot unmarshal into Go struct field {where} "
                                        "of type []nat.PortBinding")
        for b in binds:
            host_ip = str(b.get("HostIp") or "")
            host_port = str(b.get("HostPort") or "")
            if host_ip:
                parse_publish(f"{'[' + host_ip + ']' if ':' in host_ip else host_ip}:"
                              f"{host_port}:{port}/{proto or 'tcp'}")
            if host_port:
                _port_range(host_port, "hostPort")
            out.setdefault(norm, []).append({"HostIp": host_ip, "HostPort": host_port})
    return out
