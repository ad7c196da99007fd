"""``POST /containers/create``: ``RunOptions`` <-> the request body, both directions.

:func:`create_body` is the remote CLI's half (``RunOptions`` -> body, as the docker CLI
builds it) and :func:`run_options` orlopd's (body -> ``RunOptions``, moby's
``convert.go`` role): exact inverses, side by side, so a field added to one is seen
missing from the other.  The body is validated field by field (Docker's ``json: cannot
unmarshal`` 400s); everything is checked before the engine creates anything.
"""

from __future__ import annotations

import posixpath

from orlop.errors import InvalidParameterError
from orlop.wire.fields import (
    field_bool,
    field_int,
    field_object,
    field_str,
    field_str_list,
    field_str_map,
)

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any

    from orlop.engine.runoptions import RunOptions
    from orlop.network.model import EndpointRequest

__all__ = ["absolute_bind", "console_size", "create_body", "run_options"]


def absolute_bind(raw: str, cwd: str) -> str:
    """``-v ./rel:/x`` -> ``-v /cwd/rel:/x``: a relative bind source is the client's
    (Docker's CLI resolves it before sending, and the container records that)."""
    source, sep, rest = raw.partition(":")
    if sep and source.startswith("."):
        source = posixpath.normpath(posixpath.join(cwd, source))
    return source + sep + rest


def create_body(opts: RunOptions, streams: frozenset[str] = frozenset(),
                console: list[int] | None = None) -> dict[str, Any]:
    """RunOptions -> the body of ``POST /containers/create``: the exact inverse of
    :func:`run_options`, as the docker CLI builds it.  Every mount flag is checked
    here first (Docker's CLI does; the errors are the local ones): ``-v`` with a
    source goes to ``HostConfig.Binds`` (a relative source resolved against our working
    directory), ``-v /path`` to ``Config.Volumes``, ``--tmpfs`` to ``HostConfig.Tmpfs``,
    and the ``--mount`` specs (parsed by the CLI already) to ``HostConfig.Mounts``."""
    from orlop.mounts.parser import (
        check_duplicates,
        parse_tmpfs_flag,
        parse_volume_flag,
        parse_volumes_from,
    )
    from orlop.network.ports import parse_expose, parse_publish_all
    from orlop.wire.mounts import to_api_mount

    binds: list[str] = []
    volumes: dict[str, dict[str, Any]] = {}
    vflags = []
    for raw in opts.volumes:
        spec = parse_volume_flag(raw, opts.cwd)
        vflags.append(spec)
        if spec.type == "volume" and not spec.source:
            volumes[spec.target] = {}
            continue
        binds.append(absolute_bind(raw, opts.cwd))
    mflags = list(opts.mount_specs)  # --mount, parsed once by the CLI
    tflags = [parse_tmpfs_flag(raw) for raw in opts.tmpfs]
    check_duplicates([*vflags, *mflags, *tflags])
    for raw in opts.volumes_from:
        parse_volumes_from(raw)
    bindings = parse_publish_all(opts.publish)
    exposed: dict[str, Any] = {**parse_expose(opts.expose), **{k: {} for k in bindings}}
    endpoint: dict[str, Any] = {}
    ipam = {k: v for k, v in (("IPv4Address", opts.ip), ("IPv6Address", opts.ip6),
                              ("LinkLocalIPs", list(opts.link_local_ips))) if v}
    if ipam:
        endpoint["IPAMConfig"] = ipam
    if opts.network_aliases:
        endpoint["Aliases"] = list(opts.network_aliases)
    if opts.endpoint_driver_opts:
        endpoint["DriverOpts"] = dict(opts.endpoint_driver_opts)
    tmpfs = {raw.partition(":")[0]: raw.partition(":")[2] for raw in opts.tmpfs}
    name, _, count = opts.restart.partition(":")
    if count and not count.isdigit():
        name, count = opts.restart, ""  # the engine refuses it, with its own text
    host: dict[str, Any] = {
        "Binds": binds or None, "Mounts": [to_api_mount(s) for s in mflags] or None,
        "Tmpfs": tmpfs or None, "VolumesFrom": list(opts.volumes_from) or None,
        "VolumeDriver": opts.volume_driver, "ContainerIDFile": opts.container_id_file,
        "NetworkMode": opts.network, "AutoRemove": opts.auto_remove,
        "Runtime": opts.runtime, "ReadonlyRootfs": opts.read_only,
        "RestartPolicy": {"Name": name, "MaximumRetryCount": int(count or 0)},
        "LogConfig": {"Type": opts.log_driver or "json-file", "Config": dict(opts.log_opts)},
        "Memory": opts.memory, "PidsLimit": opts.pids_limit, "NanoCpus": opts.nano_cpus,
        "CapAdd": list(opts.cap_add) or None, "CapDrop": list(opts.cap_drop) or None,
        "Init": opts.init, "Privileged": opts.privileged,
        "SecurityOpt": list(opts.security_opt) or None, "Sysctls": dict(opts.sysctls) or None,
        "PortBindings": bindings or None, "PublishAllPorts": opts.publish_all,
        "Dns": list(opts.dns) or None, "DnsSearch": list(opts.dns_search) or None,
        "DnsOptions": list(opts.dns_options) or None,
        "ExtraHosts": list(opts.add_host) or None, "Links": list(opts.links) or None,
        "Ulimits": [u.to_api() for u in opts.ulimits] or None, "ShmSize": opts.shm_size,
        "MemorySwap": opts.memory_swap,
        "CpuShares": opts.cpu_shares, "CpusetCpus": opts.cpuset_cpus,
        "Devices": [d.to_api() for d in opts.devices] or None,
        "DeviceCgroupRules": list(opts.device_cgroup_rules) or None,
        "PidMode": opts.pid_mode, "UTSMode": opts.uts_mode, "CgroupnsMode": opts.cgroupns_mode,
        "GroupAdd": list(opts.group_add) or None, "Isolation": opts.isolation,
        "MemorySwappiness": opts.memory_swappiness,
        "IpcMode": opts.ipc_mode, "UsernsMode": opts.userns_mode,
    }
    if console is not None and opts.tty:
        host["ConsoleSize"] = console
    body: dict[str, Any] = {
        "Image": opts.image, "Cmd": list(opts.command) or None, "Env": list(opts.env),
        "WorkingDir": opts.working_dir, "User": opts.user, "Hostname": opts.hostname,
        "Labels": dict(opts.labels), "Volumes": volumes or None, "Tty": opts.tty,
        "OpenStdin": opts.interactive, "StdinOnce": opts.interactive and "stdin" in streams,
        "AttachStdin": "stdin" in streams, "AttachStdout": "stdout" in streams,
        "AttachStderr": "stderr" in streams, "StopSignal": opts.stop_signal,
        "HostConfig": host, "ExposedPorts": exposed or None,
        "Domainname": opts.domainname, "MacAddress": opts.mac_address,
    }
    if endpoint:
        net = "bridge" if opts.network in ("default", "") else opts.network
        body["NetworkingConfig"] = {"EndpointsConfig": {net: endpoint}}
    if opts.entrypoint is not None:
        body["Entrypoint"] = list(opts.entrypoint)
    if opts.stop_timeout is not None:
        body["StopTimeout"] = opts.stop_timeout
    if opts.healthcheck is not None:
        body["Healthcheck"] = dict(opts.healthcheck)
    return body


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


def run_options(body: dict[str, Any], name: str, platform: str = "") -> RunOptions:
    """``POST /containers/create``: the body (Config + HostConfig) -> RunOptions;
    ``platform``: the ``?platform=`` query parameter.

    Raises:
        InvalidParameterError: a field of the wrong type or a refused value (400).
    """
    from orlop.engine.runoptions import RunOptions
    from orlop.wire.mounts import from_api_mount

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
    # The same path in both (docker-py's volumes=['/anon']) is one anonymous volume.
    volumes += [t for t in cfg_volumes if not any(
        (v.split(":")[1:2] or [v]) == [t] for v in volumes)]
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
        # docker-py's APIClient.create_container(runtime=...) sends it beside Config's
        # fields, where dockerd ignores it (its default runtime runs the container):
        # Orlop applies it, the runtime the user asked for (docs/differences.md).
        "runtime": field_str(host, "Runtime", "HostConfig.") or field_str(body, "Runtime"),
        "volumes": volumes,
        "mount_specs": mount_specs, "tmpfs": tmpfs,
        "volumes_from": list(field_str_list(host, "VolumesFrom", "HostConfig.") or []),
        "volume_driver": field_str(host, "VolumeDriver", "HostConfig."),
        "container_id_file": field_str(host, "ContainerIDFile", "HostConfig."),
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
        "healthcheck": _healthcheck(body.get("Healthcheck")),
        "log_opts": field_str_map(field_object(host, "LogConfig", "HostConfig."), "Config",
                                  "HostConfig.LogConfig."),
    }
    optional.update(_host_options(host, platform))
    refuse_unapplied(host)
    known = set(RunOptions._fields)
    kwargs.update({k: v for k, v in optional.items() if k in known})
    kwargs.update(_network_options(body, host, network))
    return RunOptions(**kwargs)


def _host_options(host: dict[str, Any], platform: str) -> dict[str, Any]:
    """Ulimits, ShmSize, CPU, devices, namespaces modes, GroupAdd, VolumeDriver and the log
    driver: typed as moby's HostConfig declares them; the engine checks the values."""
    from orlop.engine.containers.hostopts import check_cgroup_rule
    from orlop.engine.runoptions import DeviceMapping, Ulimit

    where = "HostConfig."
    ulimits = []
    for item in _object_list(host, "Ulimits", "[]*units.Ulimit"):
        ulimits.append(Ulimit(field_str(item, "Name", where + "Ulimits."),
                              field_int(item, "Soft", where + "Ulimits."),
                              field_int(item, "Hard", where + "Ulimits.")))
    devices = []
    for item in _object_list(host, "Devices", "[]container.DeviceMapping"):
        src = field_str(item, "PathOnHost", where + "Devices.")
        devices.append(DeviceMapping(
            src, field_str(item, "PathInContainer", where + "Devices.") or src,
            field_str(item, "CgroupPermissions", where + "Devices.") or "rwm"))
    rules = [check_cgroup_rule(r)
             for r in field_str_list(host, "DeviceCgroupRules", where) or []]
    log = field_object(host, "LogConfig", where)
    return {
        "ulimits": ulimits, "devices": devices, "device_cgroup_rules": rules,
        "shm_size": field_int(host, "ShmSize", where),
        "memory_swap": field_int(host, "MemorySwap", where),
        "cpu_shares": field_int(host, "CpuShares", where),
        "cpuset_cpus": field_str(host, "CpusetCpus", where),
        "pid_mode": field_str(host, "PidMode", where),
        "uts_mode": field_str(host, "UTSMode", where),
        "cgroupns_mode": field_str(host, "CgroupnsMode", where),
        "group_add": list(field_str_list(host, "GroupAdd", where) or []),
        "isolation": field_str(host, "Isolation", where),
        # refuse_unapplied let only the values Orlop's containers are: kept as given
        "ipc_mode": field_str(host, "IpcMode", where),
        "userns_mode": field_str(host, "UsernsMode", where),
        # -1 is what the docker CLI sends when the flag is not given: unset.
        "memory_swappiness": None if host.get("MemorySwappiness") in (None, -1)
        else field_int(host, "MemorySwappiness", where),
        "log_driver": field_str(log, "Type", where + "LogConfig.") or "json-file",
        "platform": platform,
    }


# HostConfig fields Orlop does not apply, with the values that mean "not asked for" (the
# docker CLI, docker-py and compose send these): anything else is refused, never dropped.
_UNAPPLIED: dict[str, tuple[object, ...]] = {
    "Annotations": ({},),  # API 1.43 (OCI annotations)
    "OomScoreAdj": (0,), "CpuPeriod": (0,), "CpuQuota": (0,), "CpuRealtimePeriod": (0,),
    "CpuRealtimeRuntime": (0,), "CpusetMems": ("",), "BlkioWeight": (0,),
    "BlkioWeightDevice": ([],), "BlkioDeviceReadBps": ([],), "BlkioDeviceWriteBps": ([],),
    "BlkioDeviceReadIOps": ([],), "BlkioDeviceWriteIOps": ([],), "MemoryReservation": (0,),
    "KernelMemory": (0,), "KernelMemoryTCP": (0,),
    "OomKillDisable": (False,), "CpuCount": (0,), "CpuPercent": (0,),
    "IOMaximumIOps": (0,), "IOMaximumBandwidth": (0,), "CgroupParent": ("",),
    "IpcMode": ("", "private", "shareable"), "UsernsMode": ("", "host"), "Cgroup": ("",),
    "DeviceRequests": ([],),
    "StorageOpt": ({},),
}


def refuse_unapplied(host: dict[str, Any]) -> None:
    """Nothing silently accepted (issue 15): a HostConfig field Orlop does not apply is
    refused when it asks for something, with the field's name."""
    from orlop.errors import UnsupportedError

    for key, defaults in _UNAPPLIED.items():
        value = host.get(key)
        if value is None or any(value == d and type(value) is type(d) for d in defaults):
            continue
        raise UnsupportedError(f"HostConfig.{key}={json_text(value)} is not supported by Orlop")


def endpoint_request(network: str, cfg: dict[str, Any], where: str) -> EndpointRequest:
    """One ``EndpointSettings`` (a create's NetworkingConfig entry, a connect's
    EndpointConfig) as the engine takes it: the addresses asked for (dockerd 20.10's
    checks and texts), aliases, MAC, link-local addresses and driver options.
    ``Links`` are read by the callers and applied by engine/net/links.py."""
    import ipaddress

    from orlop.network.model import EndpointRequest

    ipam = field_object(cfg, "IPAMConfig", where)
    at = where + "IPAMConfig."
    ip, ip6 = field_str(ipam, "IPv4Address", at), field_str(ipam, "IPv6Address", at)
    for text, version in ((ip, 4), (ip6, 6)):
        try:
            ok = not text or ipaddress.ip_address(text).version == version
        except ValueError:
            ok = False
        if not ok:
            raise InvalidParameterError(f"invalid IPv{version} address: {text}")
    return EndpointRequest(
        network=network, ip=ip, ip6=ip6,
        aliases=tuple(field_str_list(cfg, "Aliases", where) or ()),
        mac=field_str(cfg, "MacAddress", where),
        link_local_ips=tuple(field_str_list(ipam, "LinkLocalIPs", at) or ()),
        driver_opts=field_str_map(cfg, "DriverOpts", where))


def json_text(value: object) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


def _object_list(host: dict[str, Any], key: str, go_type: str) -> list[dict[str, Any]]:
    value = host.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InvalidParameterError("json: cannot unmarshal into Go struct field "
                                    f"HostConfig.{key} of type {go_type}")
    return value


def _network_options(body: dict[str, Any], host: dict[str, Any], mode: str
                     ) -> dict[str, Any]:
    """Ports, DNS, hosts and the endpoints of ``NetworkingConfig.EndpointsConfig``."""
    from orlop.network.model import EndpointExtras
    from orlop.network.ports import check_bindings

    exposed = field_object(body, "ExposedPorts")
    endpoints = field_object(field_object(body, "NetworkingConfig"), "EndpointsConfig",
                             "NetworkingConfig.")
    primary = "bridge" if mode == "default" else mode
    ip, ip6, aliases, extra, extras = "", "", [], {}, {}
    link_local: list[str] = []
    driver_opts: dict[str, str] = {}
    links: dict[str, list[str]] = {}
    # API 1.44 moved --mac-address into the endpoint (the docker CLI >= 25 sends it there)
    mac = field_str(body, "MacAddress")
    for name, cfg in endpoints.items():
        if not isinstance(cfg, dict):
            cfg = {}
        req = endpoint_request(name, cfg, f"NetworkingConfig.EndpointsConfig.{name}.")
        ep_links = list(field_str_list(cfg, "Links",
                                       f"NetworkingConfig.EndpointsConfig.{name}.") or [])
        if ep_links:
            links[name] = ep_links
        if name == primary or name == mode:
            ip, ip6, aliases = req.ip, req.ip6, list(req.aliases)
            link_local, driver_opts = list(req.link_local_ips), dict(req.driver_opts)
            mac = req.mac or mac
        else:
            extra[name] = (req.ip, req.aliases)
            if req.ip6 or req.link_local_ips or req.driver_opts:
                extras[name] = EndpointExtras(req.ip6, req.link_local_ips, req.driver_opts)
    return {
        "port_bindings": check_bindings(host.get("PortBindings")),
        "publish_all": field_bool(host, "PublishAllPorts", "HostConfig."),
        "exposed_ports": {str(k): {} for k in exposed},
        "dns": list(field_str_list(host, "Dns", "HostConfig.") or []),
        "dns_search": list(field_str_list(host, "DnsSearch", "HostConfig.") or []),
        "dns_options": list(field_str_list(host, "DnsOptions", "HostConfig.") or []),
        "add_host": list(field_str_list(host, "ExtraHosts", "HostConfig.") or []),
        "domainname": field_str(body, "Domainname"),
        "mac_address": mac,
        "ip": ip, "network_aliases": aliases, "extra_networks": extra,
        "ip6": ip6, "link_local_ips": link_local, "endpoint_driver_opts": driver_opts,
        "extra_endpoints": extras,
        "links": list(field_str_list(host, "Links", "HostConfig.") or []),
        "endpoint_links": links,
    }


def _healthcheck(body: Any) -> Any:
    """engine/containers/health.py's parser, imported when a body is parsed: importing it
    pulls in the engine package, which the CLI's local backend must not pay for at start."""
    from orlop.engine.containers.health import from_api

    return from_api(body)
