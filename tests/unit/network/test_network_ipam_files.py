"""Address choice and the resolv.conf/hosts contents (pure logic)."""

from __future__ import annotations

import ipaddress

import pytest

from orlop.errors import ConflictError, InvalidParameterError
from orlop.network import ipam
from orlop.network.files import (
    add_hosts_entry,
    hosts_file,
    parse_add_host,
    remove_hosts_entry,
    resolv_conf,
)


def test_next_address_skips_gateway_used_and_honours_range() -> None:
    net = ipaddress.IPv4Network("10.5.0.0/24")
    gw = ipaddress.IPv4Address("10.5.0.1")
    assert str(ipam.next_address(net, gw, None, set())) == "10.5.0.2"
    assert str(ipam.next_address(net, gw, None, {"10.5.0.2", "10.5.0.3"})) == "10.5.0.4"
    rng = ipaddress.IPv4Network("10.5.0.16/28")
    assert str(ipam.next_address(net, gw, rng, set())) == "10.5.0.17"
    full = {str(ip) for ip in ipaddress.IPv4Network("10.5.0.0/30").hosts()}
    with pytest.raises(ConflictError):
        ipam.next_address(ipaddress.IPv4Network("10.5.0.0/30"),
                          ipaddress.IPv4Address("10.5.0.1"), None, full)


def test_choose_subnet_avoids_used_and_is_stable_per_root() -> None:
    first = ipam.choose_subnet("/tmp/root-a", [])
    assert first == ipam.choose_subnet("/tmp/root-a", [])
    assert ipam.choose_subnet("/tmp/root-a", [first]) != first
    assert ipam.choose_subnet(None, []).subnet_of(ipaddress.IPv4Network("172.16.0.0/12")) \
        or ipam.choose_subnet(None, []).subnet_of(ipaddress.IPv4Network("192.168.0.0/16"))


def test_parse_subnet_refuses_ipv6_and_garbage() -> None:
    with pytest.raises(InvalidParameterError, match="IPv6"):
        ipam.parse_subnet("fd00::/64")
    with pytest.raises(InvalidParameterError, match="invalid CIDR"):
        ipam.parse_subnet("10.0.0.0/33")
    with pytest.raises(ConflictError, match="Pool overlaps"):
        ipam.check_overlap(ipaddress.IPv4Network("10.1.0.0/16"),
                           [("a", ipaddress.IPv4Network("10.1.2.0/24"))])


HOST = "# generated\nnameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch lan\noptions edns0\n"


def test_resolv_conf_drops_loopback_and_prefers_flags() -> None:
    assert resolv_conf(HOST, network_dns=[], dns=[], search=[], options=[]) == \
        "nameserver 192.0.2.1\nsearch lan\noptions edns0\n"
    assert resolv_conf(HOST, network_dns=[], dns=["10.0.0.9"], search=["x.test"],
                       options=["ndots:3"]) == \
        "nameserver 10.0.0.9\nsearch x.test\noptions ndots:3\n"
    # A user network's DNS server replaces the host's, with Docker's ndots:0.
    assert resolv_conf(HOST, network_dns=["10.9.0.1"], dns=[], search=[], options=[]) == \
        "nameserver 10.9.0.1\nsearch lan\noptions edns0 ndots:0\n"
    # --network host keeps the host's own (loopback) servers.
    assert "127.0.0.53" in resolv_conf(HOST, network_dns=[], dns=[], search=[], options=[],
                                       keep_loopback=True)


def test_hosts_file_and_add_host() -> None:
    text = hosts_file("web", "ex.test", ["10.0.0.2"], ["alias1"], [("db", "10.0.0.9")])
    assert "10.0.0.9\tdb\n" in text and text.endswith("10.0.0.2\tweb.ex.test web alias1\n")
    assert parse_add_host("gw:host-gateway") == ("gw", "host-gateway")
    assert parse_add_host("v6:[::1]") == ("v6", "::1")
    with pytest.raises(InvalidParameterError):
        parse_add_host("nocolon")


def test_hosts_entries_of_connect_and_disconnect() -> None:
    base = hosts_file("web", "", ["10.0.0.2"], [], [("db", "10.9.9.9")])
    joined = add_hosts_entry(base, "10.1.0.5", ["web", "alpha", "web"])
    assert joined == base + "10.1.0.5\tweb alpha\n"
    assert add_hosts_entry(joined, "10.1.0.5", ["web"]).count("10.1.0.5") == 1
    assert remove_hosts_entry(joined, "10.1.0.5") == base
    assert "10.9.9.9\tdb" in remove_hosts_entry(joined, "10.1.0.5")


def test_mac_from_ip_is_dockers() -> None:
    assert ipam.mac_from_ip(ipaddress.IPv4Address("172.17.0.2")) == "02:42:ac:11:00:02"
