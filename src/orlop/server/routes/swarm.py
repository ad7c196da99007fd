"""Swarm mode's endpoints (``/swarm``, ``/nodes``, ``/services``, ``/tasks``, ``/secrets``,
``/configs``), answered as dockerd answers them on a node that is in no swarm.

Orlop has no swarm mode (docs/differences.md).  A client still calls these endpoints on
an engine it does not know to be in a swarm: docker-py's ``leave_swarm(force=True)`` (run
after many of its network tests) treats dockerd's 503 as "nothing to leave", and the
docker CLI prints dockerd's text for ``docker node ls``.  So they get dockerd's 503 and
words rather than aiohttp's 404 "page not found"; ``swarm init``/``join`` are refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from orlop.errors import OrlopError, UnsupportedError

if TYPE_CHECKING:
    from orlop.server.routing import Routes

# moby daemon/cluster/errors.go (errNoSwarm, and errNoManager for a node with no swarm).
NOT_IN_SWARM = "This node is not part of a swarm"
NOT_A_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or '
                 '"docker swarm join" to connect this node to swarm and try again.')


class SwarmUnavailableError(OrlopError):
    """dockerd's ``errdefs.Unavailable`` for swarm calls on a node outside a swarm."""

    http_status = 503


async def not_a_manager(request: web.Request) -> web.StreamResponse:
    raise SwarmUnavailableError(NOT_A_MANAGER)


async def not_in_swarm(request: web.Request) -> web.StreamResponse:
    raise SwarmUnavailableError(NOT_IN_SWARM)


async def no_swarm_mode(request: web.Request) -> web.StreamResponse:
    raise UnsupportedError("Orlop has no swarm mode: this engine cannot create or join a swarm")


# What needs a manager, by object: list, create, inspect, update, remove (and logs).
_OBJECTS = ("nodes", "services", "tasks", "secrets", "configs")


def register(routes: Routes) -> None:
    routes.add("GET", "/swarm", not_a_manager)
    routes.add("POST", "/swarm/update", not_a_manager)
    routes.add("GET", "/swarm/unlockkey", not_a_manager)
    routes.add("POST", "/swarm/unlock", not_a_manager)
    routes.add("POST", "/swarm/leave", not_in_swarm)
    routes.add("POST", "/swarm/init", no_swarm_mode)
    routes.add("POST", "/swarm/join", no_swarm_mode)
    for obj in _OBJECTS:
        routes.add("GET", f"/{obj}", not_a_manager)
        routes.add("POST", f"/{obj}/create", not_a_manager)
        routes.add("GET", f"/{obj}/{{id}}", not_a_manager)
        routes.add("POST", f"/{obj}/{{id}}/update", not_a_manager)
        routes.add("DELETE", f"/{obj}/{{id}}", not_a_manager)
    routes.add("GET", "/services/{id}/logs", not_a_manager)
    routes.add("GET", "/tasks/{id}/logs", not_a_manager)
