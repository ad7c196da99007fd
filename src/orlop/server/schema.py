"""Docker's JSON shapes <-> Orlop's dataclasses (moby's ``convert.go`` role).

Requests are validated here field by field (Docker's ``json: cannot unmarshal`` 400s);
everything is checked before the engine creates anything.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from orlop.engine.containers.health import from_api as healthcheck_from_api

# The list entries are the engine's (engine/summary.py), shared with the CLI's local
# backend; re-exported for the routes that import them from here.
from orlop.engine.summary import (
    container_command,
    container_summary,
    image_summary,
    status_text,
)
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
    from orlop.engine.models import RunOptions

__all__ = ["console_size", "container_command", "container_summary", "image_summary",
           "run_options", "status_text"]


def _restart_policy(host: dict[str, Any]) -> str:
    """``HostConfig.RestartPolicy`` -> RunOptions.restart text (``on-failure:3``); the
    engine checks it (one place, the same texts as ``orlop run --restart``)."""
    policy = field_object(host, "RestartPolicy", "HostConfig.")
    name = field_str(policy, "Name", "HostConfig.RestartPolicy.")
    count = field_int(policy, "MaximumRetryCount", "HostConfig.RestartPolicy.")
    if count < 0:
        raise InvalidParameterError("invalid restart policy: maximum retry count cannot be "
                                    "negative")
    if count:
        return f"{name}:{count}"
    return "" if name in ("", "no") else name


def console_size(body: dict[str, Any]) -> tuple[int, int] | None:
    """``HostConfig.ConsoleSize`` ([height, width], API >= 1.42): the size of the
    container's terminal from its first instruction on, or None."""
    host = field_object(body, "HostConfig")
    value = host.get("ConsoleSize")
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 65536
                    for v in value)):
        raise InvalidParameterError("json: cannot unmarshal into Go struct field "
                                    "HostConfig.ConsoleSize of type [2]uint")
    return (value[0], value[1]) if value[0] and value[1] else None


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
    network = field_str(host, "NetworkMode", "HostConfig.") or "default"
    volumes = list(field_str_list(host, "Binds", "HostConfig.") or [])
    # Config.Volumes: anonymous volumes asked for by the client (`-v /data`).
    cfg_volumes = field_object(body, "Volumes")
    volumes += [t for t in cfg_volumes if not any(
        v.split(":")[1:2] == [t] for v in volumes)]
    tmpfs = [f"{k}:{v}" if v else k
             for k, v in field_str_map(host, "Tmpfs", "HostConfig.").items()]
    entrypoint = field_str_list(body, "Entrypoint", allow_string=True)
    if entrypoint == [""]:
        entrypoint = []  # the docker CLI's `--entrypoint ""`: reset the image's
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
        "volume_driver": field_str(host, "VolumeDriver", "HostConfig."),
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
        "security_opt": list(field_str_list(host, "SecurityOpt", "HostConfig.") or []),
        "sysctls": field_str_map(host, "Sysctls", "HostConfig."),
        "stop_signal": field_str(body, "StopSignal"),
        "stop_timeout": stop_timeout,
        "healthcheck": healthcheck_from_api(body.get("Healthcheck")),
        "log_opts": field_str_map(field_object(host, "LogConfig", "HostConfig."), "Config",
                                  "HostConfig.LogConfig."),
    }
    known = {f.name for f in dataclasses.fields(RunOptions)}
    kwargs.update({k: v for k, v in optional.items() if k in known})
    kwargs.update(_network_options(body, host, network))
    return RunOptions(**kwargs)


def _network_options(body: dict[str, Any], host: dict[str, Any], mode: str
                     ) -> dict[str, Any]:
    """Ports, DNS, hosts and the endpoints of ``NetworkingConfig.EndpointsConfig``."""
    from orlop.network.ports import check_bindings

    exposed = field_object(body, "ExposedPorts")
    endpoints = field_object(field_object(body, "NetworkingConfig"), "EndpointsConfig",
                             "NetworkingConfig.")
    primary = "bridge" if mode == "default" else mode
    ip, aliases, extra = "", [], {}
    for name, cfg in endpoints.items():
        if not isinstance(cfg, dict):
            cfg = {}
        ipam = cfg.get("IPAMConfig") or {}
        ep_ip = str(ipam.get("IPv4Address") or "") if isinstance(ipam, dict) else ""
        ep_aliases = [str(a) for a in cfg.get("Aliases") or []]
        if name == primary or name == mode:
            ip, aliases = ep_ip, ep_aliases
        else:
            extra[name] = (ep_ip, tuple(ep_aliases))
    return {
        "port_bindings": check_bindings(host.get("PortBindings")),
        "publish_all": field_bool(host, "PublishAllPorts", "HostConfig."),
        "exposed_ports": {str(k): {} for k in exposed},
        "dns": list(field_str_list(host, "Dns", "HostConfig.") or []),
        "dns_search": list(field_str_list(host, "DnsSearch", "HostConfig.") or []),
        "dns_options": list(field_str_list(host, "DnsOptions", "HostConfig.") or []),
        "add_host": list(field_str_list(host, "ExtraHosts", "HostConfig.") or []),
        "domainname": field_str(body, "Domainname"),
        "mac_address": field_str(body, "MacAddress"),
        "ip": ip, "network_aliases": aliases, "extra_networks": extra,
    }
