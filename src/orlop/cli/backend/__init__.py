"""Where CLI commands send their calls: the engine in-process, or orlopd over the API.

``LocalBackend`` wraps the in-process ``Engine``; ``RemoteBackend`` speaks the Docker
Engine API through ``orlop.client`` (podman's abi/tunnel split).  Both take the same
arguments and return the same Docker-shaped dicts (or write the same bytes to the same
fds), so a command parses its flags and renders its output once, whichever it gets from
``ctx.backend()``.  Each area's calls live in their own module (volumes, containers,
images, system) as a Local/Remote pair of mixins.

The host comes from ``-H/--host``, else ``ORLOP_HOST``, else ``DOCKER_HOST``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from orlop.cli.backend.local import LocalBackend
    from orlop.cli.backend.remote import RemoteBackend

    Backend: TypeAlias = LocalBackend | RemoteBackend


def host_from_env(flag: str | None = None) -> str | None:
    """The remote host to use, or None for in-process."""
    return flag or os.environ.get("ORLOP_HOST") or os.environ.get("DOCKER_HOST") or None


def __getattr__(name: str) -> object:
    # LocalBackend/RemoteBackend load on first use: the engine and the client are heavy.
    if name == "LocalBackend":
        from orlop.cli.backend.local import LocalBackend

        return LocalBackend
    if name == "RemoteBackend":
        from orlop.cli.backend.remote import RemoteBackend

        return RemoteBackend
    raise AttributeError(name)
