"""network/model.py's classes keep what ``@dataclass(frozen=True)`` gave them: keyword and
positional construction with the same defaults, a new dict or list per object for the
defaulted containers, equality and hash by value, the same ``repr``, no assignment."""

from __future__ import annotations

import dataclasses

import pytest

from orlop.network.model import Endpoint, EndpointExtras, EndpointRequest, Network, PortMapping


def _network(**kw: object) -> Network:
    args: dict[str, object] = {
        "id": "a" * 64, "name": "n", "driver": "bridge", "subnet": "10.0.0.0/24",
        "gateway": "10.0.0.1", "ip_range": "", "internal": False, "dns": True,
        "interface": "br0", "labels": {}, "options": {}, "created": "2026-01-01T00:00:00Z"}
    return Network(**{**args, **kw})  # type: ignore[arg-type]


def test_defaults_are_new_per_object() -> None:
    a, b = _network(), _network()
    assert a.aux_addresses == {} and a.aux_addresses is not b.aux_addresses
    assert a.ipam_options == {} and a.ipam_options is not b.ipam_options
    assert _network(ipam_options=None).ipam_options is None
    e, f = Endpoint("c", "n", "e", "10.0.0.2"), Endpoint("c", "n", "e", "10.0.0.2")
    assert e.aliases == [] and e.aliases is not f.aliases
    assert e.driver_opts == {} and e.driver_opts is not f.driver_opts
    assert EndpointRequest("x").driver_opts == {} and EndpointExtras().link_local_ips == ()


def test_value_semantics() -> None:
    assert _network() == _network() and _network() != _network(name="m")
    assert Endpoint("c", "n", "e", "ip") != EndpointRequest("c")
    assert {PortMapping(80, 8080, "tcp")} == {PortMapping(80, 8080, "tcp", "", 1)}
    with pytest.raises(TypeError):
        hash(_network())  # its dicts, as the dataclass's hash of its fields
    assert repr(PortMapping(80, 8080, "tcp")) == (
        "PortMapping(container_port=80, host_port=8080, protocol='tcp', host_ip='', range=1)")
    assert repr(EndpointRequest("x", aliases=("a",))) == (
        "EndpointRequest(network='x', ip='', aliases=('a',), mac='', ip6='', "
        "link_local_ips=(), driver_opts={})")


def test_frozen_and_replace() -> None:
    ep = Endpoint("c", "n", "e", "10.0.0.2", aliases=["a"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        ep.ip = "x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        del ep.ip
    with pytest.raises(AttributeError):
        ep.nope = 1  # type: ignore[attr-defined]
    other = ep.replace(aliases=["a", "b"])
    assert other.aliases == ["a", "b"] and ep.aliases == ["a"] and other.ip == ep.ip
    with pytest.raises(TypeError):
        ep.replace(nope=1)
