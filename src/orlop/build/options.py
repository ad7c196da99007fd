"""What a build is asked for: the flags of ``docker build`` / the query of ``POST /build``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# One of Docker's JSON messages: {"stream": text}, {"aux": {"ID": id}} ...
Emit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class BuildOptions:
    dockerfile: str = "Dockerfile"  # path in the context (POST /build's ``dockerfile``)
    tags: tuple[str, ...] = ()
    target: str = ""
    build_args: dict[str, str | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    no_cache: bool = False
    pull: bool = False
    quiet: bool = False
    network: str = ""  # "" = default (the bridge)
    platform: str = ""
    remove: bool = True  # --rm: remove a step's container after a success (always here)
    force_rm: bool = False
    iidfile: str = ""  # CLI only
    # For the RUN steps' containers, as ``run --add-host`` / ``--shm-size`` (0: 64 MiB).
    extra_hosts: tuple[str, ...] = ()
    shm_size: int = 0
    # --cache-from: only these images (and their parents) are reused as cache; () = any.
    cache_from: tuple[str, ...] = ()
    # --compress: the context goes to orlopd gzipped (the docker CLI's); a local build
    # reads the directory itself, where nothing travels.
    compress: bool = False


def check_isolation(value: str) -> None:
    """``--isolation`` / ``?isolation=``: moby on Linux knows only "default" (or none),
    and refuses anything else with this text (api/server/router/build)."""
    if value.lower() not in ("", "default"):
        from orlop.errors import InvalidParameterError

        raise InvalidParameterError(f'Unsupported isolation: "{value}"')


__all__ = ["BuildOptions", "Emit", "check_isolation"]
