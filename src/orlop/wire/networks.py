"""Docker's JSON for networks (``network inspect``/``ls``, ``/networks``) and for a
container's ``NetworkSettings``."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from orlop.engine.models import Container
from orlop.engine.net.networks import PSEUDO, find, pseudo_id, select
from orlop.errors import InvalidParameterError
from orlop.network.ipam import is_ipv6_subnet
from orlop.network.model import Endpoint, Network
from orlop.wire.fields import field_str_map
from orlop.wire.version import API_VERSION

CURRENT_API = (int(API_VERSION.split(".")[0]), int(API_VERSION.split(".")[1]))

if TYPE_CHECKING:
    from orlop.engine.engine import Engine
    from orlop.engine.services import Services


def _prefix(n: Network) -> int:
    return ipaddress.ip_network(n.subnet).prefixlen


def _prefix6(n: Network) -> int:
    return ipaddress.ip_network(n.subnet6).prefixlen if n.subnet6 else 0


def ipam_config(n: Network) -> list[dict[str, Any]]:
    """``IPAM.Config``, in moby's field order (Subnet, IPRange, Gateway,
    AuxiliaryAddresses, each omitted when empty).  The IPv6 entry shows what was asked
    for (dockerd 20.10's buildIpamResources: no Gateway unless given); the IPv4 one
    always shows its gateway (Orlop's record does not keep whether it was given)."""
    v4: dict[str, Any] = {"Subnet": n.subnet}
    if n.ip_range:
        v4["IPRange"] = n.ip_range
    v4["Gateway"] = n.gateway
    if n.aux_addresses:
        v4["AuxiliaryAddresses"] = dict(n.aux_addresses)
    configs = [v4]
    if n.ipv6 and n.subnet6:
        v6: dict[str, Any] = {"Subnet": n.subnet6}
        if n.ip_range6:
            v6["IPRange"] = n.ip_range6
        if n.gateway6_given:
            v6["Gateway"] = n.gateway6
        if n.aux_addresses6:
            v6["AuxiliaryAddresses"] = dict(n.aux_addresses6)
        configs.append(v6)
    return configs


def network_json(engine: Services | None, n: Network | str, with_containers: bool = True
                 ) -> dict[str, Any]:
    if isinstance(n, str):  # host / none
        return {"Name": n, "Id": pseudo_id(n), "Created": "0001-01-01T00:00:00Z",
                "Scope": "local", "Driver": PSEUDO[n], "EnableIPv6": False,
                "IPAM": {"Driver": "default", "Options": None, "Config": []},
                "Internal": False, "Attachable": False, "Ingress": False,
                "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": {},
                "Options": {}, "Labels": {}}
    containers: dict[str, Any] = {}
    if engine is not None and with_containers:
        eps = engine.networks.endpoints_on(n.id)
        if eps:
            alive = {c.id: c for c in engine.list_containers() if c.status == "running"}
            for ep in eps:
                c = alive.get(ep.container_id)
                if c is not None:
                    containers[c.id] = {"Name": c.name, "EndpointID": ep.endpoint_id,
                                        "MacAddress": ep.mac,
                                        "IPv4Address": f"{ep.ip}/{_prefix(n)}",
                                        "IPv6Address": f"{ep.ip6}/{_prefix6(n)}"
                                        if ep.ip6 else ""}
    return {"Name": n.name, "Id": n.id, "Created": n.created, "Scope": "local",
            "Driver": n.driver, "EnableIPv6": n.ipv6,
            "IPAM": {"Driver": "default",
                     "Options": None if n.predefined or n.ipam_options is None
                     else dict(n.ipam_options),
                     "Config": ipam_config(n)},
            "Internal": n.internal, "Attachable": False, "Ingress": False,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": containers,
            "Options": dict(n.options), "Labels": dict(n.labels)}


def list_networks(engine: Engine, filters: Mapping[str, Sequence[str]] | None = None
                  ) -> list[dict[str, Any]]:
    """``network ls`` / ``GET /networks``."""
    return [network_json(engine, n, with_containers=False) for n in select(engine, filters)]


def inspect_network(engine: Engine, ref: str) -> dict[str, Any]:
    """``network inspect`` / ``GET /networks/{id}``."""
    return network_json(engine, find(engine, ref))


def create_network(engine: Engine, body: Mapping[str, Any]) -> dict[str, Any]:
    """``POST /networks/create``'s body (Docker's field names)."""
    ipam = body.get("IPAM") or {}
    if not isinstance(ipam, dict):
        raise InvalidParameterError("json: cannot unmarshal into Go struct field "
                                    "NetworkCreateRequest.IPAM of type network.IPAM")
    if (ipam.get("Driver") or "default") != "default":
        raise InvalidParameterError(f'IPAM driver "{ipam.get("Driver")}" is not supported '
                                    "by Orlop (default only)")
    configs = ipam.get("Config") or []
    if not isinstance(configs, list) or not all(isinstance(c, dict) for c in configs):
        raise InvalidParameterError("json: cannot unmarshal into Go struct field "
                                    "IPAM.Config of type []network.IPAMConfig")
    # moby's getIpamConfig: each config goes to its subnet's family
    v6 = [c for c in configs if is_ipv6_subnet(str(c.get("Subnet") or ""))]
    v4 = [c for c in configs if not is_ipv6_subnet(str(c.get("Subnet") or ""))]
    if len(v4) > 1 or len(v6) > 1:
        raise InvalidParameterError("Orlop networks have at most one IPv4 and one IPv6 "
                                    "subnet: give one --subnet of each")
    cfg = v4[0] if v4 else {}
    cfg6 = v6[0] if v6 else {}
    n = engine.networks.create(
        str(body.get("Name") or ""), driver=str(body.get("Driver") or "bridge"),
        subnet=str(cfg.get("Subnet") or ""), gateway=str(cfg.get("Gateway") or ""),
        ip_range=str(cfg.get("IPRange") or ""), internal=bool(body.get("Internal")),
        labels={str(k): str(v) for k, v in (body.get("Labels") or {}).items()},
        options={str(k): str(v) for k, v in (body.get("Options") or {}).items()},
        ipv6=bool(body.get("EnableIPv6")),
        subnet6=str(cfg6.get("Subnet") or ""), gateway6=str(cfg6.get("Gateway") or ""),
        ip_range6=str(cfg6.get("IPRange") or ""),
        aux_addresses=field_str_map(cfg, "AuxiliaryAddresses", "IPAM.Config."),
        aux_addresses6=field_str_map(cfg6, "AuxiliaryAddresses", "IPAM.Config."),
        ipam_options=None if ipam.get("Options") is None
        else field_str_map(ipam, "Options", "IPAM."))
    return {"Id": n.id, "Warning": ""}


# API 1.45 (moby 26) stopped adding the container's short id to an endpoint's Aliases;
# since 1.44 it is in DNSNames, with the name, the aliases and the hostname.
_ALIASES_WITHOUT_ID = (1, 45)
_DNS_NAMES = (1, 44)


def _mac_given(ep: Endpoint) -> bool:
    """A MAC the user asked for (not the one derived from the address), which Docker
    shows while the container is not running too."""
    from orlop.network.ipam import mac_from_ip

    try:
        return bool(ep.mac) and ep.mac != mac_from_ip(ipaddress.IPv4Address(ep.ip))
    except ValueError:
        return bool(ep.mac)


def _endpoint_json(n: Network | None, ep: Endpoint | None, live: bool, network_id: str,
                   c: Container, api: tuple[int, int], links: list[str] | None = None
                   ) -> dict[str, Any]:
    aliases: list[str] | None = None
    dns_names: list[str] | None = None
    if n is not None and ep is not None and not n.predefined:
        # below 1.45, moby's ContainerInspect adds the short id and the hostname
        # (deduplicated), as dockerd 20.10 stored them
        aliases = list(ep.aliases) if api >= _ALIASES_WITHOUT_ID else list(dict.fromkeys(
            x for x in (*ep.aliases, c.short_id, c.config.hostname) if x))
        aliases = aliases or None
        # moby's buildEndpointDNSNames: deduplicated, in this order
        names = [c.name, *ep.aliases, c.short_id, c.config.hostname]
        dns_names = list(dict.fromkeys(x for x in names if x))
    ipam: dict[str, Any] | None = None
    if ep is not None:  # EndpointIPAMConfig: what was asked for, each field omitempty
        ipam = {k: v for k, v in (("IPv4Address", ep.ip if ep.static_ip else ""),
                                  ("IPv6Address", ep.ip6 if ep.static_ip6 else ""),
                                  ("LinkLocalIPs", list(ep.link_local_ips))) if v} or None
    on = live and ep is not None and n is not None
    on6 = on and ep is not None and bool(ep.ip6)
    return {"IPAMConfig": ipam, "Links": links or None, "Aliases": aliases,
            "NetworkID": network_id,
            "EndpointID": ep.endpoint_id if on and ep else "",
            "Gateway": n.gateway if on and n else "",
            "IPAddress": ep.ip if on and ep else "",
            "IPPrefixLen": _prefix(n) if on and n else 0,
            "IPv6Gateway": n.gateway6 if on6 and n else "",
            "GlobalIPv6Address": ep.ip6 if on6 and ep else "",
            "GlobalIPv6PrefixLen": _prefix6(n) if on6 and n else 0,
            "MacAddress": ep.mac if ep and (on or _mac_given(ep)) else "",
            "DriverOpts": dict(ep.driver_opts) if ep and ep.driver_opts else None,
            **({"DNSNames": dns_names} if api >= _DNS_NAMES else {})}


def summary_networks(networks: dict[str, Any], api: tuple[int, int] = CURRENT_API
                     ) -> dict[str, Any]:
    """``NetworkSettings.Networks`` of a ``GET /containers/json`` entry: moby's container
    view copies the addresses and ids of each endpoint but not its Aliases (null in every
    version) nor its DNSNames (null from API 1.44, when the field appeared; absent
    before)."""
    out = {}
    for name, entry in networks.items():
        entry = {**entry, "Aliases": None}
        if api >= _DNS_NAMES:
            entry["DNSNames"] = None
        else:
            entry.pop("DNSNames", None)
        out[name] = entry
    return out


def network_settings(engine: Services, c: Container,
                     api: tuple[int, int] = CURRENT_API) -> dict[str, Any]:
    """Docker's ``NetworkSettings``; addresses only while the container runs (as
    Docker); the top-level address fields are the default bridge's.  ``api``: the
    version the client asked for (the endpoints' Aliases and DNSNames depend on it)."""
    from orlop.engine.net.setup import HOLDER, published, read_state
    from orlop.network.ports import ports_json

    live = c.status in ("running", "paused", "restarting")
    mode = c.host_config.network_mode or "default"
    networks: dict[str, Any] = {}
    top = {"EndpointID": "", "Gateway": "", "GlobalIPv6Address": "",
           "GlobalIPv6PrefixLen": 0, "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "",
           "MacAddress": ""}
    if mode in ("host", "none"):
        networks[mode] = _endpoint_json(None, None, live, pseudo_id(mode), c, api)
    elif not mode.startswith("container:"):
        from orlop.engine.net.links import inspect_endpoint

        joined = engine.networks.endpoints(c.id)
        # Only user networks have endpoint links: no query for the default bridge's.
        links = inspect_endpoint(engine, c) if any(
            not n.predefined for n, _ep in joined) else {}
        for n, ep in joined:
            entry = _endpoint_json(n, ep, live, n.id, c, api, links.get(n.id))
            networks[n.name] = entry
            if n.predefined:
                top.update({k: entry[k] for k in top})
    exposed = list((c.config.exposed_ports or {}).keys())
    ports = ports_json(published(engine.config, c.id), exposed) if live else {}
    state = read_state(engine.config, c.id) if live else None
    sandbox = str(state.get(HOLDER, "")) if state else ""
    return {"Bridge": "", "SandboxID": c.id if sandbox else "", "HairpinMode": False,
            "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "Ports": ports,
            "SandboxKey": sandbox, "SecondaryIPAddresses": None,
            "SecondaryIPv6Addresses": None, **top, "Networks": networks}
