"""Checks of ``run``/``create`` options that a client must make before sending them.

orlopd reads ``HostConfig.NetworkMode`` leniently (Docker's default bridge and compose's
``<project>_default`` networks become a namespace with loopback only, so that Docker
clients work), so ``orlop -H ... run --network bridge`` would run without the error the
local ``orlop run`` gives.  The Orlop client checks here first, with the engine's text.
"""

from __future__ import annotations

from orlop.errors import InvalidParameterError

NETWORK_MODES = ("none", "host")


def check_network(network: str) -> None:
    """Raises InvalidParameterError for a network mode Orlop does not have."""
    if network not in NETWORK_MODES:
        raise InvalidParameterError(
            f"network {network} not found (Orlop supports --network none and host)")
