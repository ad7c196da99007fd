"""Where CLI commands send their calls: the engine in-process, or orlopd over the API.

``LocalBackend`` wraps the in-process ``Engine``; ``RemoteBackend`` speaks the Docker
Engine API through ``orlop.client`` (podman's abi/tunnel split).  Both take the same
arguments and return the same Docker-shaped dicts (or write the same bytes to the same
fds), so a command parses its flags and renders its output once, whichever it gets from
``ctx.backend()``.  Each area's calls live in their own module (volumes, containers,
images, system) as a Local/Remote pair of mixins.

The host comes from ``-H/--host``, else ``ORLOP_HOST``, else ``DOCKER_HOST``; a host
from ``DOCKER_HOST`` is used only once it says it is orlopd (see :func:`check_docker_host`).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms)
if TYPE_CHECKING:
    from typing import TypeAlias

    from orlop.cli.backend.containers import LocalContainers
    from orlop.cli.backend.local import LocalBackend
    from orlop.cli.backend.remote import RemoteBackend
    from orlop.cli.backend.volumes import LocalVolumeVerbs
    from orlop.client import TLSOptions

    Backend: TypeAlias = LocalBackend | RemoteBackend
    # What `orlop volume create | inspect | ls | rm | prune | update | rename` call
    # (Context.volume_backend): in-process, the volume service without the facade.
    VolumeBackend: TypeAlias = LocalVolumeVerbs | RemoteBackend
    # What `orlop exec` calls (Context.container_backend).
    ContainerBackend: TypeAlias = LocalContainers | RemoteBackend


ORLOP_PLATFORM = "Orlop Engine"  # Platform.Name in orlopd's GET /version


def check_docker_host(host: str, tls: TLSOptions | None) -> None:
    """$DOCKER_HOST is usually set for a Docker daemon: orlop would silently create,
    start and remove containers on that other engine.  So a host from it is used only
    when the daemon there answers ``/version`` as orlopd does; -H and $ORLOP_HOST name
    an orlopd on purpose and are used as given."""
    from orlop.client.system import SystemAPI
    from orlop.errors import InvalidParameterError

    name = SystemAPI(host, tls).platform_name()
    if name != ORLOP_PLATFORM:
        raise InvalidParameterError(
            f"$DOCKER_HOST ({host}) points at a daemon that is not orlopd "
            f"(it reports {name!r}): orlop does not drive another engine. To use "
            "an orlopd there, set $ORLOP_HOST or pass -H; to use the local engine, "
            "unset DOCKER_HOST")


def __getattr__(name: str) -> object:
    # LocalBackend/RemoteBackend load on first use: the engine and the client are heavy.
    if name == "LocalBackend":
        from orlop.cli.backend.local import LocalBackend

        return LocalBackend
    if name == "RemoteBackend":
        from orlop.cli.backend.remote import RemoteBackend

        return RemoteBackend
    raise AttributeError(name)
