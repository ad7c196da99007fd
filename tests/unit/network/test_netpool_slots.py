"""The warm pool's address records (network/service.py) and which starts may use a warm
namespace (engine/net/setup.py ``_poolable``), on a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from orlop.config import EngineConfig
from orlop.engine.net.setup import _poolable
from orlop.network.ipam import mac_from_ip, parse_ip
from orlop.network.model import Endpoint, EndpointRequest
from orlop.network.service import NetworkService
from orlop.state import Database
from testsupport import add_container


@pytest.fixture
def networks(tmp_path: Path) -> NetworkService:
    config = EngineConfig(tmp_path / "root", tmp_path / "run")
    (tmp_path / "root").mkdir()
    return NetworkService(config, Database(config.db_path))


def _connect(networks: NetworkService, network: str = "bridge") -> Endpoint:
    cid = add_container(networks.db)
    with networks.db.write() as conn:
        _n, ep = networks.connect_in(conn, cid, f"c{cid[:12]}", EndpointRequest(network))
    return ep


def test_slot_addresses_are_taken_for_endpoints_and_other_slots(
        networks: NetworkService) -> None:
    n = networks.default()
    a = networks.reserve_slot(n.id, "a" * 64)
    b = networks.reserve_slot(n.id, "b" * 64)
    ep = _connect(networks)
    assert len({a.ip, b.ip, ep.ip}) == 3
    assert a.mac == mac_from_ip(parse_ip(a.ip))


def test_adopt_moves_the_slot_address_to_the_endpoint_and_frees_the_old(
        networks: NetworkService) -> None:
    n = networks.default()
    ep = _connect(networks)
    slot = networks.reserve_slot(n.id, "c" * 64)
    adopted = networks.adopt_slot(ep.container_id, n.id, "c" * 64)
    assert adopted is not None
    assert (adopted.ip, adopted.mac) == (slot.ip, slot.mac)
    assert adopted.endpoint_id == ep.endpoint_id
    [(_n, now)] = networks.endpoints(ep.container_id)
    assert now.ip == slot.ip
    # The slot is gone and the endpoint's first address is free again.
    assert networks.adopt_slot(ep.container_id, n.id, "c" * 64) is None
    assert networks.reserve_slot(n.id, "d" * 64).ip == ep.ip


def test_drop_slots_frees_some_or_all(networks: NetworkService) -> None:
    n = networks.default()
    first = networks.reserve_slot(n.id, "e" * 64)
    networks.reserve_slot(n.id, "f" * 64)
    networks.drop_slots(["e" * 64])
    assert networks.reserve_slot(n.id, "g" * 64).ip == first.ip
    networks.drop_slots(None)
    assert networks.reserve_slot(n.id, "h" * 64).ip == first.ip


def test_only_a_plain_default_bridge_endpoint_may_take_a_warm_namespace(
        networks: NetworkService) -> None:
    n = networks.default()
    ep = _connect(networks)
    assert _poolable([(n, ep)])
    user = networks.create("user1", subnet="10.99.1.0/24")
    other = _connect(networks, "user1")
    assert not _poolable([(user, other)])
    assert not _poolable([(n, ep), (user, other)])
    custom = Endpoint(ep.container_id, n.id, ep.endpoint_id, ep.ip, mac="02:42:00:00:00:99")
    assert not _poolable([(n, custom)])
