"""The network verbs (``network create|ls|inspect|rm|prune|connect|disconnect`` and the
``/networks`` routes) over the network service (their Docker JSON: wire/networks.py); connect and
disconnect of a running container go through netavark at once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from orlop.errors import InvalidParameterError
from orlop.network.model import EndpointRequest, Network

if TYPE_CHECKING:
    from orlop.engine.models import Container
    from orlop.engine.services import Services

FILTERS = ("driver", "id", "label", "name", "scope", "type", "dangling")
PSEUDO = {"host": "host", "none": "null"}  # the networks with no record -> their driver


def pseudo_id(name: str) -> str:
    """A stable id for ``host``/``none`` (no record: nothing to configure)."""
    return (name.encode().hex() * 64)[:64]


def _all(engine: Services) -> list[Network | str]:
    return [*engine.networks.list_all(), "host", "none"]


def _name(n: Network | str) -> str:
    return n if isinstance(n, str) else n.name


def _id(n: Network | str) -> str:
    return pseudo_id(n) if isinstance(n, str) else n.id


def find(engine: Services, ref: str) -> Network | str:
    for p in PSEUDO:
        if ref in (p, pseudo_id(p)):
            return p
    return engine.networks.get(ref)


def _match(engine: Services, n: Network | str, filters: Mapping[str, Sequence[str]],
           used: set[str]) -> bool:
    for key, values in filters.items():
        if key not in FILTERS:
            raise InvalidParameterError(f"invalid filter '{key}'")
        if not values:
            continue
        if key == "name" and not any(v in _name(n) for v in values):
            return False
        if key == "id" and not any(_id(n).startswith(v) for v in values):
            return False
        if key == "driver" and not any(
                v == (PSEUDO[n] if isinstance(n, str) else n.driver) for v in values):
            return False
        if key == "scope" and "local" not in values:
            return False
        if key == "type":
            builtin = isinstance(n, str) or n.predefined
            for v in values:
                if v not in ("custom", "builtin"):
                    raise InvalidParameterError(f"invalid filter: 'type'='{v}'")
            if not any((v == "builtin") == builtin for v in values):
                return False
        if key == "label":
            labels = {} if isinstance(n, str) else n.labels
            for v in values:
                k, sep, val = v.partition("=")
                if k not in labels or (sep and labels[k] != val):
                    return False
        if key == "dangling":
            want = values[-1].lower() in ("1", "true")
            dangling = not isinstance(n, str) and not n.predefined and n.id not in used
            if want != dangling:
                return False
    return True


def select(engine: Services, filters: Mapping[str, Sequence[str]] | None = None
           ) -> list[Network | str]:
    """The networks ``network ls`` lists under Docker's filters (wire/networks.py renders
    them)."""
    used = {ep.network_id for ep in engine.networks.all_endpoints()}
    return [n for n in _all(engine) if _match(engine, n, filters or {}, used)]


def remove_network(engine: Services, ref: str) -> None:
    n = find(engine, ref)
    if isinstance(n, str):
        raise InvalidParameterError(f"{n} is a pre-defined network and cannot be removed")
    engine.networks.remove(n.id)


def prune_networks(engine: Services, filters: Mapping[str, Sequence[str]] | None = None
                   ) -> list[str]:
    flt = dict(filters or {})
    for key in flt:
        if key not in ("label", "label!", "until"):
            raise InvalidParameterError(f"invalid filter '{key}'")

    def keep(n: Network) -> bool:
        for v in flt.get("label", []):
            k, sep, val = v.partition("=")
            if k not in n.labels or (sep and n.labels[k] != val):
                return True
        for v in flt.get("label!", []):
            k, sep, val = v.partition("=")
            if k in n.labels and (not sep or n.labels[k] == val):
                return True
        if flt.get("until"):
            from orlop.engine.timefmt import parse_rfc3339

            limit = _until(flt["until"][-1])
            if parse_rfc3339(n.created) >= limit:
                return True
        return False

    return engine.networks.prune(keep)


def _until(text: str) -> float:
    import time

    from orlop.engine.timefmt import parse_rfc3339

    units = {"s": 1, "m": 60, "h": 3600}
    if text and text[-1] in units and text[:-1].isdigit():
        return time.time() - int(text[:-1]) * units[text[-1]]
    try:
        return float(text)
    except ValueError:
        return parse_rfc3339(text)


def connect(engine: Services, net_ref: str, container_ref: str, ip: str = "",
            aliases: Sequence[str] = (), *, mac: str = "", links: Sequence[str] = (),
            ip6: str = "", link_local_ips: Sequence[str] = (),
            driver_opts: Mapping[str, str] | None = None) -> None:
    """Docker's connect: recorded at once; applied now if the container runs.
    ``links``: the endpoint's ``Links`` (``target:alias``, engine/net/links.py)."""
    from orlop.engine.net import links as netlinks
    from orlop.engine.net import setup as netsetup
    from orlop.network import netavark

    n = find(engine, net_ref)
    c = engine.get_container(container_ref)
    mode = c.host_config.network_mode or "default"
    if isinstance(n, str) or mode == "host":
        raise InvalidParameterError("container cannot be disconnected from host network or "
                                    "connected to host network")
    if mode == "none" or mode.startswith("container:"):
        raise InvalidParameterError(
            "container sharing network namespace with another container or host cannot "
            "be connected to any other network" if mode != "none" else
            "container cannot be connected to multiple networks with one of the networks "
            "in private (none) mode")
    if links and n.predefined:
        raise InvalidParameterError(
            "links on the default bridge network are given at create (--link), not to "
            "network connect")
    netlinks.parse_endpoint_links(links)  # Docker's format errors, before anything
    net, ep = engine.networks.connect(c.id, c.name, EndpointRequest(
        network=n.id, ip=ip, aliases=tuple(aliases), mac=mac, ip6=ip6,
        link_local_ips=tuple(link_local_ips), driver_opts=dict(driver_opts or {})))
    try:
        link_hosts = netlinks.connect_links(engine, c, net, links)
    except BaseException:
        engine.networks.disconnect(c.id, c.name, net.id)
        raise
    full = netsetup.read_state(engine.config, c.id)
    if c.status != "running" or not c.pid or full is None:
        return  # applied at the next start
    path = f"/proc/{c.pid}/ns/net"
    doc = netavark.options_json(
        c.id, c.name, netlinks.with_dns_aliases(engine.containers, c, [(net, ep)]), [])
    try:
        status = netavark.setup(path, doc, netsetup.aardvark_dir(engine.config))
    except BaseException:
        engine.networks.disconnect(c.id, c.name, net.id)
        raise
    try:
        netsetup.add_link_local(path, ep)
    except BaseException:
        netavark.teardown(path, doc, netsetup.aardvark_dir(engine.config))
        engine.networks.disconnect(c.id, c.name, net.id)
        raise
    given = netavark.macs_of(status).get(netavark.key(net))
    if given:
        engine.networks.set_mac(c.id, net.id, given)
    full.setdefault("networks", {}).update(doc["networks"])
    full.setdefault("network_info", {}).update(doc["network_info"])
    netsetup.write_state(engine.config, c.id, full)
    _update_files(engine, c, add=(ep.ip, [*netsetup.host_names(c), *ep.aliases]),
                  extra=link_hosts)


def _update_files(engine: Services, c: Container, *, add: tuple[str, list[str]] | None = None,
                  remove: str = "", extra: Sequence[tuple[str, str]] = ()) -> None:
    """A running container's /etc/hosts and /etc/resolv.conf after connect/disconnect
    (libnetwork's join/leave): its address on that network with its names added or
    removed, and the resolver pointed at a network DNS server if it now has one (or
    no more).  The bind-mounted files are rewritten in place (same inode)."""
    from orlop.engine.net import setup as netsetup
    from orlop.network import files

    cdir = engine.config.containers_dir / c.id
    try:
        hosts = (cdir / "hosts").read_text()
        if add:
            hosts = files.add_hosts_entry(hosts, *add)
        if remove:
            hosts = files.remove_hosts_entry(hosts, remove)
        hosts += "".join(f"{ip}\t{names}\n" for names, ip in extra)  # the links'
        _rewrite(cdir / "hosts", hosts)
        resolv = netsetup.resolv_for(c, [n for n, _ep in engine.networks.endpoints(c.id)])
        if (cdir / "resolv.conf").read_text() != resolv:
            _rewrite(cdir / "resolv.conf", resolv)
    except OSError:
        pass  # the container's directory is gone: it stopped meanwhile


def _rewrite(path: Path, text: str) -> None:
    with open(path, "r+") as f:
        f.write(text)
        f.truncate()


def disconnect(engine: Services, net_ref: str, container_ref: str, force: bool = False
               ) -> None:
    from orlop.engine.net import setup as netsetup
    from orlop.network import netavark

    n = find(engine, net_ref)
    c = engine.get_container(container_ref)
    if isinstance(n, str):
        if (c.host_config.network_mode or "") == n:
            raise InvalidParameterError("container cannot be disconnected from host network "
                                        "or connected to host network")
        raise InvalidParameterError(
            f"container {c.id} is not connected to network {n}")
    full = netsetup.read_state(engine.config, c.id)
    if c.status == "running" and c.pid and full is not None:
        path = f"/proc/{c.pid}/ns/net"
        k = netavark.key(n)
        if k in full.get("networks", {}):
            part = {**full, "networks": {k: full["networks"][k]},
                    "network_info": {k: full["network_info"][k]}}
            try:
                netavark.teardown(path, part, netsetup.aardvark_dir(engine.config))
            except Exception:
                if not force:
                    raise
            del full["networks"][k]
            del full["network_info"][k]
            if not full["networks"]:
                full.pop("port_mappings", None)
            netsetup.write_state(engine.config, c.id, full)
            gone = next((ep.ip for net, ep in engine.networks.endpoints(c.id)
                         if net.id == n.id), "")
            engine.networks.disconnect(c.id, c.name, n.id)
            _update_files(engine, c, remove=gone)
            return
    engine.networks.disconnect(c.id, c.name, n.id)
