"""IPv6 networks, auxiliary addresses, link-local addresses and driver options: the
address choice (pure), the records on a real SQLite store (network/service.py), Docker's
JSON for them (wire/networks.py) and the docker CLI's --subnet/--aux-address grouping."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from orlop.cli.commands.network import consolidate_ipam
from orlop.cli.context import UsageError
from orlop.config import EngineConfig
from orlop.engine.net.setup import _poolable
from orlop.errors import (
    ConflictError,
    InvalidParameterError,
    NotFoundError,
    PermissionDeniedError,
)
from orlop.network import ipam, netavark
from orlop.network.model import Endpoint, EndpointRequest, Network
from orlop.network.service import NetworkService
from orlop.state import Database
from orlop.wire.networks import ipam_config
from testsupport import add_container

V6 = "fd00:5:6::/64"


@pytest.fixture
def networks(tmp_path: Path) -> NetworkService:
    config = EngineConfig(tmp_path / "root", tmp_path / "run")
    (tmp_path / "root").mkdir()
    return NetworkService(config, Database(config.db_path))


def _connect(networks: NetworkService, network: str, **kw: object) -> Endpoint:
    cid = add_container(networks.db)
    with networks.db.write() as conn:
        _n, ep = networks.connect_in(conn, cid, f"c{cid[:12]}",
                                     EndpointRequest(network, **kw))  # type: ignore[arg-type]
    return ep


# --- pure ---------------------------------------------------------------------------------

def test_next_address6_skips_subnet_address_gateway_and_used() -> None:
    net = ipaddress.IPv6Network(V6)
    gw = ipam.first_address6(net, None)
    assert str(gw) == "fd00:5:6::1"
    assert str(ipam.next_address6(net, gw, None, set())) == "fd00:5:6::2"
    assert str(ipam.next_address6(net, gw, None, {"fd00:5:6::2"})) == "fd00:5:6::3"
    # A range that starts at the subnet's address (docker-py's 2001:389::/96 with the
    # gateway ::ffff): the first container gets ::1.
    rng = ipaddress.IPv6Network("fd00:5:6::/96")
    assert str(ipam.next_address6(net, ipaddress.IPv6Address("fd00:5:6::ffff"), rng,
                                  set())) == "fd00:5:6::1"
    rng = ipaddress.IPv6Network("fd00:5:6::1:0/112")
    assert str(ipam.first_address6(net, rng)) == "fd00:5:6::1:0"
    tiny = ipaddress.IPv6Network("fd00:5:6::/126")
    with pytest.raises(ConflictError):
        ipam.next_address6(tiny, ipaddress.IPv6Address("fd00:5:6::1"), None,
                           {"fd00:5:6::2", "fd00:5:6::3"})


def test_subnet6_and_address_parsing() -> None:
    assert str(ipam.parse_subnet6("fd00:5:6::7/64")) == V6
    for bad in ("10.0.0.0/24", "fd00::/127", "nonsense"):
        with pytest.raises(InvalidParameterError):
            ipam.parse_subnet6(bad)
    with pytest.raises(InvalidParameterError, match=r"invalid IPv6 address: 10\.0\.0\.1"):
        ipam.parse_ip6("10.0.0.1")
    assert ipam.is_ipv6_subnet(V6) and not ipam.is_ipv6_subnet("10.0.0.0/8")
    assert not ipam.is_ipv6_subnet("")
    assert ipam.link_local_cidrs(["169.254.8.8", "fe80::8"]) == ["169.254.8.8/16",
                                                                 "fe80::8/64"]


def test_aux_address_checks_have_libnetworks_texts() -> None:
    net = ipaddress.IPv4Network("10.9.0.0/16")
    assert ipam.check_aux("a", "10.9.1.5", net, {"10.9.0.1"}, "n") == "10.9.1.5"
    with pytest.raises(InvalidParameterError, match=r"non parsable secondary ip address "
                       r"\(a:x\) passed for network n"):
        ipam.check_aux("a", "x", net, set(), "n")
    with pytest.raises(PermissionDeniedError, match=r"\(a:10.8.0.1\) must belong to the "
                       r"master pool: 10.9.0.0/16"):
        ipam.check_aux("a", "10.8.0.1", net, set(), "n")
    for taken in ("10.9.0.1", "10.9.0.0", "10.9.255.255"):
        with pytest.raises(ConflictError, match=r"failed to allocate secondary ip address "
                           rf"\(a:{taken}\): Address already in use"):
            ipam.check_aux("a", taken, net, {"10.9.0.1"}, "n")


def test_cli_groups_ranges_gateways_and_aux_by_subnet() -> None:
    got = consolidate_ipam(["10.9.0.0/16", V6], ["10.9.5.0/24"], ["fd00:5:6::ffff"],
                           {"a": "10.9.1.5", "b": "fd00:5:6::5"})
    assert got == [{"Subnet": "10.9.0.0/16", "IPRange": "10.9.5.0/24",
                    "AuxiliaryAddresses": {"a": "10.9.1.5"}},
                   {"Subnet": V6, "Gateway": "fd00:5:6::ffff",
                    "AuxiliaryAddresses": {"b": "fd00:5:6::5"}}]
    for args, text in [
        (([], [], [], {"a": "10.0.0.1"}), "no matching subnet for aux-address 10.0.0.1"),
        ((["10.9.0.0/16"], [], ["10.8.0.1"], {}), "no matching subnet for gateway 10.8.0.1"),
        (([], [], ["10.8.0.1"], {}), "every ip-range or gateway must have a corresponding"),
        ((["10.9.0.0/16", "10.9.1.0/24"], [], [], {}), "multiple overlapping subnet"),
    ]:
        with pytest.raises(UsageError, match=text):
            consolidate_ipam(*args)  # type: ignore[arg-type]


# --- records --------------------------------------------------------------------------------

def test_ipv6_network_gives_v4_and_v6_addresses_in_order_and_frees_them(
        networks: NetworkService) -> None:
    n = networks.create("six", ipv6=True, subnet6=V6)
    assert (n.ipv6, n.subnet6, n.gateway6, n.gateway6_given) == (True, V6, "fd00:5:6::1",
                                                                 False)
    a = _connect(networks, "six")
    b = _connect(networks, "six", ip6="fd00:5:6::f00d")
    c = _connect(networks, "six")
    assert (a.ip6, b.ip6, c.ip6) == ("fd00:5:6::2", "fd00:5:6::f00d", "fd00:5:6::3")
    assert a.ip and not a.static_ip6 and b.static_ip6
    with pytest.raises(ConflictError, match="Address already in use"):
        _connect(networks, "six", ip6="fd00:5:6::f00d")
    with pytest.raises(ConflictError, match="Address already in use"):
        _connect(networks, "six", ip6="fd00:5:6::1")
    with pytest.raises(InvalidParameterError, match="does not belong to any of this "):
        _connect(networks, "six", ip6="fd00:9::1")
    with pytest.raises(InvalidParameterError, match="invalid IPv6 address"):
        _connect(networks, "six", ip6="10.1.2.3")
    networks.disconnect(a.container_id, "x", "six")
    assert _connect(networks, "six").ip6 == "fd00:5:6::2"  # released, handed out again
    # The record keeps it across a reload, and netavark gets both subnets and addresses.
    (n2, ep), = [(n2, ep) for n2, ep in networks.endpoints(b.container_id)]
    assert ep.ip6 == "fd00:5:6::f00d" and n2.subnet6 == V6
    doc = netavark.options_json(ep.container_id, "b", [(n2, ep)], [])
    assert doc["networks"][n2.id]["static_ips"] == [ep.ip, "fd00:5:6::f00d"]
    info = doc["network_info"][n2.id]
    assert info["ipv6_enabled"] is True
    assert info["subnets"][1] == {"subnet": V6, "gateway": "fd00:5:6::1"}


def test_ipv6_refusals(networks: NetworkService) -> None:
    with pytest.raises(NotFoundError, match="non-overlapping IPv6 address pool"):
        networks.create("x", ipv6=True)
    with pytest.raises(InvalidParameterError, match="--ipv6"):
        networks.create("x", subnet6=V6)
    with pytest.raises(InvalidParameterError, match="no matching subnet for gateway"):
        networks.create("x", ipv6=True, subnet6=V6, gateway6="fd00:9::1")
    networks.create("six", ipv6=True, subnet6=V6)
    with pytest.raises(ConflictError, match="Pool overlaps"):
        networks.create("x", ipv6=True, subnet6="fd00:5:6::/80")
    networks.create("v4only", subnet="10.77.0.0/24")
    with pytest.raises(InvalidParameterError, match="user configured subnets"):
        _connect(networks, "v4only", ip6="fd00:5:6::9")
    with pytest.raises(InvalidParameterError, match="user defined networks only"):
        _connect(networks, "bridge", ip6="fd00:5:6::9")
    assert [n.name for n in networks.list_all()] == ["bridge", "six", "v4only"]


def test_aux_addresses_are_never_given_to_containers(networks: NetworkService) -> None:
    n = networks.create("aux", subnet="10.78.0.0/29", aux_addresses={"r": "10.78.0.2"},
                        ipv6=True, subnet6="fd00:78::/64",
                        aux_addresses6={"r6": "fd00:78::2", "r7": "fd00:78::3"})
    assert (n.aux_addresses, n.aux_addresses6) == ({"r": "10.78.0.2"},
                                                    {"r6": "fd00:78::2", "r7": "fd00:78::3"})
    eps = [_connect(networks, "aux") for _ in range(4)]  # .3 .. .6: all but .2
    assert [e.ip for e in eps] == [f"10.78.0.{i}" for i in (3, 4, 5, 6)]
    assert [e.ip6 for e in eps] == [f"fd00:78::{i}" for i in (4, 5, 6, 7)]
    with pytest.raises(ConflictError):
        _connect(networks, "aux")  # the /29 is full: the aux address stays reserved
    with pytest.raises(ConflictError, match="Address already in use"):
        _connect(networks, "aux", ip="10.78.0.2")
    with pytest.raises(PermissionDeniedError, match="must belong to the master pool"):
        networks.create("bad", subnet="10.79.0.0/24", aux_addresses={"a": "10.80.0.1"})
    with pytest.raises(ConflictError, match=r"\(b:10.79.0.9\): Address already in use"):
        networks.create("bad", subnet="10.79.0.0/24",
                        aux_addresses={"a": "10.79.0.9", "b": "10.79.0.9"})
    with pytest.raises(InvalidParameterError, match="need a subnet"):
        networks.create("bad", aux_addresses={"a": "10.79.0.9"})


def test_link_local_and_driver_opts_are_kept_and_block_the_warm_pool(
        networks: NetworkService) -> None:
    ep = _connect(networks, "bridge", link_local_ips=("169.254.8.8", "fe80::8"),
                  driver_opts={"com.example.x": "on"})
    (n, got), = networks.endpoints(ep.container_id)
    assert got.link_local_ips == ("169.254.8.8", "fe80::8")
    assert got.driver_opts == {"com.example.x": "on"}
    assert not _poolable([(n, got)])
    assert _poolable([(n, _connect(networks, "bridge", driver_opts={"k": "v"}))])
    with pytest.raises(InvalidParameterError, match="Invalid link-local IP address: x"):
        _connect(networks, "bridge", link_local_ips=("x",))


def test_ipam_config_shows_what_dockerd_shows() -> None:
    def net(**kw: object) -> Network:
        return Network(id="0" * 64, name="n", driver="bridge", subnet="10.9.0.0/16",
                       gateway="10.9.5.254", ip_range="10.9.5.0/24", internal=True,
                       dns=True, interface="br-x", labels={}, options={}, created="",
                       **kw)  # type: ignore[arg-type]

    n = net(aux_addresses={"a": "10.9.1.5"}, ipv6=True, subnet6=V6, gateway6="fd00:5:6::1")
    assert ipam_config(n) == [
        {"Subnet": "10.9.0.0/16", "IPRange": "10.9.5.0/24", "Gateway": "10.9.5.254",
         "AuxiliaryAddresses": {"a": "10.9.1.5"}},
        {"Subnet": V6}]  # an IPv6 gateway not given is not shown (buildIpamResources)
    assert list(ipam_config(n)[0]) == ["Subnet", "IPRange", "Gateway", "AuxiliaryAddresses"]
    given = net(ipv6=True, subnet6=V6, gateway6="fd00:5:6::9", gateway6_given=True,
                ip_range6="fd00:5:6::/96")
    assert ipam_config(given)[1] == {"Subnet": V6, "IPRange": "fd00:5:6::/96",
                                     "Gateway": "fd00:5:6::9"}
