"""RunOptions as the body of ``POST /containers/create``, built on the client as the
docker CLI builds it (the remote backend's half of ``run``/``create``; the server's
half is ``server/schema.run_options``)."""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orlop.engine.models import RunOptions
    from orlop.errors import OrlopError


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
    ``server/schema.run_options``, as the docker CLI builds it.  Every mount flag is
    parsed here first (Docker's CLI does; the errors are the local ones): ``-v`` with a
    source goes to ``HostConfig.Binds`` (a relative source resolved against our working
    directory), ``-v /path`` to ``Config.Volumes``, ``--mount`` to ``HostConfig.Mounts``,
    ``--tmpfs`` to ``HostConfig.Tmpfs``."""
    from orlop.mounts.parser import (
        check_duplicates,
        parse_mount_flag,
        parse_tmpfs_flag,
        parse_volume_flag,
        parse_volumes_from,
    )
    from orlop.mounts.spec import to_api_mount
    from orlop.network.ports import parse_expose, parse_publish_all

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
    mflags = [parse_mount_flag(raw, opts.cwd) for raw in opts.mounts] + list(opts.mount_specs)
    tflags = [parse_tmpfs_flag(raw) for raw in opts.tmpfs]
    check_duplicates([*vflags, *mflags, *tflags])
    for raw in opts.volumes_from:
        parse_volumes_from(raw)
    bindings = parse_publish_all(opts.publish)
    exposed: dict[str, Any] = {**parse_expose(opts.expose), **{k: {} for k in bindings}}
    endpoint: dict[str, Any] = {}
    if opts.ip:
        endpoint["IPAMConfig"] = {"IPv4Address": opts.ip}
    if opts.network_aliases:
        endpoint["Aliases"] = list(opts.network_aliases)
    tmpfs = {raw.partition(":")[0]: raw.partition(":")[2] for raw in opts.tmpfs}
    name, _, count = opts.restart.partition(":")
    if count and not count.isdigit():
        name, count = opts.restart, ""  # the engine refuses it, with its own text
    host: dict[str, Any] = {
        "Binds": binds or None, "Mounts": [to_api_mount(s) for s in mflags] or None,
        "Tmpfs": tmpfs or None, "VolumesFrom": list(opts.volumes_from) or None,
        "VolumeDriver": opts.volume_driver,
        "NetworkMode": opts.network, "AutoRemove": opts.auto_remove,
        "Runtime": opts.runtime, "ReadonlyRootfs": opts.read_only,
        "RestartPolicy": {"Name": name, "MaximumRetryCount": int(count or 0)},
        "LogConfig": {"Type": "json-file", "Config": dict(opts.log_opts)},
        "Memory": opts.memory, "PidsLimit": opts.pids_limit, "NanoCpus": opts.nano_cpus,
        "CapAdd": list(opts.cap_add) or None, "CapDrop": list(opts.cap_drop) or None,
        "Init": opts.init, "Privileged": opts.privileged,
        "SecurityOpt": list(opts.security_opt) or None, "Sysctls": dict(opts.sysctls) or None,
        "PortBindings": bindings or None, "PublishAllPorts": opts.publish_all,
        "Dns": list(opts.dns) or None, "DnsSearch": list(opts.dns_search) or None,
        "DnsOptions": list(opts.dns_options) or None,
        "ExtraHosts": list(opts.add_host) or None,
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


def start_error(err: OrlopError) -> OrlopError:
    """A failed start's exit code from its message, as the docker CLI reads it: 127 for
    a command not found, 126 for one that cannot be run, else 125."""
    from orlop.errors import RuntimeFailedError

    text = str(err)
    if "executable file not found" in text or "no such file or directory" in text:
        return RuntimeFailedError(text, 127)
    if "permission denied" in text or "is a directory" in text:
        return RuntimeFailedError(text, 126)
    return err


