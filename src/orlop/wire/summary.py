"""Docker's list entries of a container and of an image (``GET /containers/json`` and
``GET /images/json`` items), made from the engine's records.

orlopd's routes and the CLI's local backend build the very same dicts (``system df``
renders them either way).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from orlop.engine.timefmt import human_duration, parse_rfc3339

if TYPE_CHECKING:
    from orlop.engine.engine import Engine
    from orlop.engine.models import Container
    from orlop.images.store import Image


def epoch(rfc3339: str) -> int:
    """Whole seconds since the epoch (the list entries' ``Created``); 0 for no time."""
    try:
        return int(parse_rfc3339(rfc3339))
    except (ValueError, TypeError):
        return 0


def status_text(c: Container, now: float | None = None) -> str:
    """Docker's ``Status`` column: ``Up 2 hours (Paused)``, ``Restarting (1) 3 seconds
    ago``, ``Exited (0) 3 seconds ago``, ``Created``, ``Removal In Progress``...

    The one text for every list entry: ``ps`` (which adds the health suffix) and
    ``system df -v`` print the same status for the same container, as Docker does (both
    are ``GET /containers/json`` entries there)."""
    now = time.time() if now is None else now
    if c.status == "running":
        return "Up " + human_duration(now - epoch(c.started_at))
    if c.status == "paused":
        return "Up " + human_duration(now - epoch(c.started_at)) + " (Paused)"
    if c.status == "restarting":
        return (f"Restarting ({c.exit_code}) "
                f"{human_duration(now - epoch(c.finished_at))} ago")
    if c.status == "exited":
        if epoch(c.finished_at) == 0:
            return f"Exited ({c.exit_code})"
        return f"Exited ({c.exit_code}) {human_duration(now - epoch(c.finished_at))} ago"
    if c.status == "created":
        return "Created"
    if c.status == "removing":
        return "Removal In Progress"
    return c.status.capitalize()


def container_command(e: Engine, c: Container) -> str:
    cfg = c.config
    try:
        img_cfg = e.images.get(c.image_id).container_config
    except Exception:
        img_cfg = {}
    ep = cfg.entrypoint if cfg.entrypoint is not None else img_cfg.get("Entrypoint")
    cmd = cfg.cmd if cfg.cmd is not None else img_cfg.get("Cmd")
    argv = [*(ep or []), *(cmd or [])]
    if not argv:
        return ""
    # moby's list.go: the path, then each argument, one with a space in single quotes
    # (not escaped: `sh -c 'echo 'a' b'` is what dockerd sends).
    args = [f"'{a}'" if " " in a else a for a in argv[1:]]
    return f"{argv[0]} {' '.join(args)}" if args else argv[0]


def container_summary(e: Engine, c: Container, now: float | None = None) -> dict[str, Any]:
    """One ``GET /containers/json`` entry (its endpoints as the current API version has
    them: wire/ps.py adjusts them for an older one)."""
    from orlop.mounts.spec import MountPoint
    from orlop.wire.mounts import mount_point_json
    from orlop.wire.networks import network_settings, summary_networks

    mounts = [mount_point_json(mp) for mp in map(MountPoint.from_json, e.mount_points(c.id))
              if mp.origin != "tmpfs-flag"]
    settings = network_settings(e, c)
    return {
        "Id": c.id, "Names": ["/" + c.name], "Image": c.image_ref, "ImageID": c.image_id,
        "Command": container_command(e, c), "Created": epoch(c.created),
        "Ports": port_list(settings["Ports"]),
        "Labels": dict(c.config.labels), "State": c.status, "Status": status_text(c, now),
        "HostConfig": {"NetworkMode": c.host_config.network_mode},
        "NetworkSettings": {"Networks": summary_networks(settings["Networks"])},
        "Mounts": mounts,
    }


def port_list(ports: dict[str, Any]) -> list[dict[str, Any]]:
    """``NetworkSettings.Ports`` -> the list entry's ``Ports`` (Docker's api/types.Port)."""
    out: list[dict[str, Any]] = []
    for key, binds in ports.items():
        port, _, proto = key.partition("/")
        if not binds:
            out.append({"PrivatePort": int(port), "Type": proto})
        for b in binds or []:
            out.append({"IP": b["HostIp"], "PrivatePort": int(port),
                        "PublicPort": int(b["HostPort"]), "Type": proto})
    return out


def image_summary(i: Image) -> dict[str, Any]:
    """One ``GET /images/json`` entry."""
    return {
        "Id": i.id, "ParentId": "", "RepoTags": list(i.repo_tags),
        "RepoDigests": list(i.repo_digests),
        "Created": epoch(i.created), "Size": i.size, "SharedSize": -1,
        "VirtualSize": i.size, "Labels": i.container_config.get("Labels") or {},
        "Containers": -1,
    }


__all__ = ["container_command", "container_summary", "epoch", "image_summary", "status_text"]
