"""Docker's JSON shapes <-> Orlop's dataclasses (moby's ``convert.go`` role).

Requests are validated here field by field (Docker's ``json: cannot unmarshal`` 400s);
everything is checked before the engine creates anything.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from orlop.engine.timefmt import human_duration
from orlop.errors import InvalidParameterError
from orlop.server.wire import (
    field_bool,
    field_int,
    field_object,
    field_str,
    field_str_list,
    field_str_map,
)

if TYPE_CHECKING:
    from orlop.engine import Engine
    from orlop.engine.models import Container, RunOptions
    from orlop.images.store import Image

def _epoch(rfc3339: str) -> int:
    from orlop.engine.timefmt import parse_rfc3339

    try:
        return int(parse_rfc3339(rfc3339))
    except (ValueError, TypeError):
        return 0


def status_text(c: Container) -> str:
    now = time.time()
    if c.status in ("running", "restarting", "paused"):
        text = "Up " + human_duration(now - _epoch(c.started_at))
        return text + " (Paused)" if c.status == "paused" else text
    if c.status == "exited":
        return f"Exited ({c.exit_code}) {human_duration(now - _epoch(c.finished_at))} ago"
    if c.status == "created":
        return "Created"
    return c.status.capitalize()


def container_command(e: Engine, c: Container) -> str:
    cfg = c.config
    try:
        img_cfg = e.images.get(c.image_id).container_config
    except Exception:
        img_cfg = {}
    ep = cfg.entrypoint if cfg.entrypoint is not None else img_cfg.get("Entrypoint")
    cmd = cfg.cmd if cfg.cmd is not None else img_cfg.get("Cmd")
    return " ".join([*(ep or []), *(cmd or [])])


def container_summary(e: Engine, c: Container) -> dict[str, Any]:
    """One ``GET /containers/json`` entry."""
    from orlop.mounts.spec import MountPoint

    mounts = [mp.to_inspect() for mp in map(MountPoint.from_json, e.mount_points(c.id))
              if mp.origin != "tmpfs-flag"]
    return {
        "Id": c.id, "Names": ["/" + c.name], "Image": c.image_ref, "ImageID": c.image_id,
        "Command": container_command(e, c), "Created": _epoch(c.created), "Ports": [],
        "Labels": dict(c.config.labels), "State": c.status, "Status": status_text(c),
        "HostConfig": {"NetworkMode": c.host_config.network_mode},
        "NetworkSettings": {"Networks": {}}, "Mounts": mounts,
    }


def image_summary(i: Image) -> dict[str, Any]:
    """One ``GET /images/json`` entry."""
    return {
        "Id": i.id, "ParentId": "", "RepoTags": list(i.repo_tags), "RepoDigests": [],
        "Created": _epoch(i.created), "Size": i.size, "SharedSize": -1,
        "VirtualSize": i.size, "Labels": i.container_config.get("Labels") or {},
        "Containers": -1,
    }


def _restart_policy(host: dict[str, Any]) -> str:
    policy = field_object(host, "RestartPolicy", "HostConfig.")
    name = field_str(policy, "Name", "HostConfig.RestartPolicy.")
    count = field_int(policy, "MaximumRetryCount", "HostConfig.RestartPolicy.")
    if name not in ("", "no", "always", "unless-stopped", "on-failure"):
        raise InvalidParameterError(f"invalid restart policy: unknown policy '{name}'; use "
                                    "one of 'no', 'always', 'on-failure', or 'unless-stopped'")
    if count and name != "on-failure":
        raise InvalidParameterError("invalid restart policy: maximum retry count can only "
                                    "be used with 'on-failure'")
    if count < 0:
        raise InvalidParameterError("invalid restart policy: maximum retry count cannot be "
                                    "negative")
    if name == "on-failure" and count:
        return f"on-failure:{count}"
    return "" if name in ("", "no") else name


def run_options(body: dict[str, Any], name: str) -> RunOptions:
    """``POST /containers/create``: the body (Config + HostConfig) -> RunOptions.

    Raises:
        InvalidParameterError: a field of the wrong type or a refused value (400).
    """
    from orlop.engine.models import RunOptions
    from orlop.mounts.spec import from_api_mount

    image = field_str(body, "Image")
    if not image:
        raise InvalidParameterError("Config cannot be empty in order to create a container")
    host = field_object(body, "HostConfig")
    raw_mounts = host.get("Mounts")
    if raw_mounts is not None and not isinstance(raw_mounts, list):
        raise InvalidParameterError("json: cannot unmarshal into Go struct field "
                                    "HostConfig.Mounts of type []mount.Mount")
    mount_specs = [from_api_mount(m) for m in raw_mounts or []]
    network = field_str(host, "NetworkMode", "HostConfig.")
    if network.startswith("container:"):
        raise InvalidParameterError(f"network mode {network} is not supported by Orlop")
    # Docker's default bridge and user networks (compose's <project>_default) have no
    # Orlop equivalent yet: the container gets a network namespace with loopback only.
    network = "host" if network == "host" else "none"
    volumes = list(field_str_list(host, "Binds", "HostConfig.") or [])
    # Config.Volumes: anonymous volumes asked for by the client (`-v /data`).
    cfg_volumes = field_object(body, "Volumes")
    volumes += [t for t in cfg_volumes if not any(
        v.split(":")[1:2] == [t] for v in volumes)]
    tmpfs = [f"{k}:{v}" if v else k
             for k, v in field_str_map(host, "Tmpfs", "HostConfig.").items()]
    entrypoint = field_str_list(body, "Entrypoint", allow_string=True)
    cmd = field_str_list(body, "Cmd", allow_string=True)
    stop_timeout = body.get("StopTimeout")
    if stop_timeout is not None:
        stop_timeout = field_int(body, "StopTimeout")
    kwargs: dict[str, Any] = {
        "image": image, "command": list(cmd or []), "entrypoint": entrypoint,
        "name": name, "env": list(field_str_list(body, "Env") or []),
        "working_dir": field_str(body, "WorkingDir"), "user": field_str(body, "User"),
        "hostname": field_str(body, "Hostname"), "network": network,
        "interactive": field_bool(body, "OpenStdin"), "tty": field_bool(body, "Tty"),
        "auto_remove": field_bool(host, "AutoRemove", "HostConfig."),
        "runtime": field_str(host, "Runtime", "HostConfig."), "volumes": volumes,
        "mount_specs": mount_specs, "tmpfs": tmpfs,
        "volumes_from": list(field_str_list(host, "VolumesFrom", "HostConfig.") or []),
        "labels": field_str_map(body, "Labels"),
        "read_only": field_bool(host, "ReadonlyRootfs", "HostConfig."),
    }
    # Fields the lifecycle side of the engine added; passed when this RunOptions has them.
    optional: dict[str, Any] = {
        "restart": _restart_policy(host),
        "memory": field_int(host, "Memory", "HostConfig."),
        "pids_limit": field_int(host, "PidsLimit", "HostConfig."),
        "nano_cpus": field_int(host, "NanoCpus", "HostConfig."),
        "cap_add": list(field_str_list(host, "CapAdd", "HostConfig.") or []),
        "cap_drop": list(field_str_list(host, "CapDrop", "HostConfig.") or []),
        "init": bool(host.get("Init")) if isinstance(host.get("Init"), bool) else False,
        "privileged": field_bool(host, "Privileged", "HostConfig."),
        "stop_signal": field_str(body, "StopSignal"),
        "stop_timeout": stop_timeout,
        "log_opts": field_str_map(field_object(host, "LogConfig", "HostConfig."), "Config",
                                  "HostConfig.LogConfig."),
    }
    known = {f.name for f in dataclasses.fields(RunOptions)}
    kwargs.update({k: v for k, v in optional.items() if k in known})
    if field_bool(host, "PublishAllPorts", "HostConfig.") or field_object(
            host, "PortBindings", "HostConfig."):
        raise InvalidParameterError("port publishing is not supported: Orlop containers have "
                                    "no network beyond --network host")
    return RunOptions(**kwargs)
