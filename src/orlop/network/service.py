"""The network service: networks and endpoints in the state database.

Every change to endpoints happens inside one ``BEGIN IMMEDIATE`` transaction that
reads the addresses in use and inserts the new one, so concurrent `run`s queue on the
database and never get the same address (the UNIQUE (network, ip) key backs it up).
Nothing here touches the kernel: netavark.py does, at start and exit.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping

from orlop.config import DEFAULT_ROOT, EngineConfig
from orlop.digest import sha256_hex
from orlop.errors import (
    ConflictError,
    InvalidParameterError,
    NotFoundError,
    UnsupportedError,
)
from orlop.network import ipam
from orlop.network.model import DEFAULT_BRIDGE, Endpoint, EndpointRequest, Network
from orlop.state import Database
from orlop.state.sqlite import sqlite3
from orlop.timestamps import now_rfc3339

_IFNAME_RE = re.compile(r"^[a-zA-Z0-9_.-]{1,15}$")
_MAC_RE = re.compile(r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$")

# Options of Docker's bridge driver that Orlop applies; any other is refused.
OPT_BRIDGE_NAME = "com.docker.network.bridge.name"
OPT_MTU = "com.docker.network.driver.mtu"
# Options whose only supported value is Docker's default (anything else is refused).
_DEFAULT_ONLY = {
    "com.docker.network.bridge.enable_icc": "true",
    "com.docker.network.bridge.enable_ip_masquerade": "true",
    "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
    "com.docker.network.bridge.default_bridge": "false",
}


class NetworkNotFoundError(NotFoundError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"network {ref} not found")
        self.ref = ref


def _now() -> str:
    return now_rfc3339(6)


def bridge_settings(config: EngineConfig) -> tuple[str, str | None]:
    """The default ``bridge`` network's interface name and subnet for this root.

    Interfaces and routes are global to the host while roots are not: the default
    root uses ``orlop0``; a private root (each test has one) a name derived from its
    path, so that two roots never share a bridge.  ``ORLOP_BRIDGE`` and
    ``ORLOP_BRIDGE_SUBNET`` override both (read when the network is first made)."""
    name = os.environ.get("ORLOP_BRIDGE") or (
        "orlop0" if str(config.root) == DEFAULT_ROOT
        else "orl" + sha256_hex(str(config.root).encode())[:10])
    return name, os.environ.get("ORLOP_BRIDGE_SUBNET") or None


def _seed(config: EngineConfig) -> str | None:
    return None if str(config.root) == DEFAULT_ROOT else str(config.root)


def _row_network(row: sqlite3.Row) -> Network:
    return Network(id=row["id"], name=row["name"], driver=row["driver"], subnet=row["subnet"],
                   gateway=row["gateway"], ip_range=row["ip_range"],
                   internal=bool(row["internal"]), dns=bool(row["dns"]),
                   interface=row["interface"], labels=json.loads(row["labels"]),
                   options=json.loads(row["options"]), created=row["created"],
                   ipv6=bool(row["ipv6"]), subnet6=row["subnet6"], gateway6=row["gateway6"],
                   gateway6_given=bool(row["gateway6_given"]), ip_range6=row["ip_range6"],
                   aux_addresses=json.loads(row["aux_addresses"]),
                   aux_addresses6=json.loads(row["aux_addresses6"]),
                   ipam_options=json.loads(row["ipam_options"]))


def _row_endpoint(row: sqlite3.Row) -> Endpoint:
    return Endpoint(container_id=row["container_id"], network_id=row["network_id"],
                    endpoint_id=row["endpoint_id"], ip=row["ip"], mac=row["mac"],
                    aliases=json.loads(row["aliases"]), static_ip=bool(row["static_ip"]),
                    position=row["position"], ip6=row["ip6"],
                    static_ip6=bool(row["static_ip6"]),
                    link_local_ips=tuple(json.loads(row["link_local_ips"])),
                    driver_opts=json.loads(row["driver_opts"]))


def _insert_network(conn: sqlite3.Connection, n: Network) -> None:
    conn.execute(
        "INSERT INTO networks (id, name, driver, subnet, gateway, ip_range, internal, dns, "
        "interface, labels, options, created, ipv6, subnet6, gateway6, gateway6_given, "
        "ip_range6, aux_addresses, aux_addresses6, ipam_options) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (n.id, n.name, n.driver, n.subnet, n.gateway, n.ip_range, int(n.internal),
         int(n.dns), n.interface, json.dumps(n.labels, sort_keys=True),
         json.dumps(n.options, sort_keys=True), n.created, int(n.ipv6), n.subnet6,
         n.gateway6, int(n.gateway6_given), n.ip_range6, json.dumps(n.aux_addresses),
         json.dumps(n.aux_addresses6), json.dumps(n.ipam_options)))


class NetworkService:
    def __init__(self, config: EngineConfig, db: Database) -> None:
        self.config = config
        self.db = db
        self.on_event: Callable[[Network, str, str], None] | None = None

    def _event(self, n: Network, action: str, container_id: str = "") -> None:
        if self.on_event is not None:
            self.on_event(n, action, container_id)

    # --- networks ------------------------------------------------------------------

    def _default_in(self, conn: sqlite3.Connection) -> Network:
        row = conn.execute("SELECT * FROM networks WHERE name = ?",
                           (DEFAULT_BRIDGE,)).fetchone()
        if row is not None:
            return _row_network(row)
        iface, subnet_text = bridge_settings(self.config)
        used = [ipam.parse_subnet(r["subnet"]) for r in conn.execute(
            "SELECT subnet FROM networks")]
        subnet = (ipam.parse_subnet(subnet_text) if subnet_text
                  else ipam.choose_subnet(_seed(self.config), used))
        n = Network(id=os.urandom(32).hex(), name=DEFAULT_BRIDGE, driver="bridge",
                    subnet=str(subnet), gateway=str(next(subnet.hosts())), ip_range="",
                    internal=False, dns=False, interface=iface, labels={},
                    options={OPT_BRIDGE_NAME: iface, OPT_MTU: "1500",
                             "com.docker.network.bridge.default_bridge": "true",
                             "com.docker.network.bridge.enable_icc": "true",
                             "com.docker.network.bridge.enable_ip_masquerade": "true",
                             "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0"},
                    created=_now())
        _insert_network(conn, n)
        return n

    def default(self) -> Network:
        with self.db.read() as conn:
            row = conn.execute("SELECT * FROM networks WHERE name = ?",
                               (DEFAULT_BRIDGE,)).fetchone()
        if row is not None:
            return _row_network(row)
        with self.db.write() as conn:
            return self._default_in(conn)

    def _lookup(self, conn: sqlite3.Connection, ref: str) -> Network | None:
        if ref == DEFAULT_BRIDGE:
            return self._default_in(conn) if conn.in_transaction else None
        for sql in ("SELECT * FROM networks WHERE name = ?", "SELECT * FROM networks WHERE id = ?"):
            row = conn.execute(sql, (ref,)).fetchone()
            if row is not None:
                return _row_network(row)
        if ref and all(ch in "0123456789abcdef" for ch in ref):
            rows = conn.execute("SELECT * FROM networks WHERE id LIKE ?",
                                (ref + "%",)).fetchall()
            if len(rows) == 1:
                return _row_network(rows[0])
            if len(rows) > 1:
                raise ConflictError(f"network {ref} is ambiguous ({len(rows)} matches found)")
        return None

    def get(self, ref: str) -> Network:
        if ref == DEFAULT_BRIDGE:
            return self.default()
        with self.db.read() as conn:
            n = self._lookup(conn, ref)
        if n is None:
            raise NetworkNotFoundError(ref)
        return n

    def list_all(self) -> list[Network]:
        self.default()
        with self.db.read() as conn:
            return [_row_network(r) for r in conn.execute(
                "SELECT * FROM networks ORDER BY created")]

    def create(self, name: str, *, driver: str = "bridge", subnet: str = "",
               gateway: str = "", ip_range: str = "", internal: bool = False,
               labels: Mapping[str, str] | None = None,
               options: Mapping[str, str] | None = None, ipv6: bool = False,
               subnet6: str = "", gateway6: str = "", ip_range6: str = "",
               aux_addresses: Mapping[str, str] | None = None,
               aux_addresses6: Mapping[str, str] | None = None,
               ipam_options: Mapping[str, str] | None = None) -> Network:
        """Docker's checks, in Docker's order; nothing is made unless all pass.
        ``subnet6``..``aux_addresses6``: the IPv6 IPAM config (with ``ipv6``);
        ``ipam_options``: IPAM.Options as given (None or empty: the default IPAM driver
        takes none that Orlop applies)."""
        # libnetwork's rule: any name but an empty or blank one (spaces are fine: the name
        # is only a key here; netavark and aardvark-dns know a network by its id).
        if not name.strip():
            raise InvalidParameterError(f"invalid name: {name}")
        if any(ord(ch) < 0x20 or ch == "\x7f" for ch in name):
            raise InvalidParameterError(
                f"invalid network name {name!r}: control characters are not allowed")
        if name in ("none", "host"):
            raise ConflictError(f"network with name {name} already exists")
        driver = driver or "bridge"
        if driver in ("host", "null"):
            raise ConflictError(f"only one instance of \"{driver}\" network is allowed")
        if driver != "bridge":
            raise NotFoundError(f'plugin "{driver}" not found')
        opts = dict(options or {})
        iface = _check_options(opts)
        if ipam_options:
            raise UnsupportedError(f"IPAM options {dict(ipam_options)} are not supported by "
                                   "Orlop")
        if (gateway or ip_range or aux_addresses) and not subnet:
            raise InvalidParameterError(
                "gateway, ip-range and aux-address need a subnet (--subnet) on the same "
                "network")
        if (gateway6 or ip_range6 or aux_addresses6) and not subnet6:
            raise InvalidParameterError(
                "an IPv6 gateway, ip-range or aux-address needs an IPv6 subnet (--subnet)")
        if subnet6 and not ipv6:
            # dockerd 20.10 records such a config and gives no container an IPv6 address:
            # refused here rather than silently unused (issue 15).
            raise InvalidParameterError(
                f"IPv6 subnet {subnet6} given without IPv6 enabled on the network (--ipv6)")
        net = ipam.parse_subnet(subnet) if subnet else None
        gw = ipam.parse_ip(gateway) if gateway else None
        rng = ipam.parse_subnet(ip_range) if ip_range else None
        if net is not None and gw is not None and gw not in net:
            raise InvalidParameterError(
                f"no matching subnet for gateway {gateway}")
        if net is not None and rng is not None and not rng.subnet_of(net):
            raise InvalidParameterError(f"no matching subnet for range {ip_range}")
        net6 = ipam.parse_subnet6(subnet6) if subnet6 else None
        gw6 = ipam.parse_ip6(gateway6) if gateway6 else None
        rng6 = ipam.parse_subnet6(ip_range6) if ip_range6 else None
        if net6 is not None and gw6 is not None and gw6 not in net6:
            raise InvalidParameterError(f"no matching subnet for gateway {gateway6}")
        if net6 is not None and rng6 is not None and not rng6.subnet_of(net6):
            raise InvalidParameterError(f"no matching subnet for range {ip_range6}")
        if net6 is not None and gw6 is None:
            gw6 = ipam.first_address6(net6, rng6)
        if net is not None and gw is None:
            gw = next(net.hosts())
        aux4 = _aux(name, aux_addresses, net, str(gw or ""))
        aux6 = _aux(name, aux_addresses6, net6, str(gw6 or ""))
        nid = os.urandom(32).hex()
        iface = iface or f"br-{nid[:12]}"
        with self.db.write() as conn:
            self._default_in(conn)
            if conn.execute("SELECT 1 FROM networks WHERE name = ?", (name,)).fetchone():
                raise ConflictError(f"network with name {name} already exists")
            if conn.execute("SELECT 1 FROM networks WHERE interface = ?",
                            (iface,)).fetchone():
                raise ConflictError(f"bridge name {iface} is already used by a network")
            rows = conn.execute("SELECT name, subnet, subnet6 FROM networks").fetchall()
            used = [(r["name"], ipam.parse_subnet(r["subnet"])) for r in rows]
            if net is not None:
                ipam.check_overlap(net, used)
            else:
                net = ipam.choose_subnet(_seed(self.config), [u for _n, u in used])
            if gw is None:
                gw = next(net.hosts())
            if ipv6 and net6 is None:
                raise ipam.no_default_pool6()
            if net6 is not None:
                ipam.check_overlap(net6, [(r["name"], ipam.parse_subnet6(r["subnet6"]))
                                          for r in rows if r["subnet6"]])
            n = Network(id=nid, name=name, driver="bridge", subnet=str(net), gateway=str(gw),
                        ip_range=str(rng) if rng else "", internal=internal, dns=True,
                        interface=iface, labels=dict(labels or {}), options=opts,
                        created=_now(), ipv6=ipv6, subnet6=str(net6 or ""),
                        gateway6=str(gw6 or ""), gateway6_given=bool(gateway6),
                        ip_range6=str(rng6 or ""), aux_addresses=aux4, aux_addresses6=aux6,
                        ipam_options=None if ipam_options is None else {})
            _insert_network(conn, n)
        self._event(n, "create")
        return n

    def remove(self, ref: str) -> Network:
        with self.db.write() as conn:
            n = self._lookup(conn, ref)
            if n is None:
                raise NetworkNotFoundError(ref)
            if n.predefined:
                raise InvalidParameterError(
                    f"{n.name} is a pre-defined network and cannot be removed")
            if conn.execute("SELECT 1 FROM endpoints WHERE network_id = ? LIMIT 1",
                            (n.id,)).fetchone():
                raise ConflictError(f"error while removing network: network {n.name} id "
                                    f"{n.id} has active endpoints")
            conn.execute("DELETE FROM networks WHERE id = ?", (n.id,))
        self._event(n, "destroy")
        return n

    def prune(self, keep: Callable[[Network], bool] = lambda n: False) -> list[str]:
        removed = []
        for n in self.list_all():
            if n.predefined or keep(n):
                continue
            try:
                self.remove(n.id)
            except (ConflictError, NotFoundError):
                continue
            removed.append(n.name)
        return removed

    # --- endpoints ------------------------------------------------------------------

    def connect_in(self, conn: sqlite3.Connection, container_id: str, container_name: str,
                   req: EndpointRequest) -> tuple[Network, Endpoint]:
        """Record an endpoint, with its addresses, in the caller's write transaction."""
        n = self._lookup(conn, req.network)
        if n is None:
            raise NetworkNotFoundError(req.network)
        if n.predefined and (req.ip or req.ip6 or req.aliases):
            if req.ip or req.ip6:
                raise InvalidParameterError(
                    "user specified IP address is supported on user defined networks only")
            raise InvalidParameterError(
                "network-scoped alias is supported only for containers in user defined "
                "networks")
        if req.ip6 and not n.ipv6:
            raise InvalidParameterError("user specified IP address is supported only when "
                                        "connecting to networks with user configured subnets")
        if req.mac and not _MAC_RE.match(req.mac):
            raise InvalidParameterError(f"{req.mac} is not a valid mac address")
        link_local = tuple(check_link_local(a) for a in req.link_local_ips)
        if conn.execute("SELECT 1 FROM endpoints WHERE container_id = ? AND network_id = ?",
                        (container_id, n.id)).fetchone():
            raise ConflictError(
                f"endpoint with name {container_name} already exists in network {n.name}")
        subnet = ipam.parse_subnet(n.subnet)
        used = _used_ips(conn, n.id) | set(n.aux_addresses.values())
        if req.ip:
            ip = ipam.parse_ip(req.ip)
            if ip not in subnet:
                raise InvalidParameterError(
                    f"Invalid address {req.ip}: It does not belong to any of this network's "
                    "subnets")
            if str(ip) in used or str(ip) == n.gateway:
                raise ConflictError("Address already in use")
        else:
            ip = ipam.next_address(subnet, ipaddress.IPv4Address(n.gateway),
                                   ipam.parse_subnet(n.ip_range) if n.ip_range else None,
                                   used)
        ip6 = _address6(conn, n, req.ip6) if n.ipv6 else ""
        pos_row = conn.execute("SELECT MAX(position) AS p FROM endpoints WHERE "
                               "container_id = ?", (container_id,)).fetchone()
        position = 0 if pos_row["p"] is None else int(pos_row["p"]) + 1
        ep = Endpoint(container_id=container_id, network_id=n.id,
                      endpoint_id=os.urandom(32).hex(), ip=str(ip),
                      mac=req.mac.lower() or ipam.mac_from_ip(ip),
                      aliases=list(req.aliases), static_ip=bool(req.ip), position=position,
                      ip6=ip6, static_ip6=bool(req.ip6), link_local_ips=link_local,
                      driver_opts=dict(req.driver_opts))
        conn.execute(
            "INSERT INTO endpoints (container_id, network_id, endpoint_id, ip, mac, aliases, "
            "static_ip, position, ip6, static_ip6, link_local_ips, driver_opts) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (ep.container_id, ep.network_id, ep.endpoint_id, ep.ip, ep.mac,
             json.dumps(ep.aliases), int(ep.static_ip), ep.position, ep.ip6,
             int(ep.static_ip6), json.dumps(list(ep.link_local_ips)),
             json.dumps(ep.driver_opts, sort_keys=True)))
        return n, ep

    def connect(self, container_id: str, container_name: str,
                req: EndpointRequest) -> tuple[Network, Endpoint]:
        with self.db.write() as conn:
            n, ep = self.connect_in(conn, container_id, container_name, req)
        self._event(n, "connect", container_id)
        return n, ep

    def disconnect(self, container_id: str, container_name: str, ref: str) -> Network:
        with self.db.write() as conn:
            n = self._lookup(conn, ref)
            if n is None:
                raise NetworkNotFoundError(ref)
            cur = conn.execute("DELETE FROM endpoints WHERE container_id = ? AND "
                               "network_id = ?", (container_id, n.id))
            if cur.rowcount == 0:
                raise InvalidParameterError(
                    f"container {container_id} is not connected to network {n.name}")
        self._event(n, "disconnect", container_id)
        return n

    def endpoints(self, container_id: str) -> list[tuple[Network, Endpoint]]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT e.*, n.id AS nid FROM endpoints e JOIN networks n ON n.id = "
                "e.network_id WHERE e.container_id = ? ORDER BY e.position",
                (container_id,)).fetchall()
            nets = {r["id"]: _row_network(r) for r in conn.execute("SELECT * FROM networks")}
        return [(nets[r["network_id"]], _row_endpoint(r)) for r in rows]

    def endpoints_on(self, network_id: str) -> list[Endpoint]:
        with self.db.read() as conn:
            return [_row_endpoint(r) for r in conn.execute(
                "SELECT * FROM endpoints WHERE network_id = ? ORDER BY ip", (network_id,))]

    def all_endpoints(self) -> list[Endpoint]:
        with self.db.read() as conn:
            return [_row_endpoint(r) for r in conn.execute("SELECT * FROM endpoints")]

    # --- the warm pool's addresses (engine/net/pool.py) ---------------------------------

    def reserve_slot(self, network_id: str, slot: str) -> Endpoint:
        """An address for a namespace the pool sets up ahead of time (as ``eth0``)."""
        with self.db.write() as conn:
            row = conn.execute("SELECT * FROM networks WHERE id = ?", (network_id,)).fetchone()
            if row is None:
                raise NetworkNotFoundError(network_id)
            n = _row_network(row)
            ip = ipam.next_address(ipam.parse_subnet(n.subnet),
                                   ipaddress.IPv4Address(n.gateway),
                                   ipam.parse_subnet(n.ip_range) if n.ip_range else None,
                                   _used_ips(conn, n.id) | set(n.aux_addresses.values()))
            mac = ipam.mac_from_ip(ip)
            conn.execute("INSERT INTO netpool (slot, network_id, ip, mac) VALUES (?,?,?,?)",
                         (slot, n.id, str(ip), mac))
        return Endpoint(container_id=slot, network_id=n.id, endpoint_id=slot, ip=str(ip),
                        mac=mac)

    def adopt_slot(self, container_id: str, network_id: str, slot: str) -> Endpoint | None:
        """Give the container's endpoint the slot's address (and free the one create
        chose), in one transaction; None if the slot is no longer reserved (its keeper
        died and a sweep freed the address: the namespace must not be used)."""
        with self.db.write() as conn:
            row = conn.execute("SELECT ip, mac FROM netpool WHERE slot = ? AND network_id = ?",
                               (slot, network_id)).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM netpool WHERE slot = ?", (slot,))
            cur = conn.execute("UPDATE endpoints SET ip = ?, mac = ? WHERE container_id = ? "
                               "AND network_id = ?", (row["ip"], row["mac"], container_id,
                                                      network_id))
            if cur.rowcount != 1:
                raise ConflictError(f"container {container_id} has no endpoint on network "
                                    f"{network_id}")
            ep = conn.execute("SELECT * FROM endpoints WHERE container_id = ? AND "
                              "network_id = ?", (container_id, network_id)).fetchone()
        return _row_endpoint(ep)

    def drop_slots(self, slots: Iterable[str] | None = None) -> None:
        """Free pool addresses: these slots, or every one (no keeper is running)."""
        with self.db.write() as conn:
            if slots is None:
                conn.execute("DELETE FROM netpool")
            else:
                conn.executemany("DELETE FROM netpool WHERE slot = ?", [(s,) for s in slots])

    def set_mac(self, container_id: str, network_id: str, mac: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE endpoints SET mac = ? WHERE container_id = ? AND "
                         "network_id = ?", (mac, container_id, network_id))


def _check_options(opts: Mapping[str, str]) -> str:
    """The bridge driver options Orlop applies (the bridge's name, returned, and the
    MTU) or whose value is Docker's default; any other is refused."""
    iface = ""
    for key, value in opts.items():
        if key == OPT_BRIDGE_NAME:
            if not _IFNAME_RE.match(value):
                raise InvalidParameterError(f"invalid bridge name: {value!r}")
            iface = value
        elif key == OPT_MTU:
            if not value.isdigit() or not 68 <= int(value) <= 65535:
                raise InvalidParameterError(f"invalid MTU number: {value}")
        elif key in _DEFAULT_ONLY:
            if value.lower() != _DEFAULT_ONLY[key]:
                raise UnsupportedError(
                    f"network option {key}={value} is not supported by Orlop")
        else:
            raise UnsupportedError(f"network option {key} is not supported by Orlop")
    return iface


def _aux(network: str, given: Mapping[str, str] | None, subnet: ipam.AnyNet | None,
         gateway: str) -> dict[str, str]:
    """The checked auxiliary addresses of one subnet (libnetwork reserves them in order,
    after the gateway, so a second use of an address is "already in use")."""
    out: dict[str, str] = {}
    if not given or subnet is None:
        return out
    for key, value in given.items():
        out[key] = ipam.check_aux(key, value, subnet, {gateway, *out.values()}, network)
    return out


def check_link_local(text: str) -> str:
    """One IPAMConfig.LinkLocalIPs entry (dockerd 20.10 checks only that it parses, and
    adds it to the interface as ADDR/16, or ADDR/64 for IPv6)."""
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise InvalidParameterError(f"Invalid link-local IP address: {text}") from None


def _address6(conn: sqlite3.Connection, n: Network, wanted: str) -> str:
    """The endpoint's IPv6 address on an IPv6 network: the asked one, checked as the
    IPv4 one is, or the lowest free one (Docker's IPAM hands them out in order too)."""
    subnet = ipam.parse_subnet6(n.subnet6)
    used = {r["ip6"] for r in conn.execute(
        "SELECT ip6 FROM endpoints WHERE network_id = ? AND ip6 != ''", (n.id,))}
    used |= set(n.aux_addresses6.values())
    gateway = ipaddress.IPv6Address(n.gateway6)
    if wanted:
        ip = ipam.parse_ip6(wanted)
        if ip not in subnet:
            raise InvalidParameterError(
                f"Invalid address {wanted}: It does not belong to any of this network's "
                "subnets")
        if str(ip) in used or ip == gateway or ip == subnet.network_address:
            raise ConflictError("Address already in use")
        return str(ip)
    rng = ipam.parse_subnet6(n.ip_range6) if n.ip_range6 else None
    return str(ipam.next_address6(subnet, gateway, rng, used))


def _used_ips(conn: sqlite3.Connection, network_id: str) -> set[str]:
    """The addresses taken on a network: its endpoints' and the warm pool's."""
    return {r["ip"] for r in conn.execute(
        "SELECT ip FROM endpoints WHERE network_id = ? UNION "
        "SELECT ip FROM netpool WHERE network_id = ?", (network_id, network_id))}


def resolve_requests(mode: str, requests: Iterable[EndpointRequest]) -> list[EndpointRequest]:
    """The endpoints a container's NetworkMode implies: ``default``/``bridge`` -> the
    default network, a name -> that network, none/host/container: -> none."""
    reqs = list(requests)
    if mode in ("none", "host") or mode.startswith("container:"):
        return []
    target = DEFAULT_BRIDGE if mode in ("default", "") else mode
    if not any(r.network == target for r in reqs):
        reqs.insert(0, EndpointRequest(network=target))
    return reqs
