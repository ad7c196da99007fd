"""Shared test settings: integration tests need root and are skipped elsewhere."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# A foreground run's network teardown lingers 2 s by default to keep the bridge for the
# next run (engine/net/setup.py); every test root waits for its teardown, so the suite
# tears down at once, and the tests of the linger set it back themselves.
os.environ.setdefault("ORLOP_NET_LINGER", "0")
# Likewise the warm namespace pool (engine/net/pool.py): its keeper would hold each test
# root's bridge until the root goes; tests/integration/test_netpool.py turns it on.
os.environ.setdefault("ORLOP_NET_POOL", "0")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.fspath) and os.geteuid() != 0:
            item.add_marker(pytest.mark.skip(reason="integration tests need root"))


@pytest.fixture(scope="session", autouse=True)
def _no_netavark_chains_left() -> Iterator[None]:
    """netavark leaves its top-level chains after the last network (docs/networking.md):
    the ones this session made go at its end, if no network on the host still uses
    them."""
    import shutil

    if os.geteuid() != 0 or not shutil.which("iptables"):
        yield None
        return
    from testsupport import netavark_top_chains, remove_idle_netavark_chains

    before = netavark_top_chains()
    yield None
    remove_idle_netavark_chains(before)


# The forwarding switches netavark turns on for a bridge network (IPv4) and an IPv6 one,
# as dockerd does; a test session puts back what it found.
_FORWARDING = ("/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding")


@pytest.fixture(scope="session", autouse=True)
def _forwarding_as_found() -> Iterator[None]:
    """The host's forwarding sysctls are its own: with IPv6 forwarding on, its interfaces
    ignore router advertisements, so the session sets back the values it found."""
    found: dict[str, str] = {}
    if os.geteuid() == 0:
        for path in _FORWARDING:
            try:
                with open(path) as f:
                    found[path] = f.read().strip()
            except OSError:
                pass
    yield None
    for path, value in found.items():
        try:
            with open(path) as f:
                if f.read().strip() == value:
                    continue
            with open(path, "w") as f:
                f.write(value + "\n")
        except OSError:
            pass
