"""Docker's JSON shape for `inspect` of a container (Engine API ContainerInspectResponse)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from orlop.engine.models import Container, HostConfig
from orlop.mounts.spec import MountPoint
from orlop.wire.mounts import mount_point_json, to_api_mount

if TYPE_CHECKING:
    from orlop.engine.engine import Engine


def inspect_container(engine: Engine, ref: str, size: bool = False,
                      api: tuple[int, int] | None = None) -> dict[str, Any]:
    """``docker inspect [-s] CONTAINER`` / ``GET /containers/{id}/json[?size=1]``; with
    ``size``, Docker's ``SizeRw`` and ``SizeRootFs``; ``api``: the version asked for
    (None: Orlop's own)."""
    c = engine.get_container(ref)
    image = engine.images.get(c.image_id)
    out = container_json(engine, c, engine.mount_points(c.id),
                         engine.images.layer_dirs(image), api)
    if size:
        out.update(container_sizes(engine, c))
    return out


def container_sizes(engine: Engine, c: Container) -> dict[str, int]:
    """``SizeRw`` (the writable layer) and ``SizeRootFs`` (it plus the image)."""
    from orlop.engine.files.changes import writable_size

    rw = writable_size(engine.config, c)
    try:
        base = engine.images.get(c.image_id).size
    except Exception:
        base = 0
    return {"SizeRw": rw, "SizeRootFs": rw + base}


def container_json(engine: Engine, c: Container, mount_specs: list[dict[str, Any]],
                   lowers: list[Path], api: tuple[int, int] | None = None) -> dict[str, Any]:
    from orlop.engine.net.links import inspect_legacy

    cfg, hc = c.config, c.host_config
    image = engine.images.get(c.image_id)
    img_cfg = image.container_config
    entrypoint = cfg.entrypoint if cfg.entrypoint is not None else img_cfg.get("Entrypoint")
    cmd = cfg.cmd if cfg.cmd is not None else img_cfg.get("Cmd")
    args = [*(entrypoint or []), *(cmd or [])]
    cdir = engine.config.containers_dir / c.id
    running = c.status in ("running", "paused", "restarting")
    status = c.status
    from orlop.images.commit import config_env
    from orlop.wire.networks import network_settings

    env = config_env(img_cfg.get("Env") or [], cfg.env) or None
    return {
        "Id": c.id,
        "Created": c.created,
        "Path": args[0] if args else "",
        "Args": args[1:],
        "State": {
            "Status": status,
            "Running": running,
            "Paused": c.status == "paused",
            "Restarting": c.status == "restarting",
            "OOMKilled": c.oom_killed,
            "Dead": c.status == "dead",
            "Pid": c.pid if running else 0,
            "ExitCode": c.exit_code,
            "Error": c.error,
            "StartedAt": c.started_at,
            "FinishedAt": c.finished_at,
            **_health(engine, c),
        },
        "Image": c.image_id,
        "ResolvConfPath": str(cdir / "resolv.conf"),
        "HostnamePath": str(cdir / "hostname"),
        "HostsPath": str(cdir / "hosts"),
        "LogPath": str(cdir / f"{c.id}-json.log")
        if hc.log_config.get("Type") != "none" else "",  # dockerd: no file, no path
        "Name": "/" + c.name,
        "RestartCount": c.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": host_config_json(hc, inspect_legacy(engine, c)),
        "GraphDriver": {
            "Data": {
                "LowerDir": ":".join(str(d) for d in reversed(lowers)),
                "MergedDir": str(cdir / "rootfs"),
                "UpperDir": str(cdir / "diff"),
                "WorkDir": str(cdir / "work"),
            },
            "Name": "overlay2",
        },
        # Docker lists --tmpfs mounts in HostConfig.Tmpfs only, not in Mounts.
        "Mounts": [mount_point_json(mp) for mp in map(MountPoint.from_json, mount_specs)
                   if mp.origin != "tmpfs-flag"],
        "Config": {
            "Hostname": cfg.hostname,
            "Domainname": cfg.domainname,
            "User": cfg.user,
            "AttachStdin": cfg.open_stdin,
            "AttachStdout": True,
            "AttachStderr": True,
            "Tty": cfg.tty,
            "OpenStdin": cfg.open_stdin,
            "StdinOnce": cfg.open_stdin,
            "Env": env,
            "Cmd": cmd,
            "Image": cfg.image,
            "Volumes": cfg.volumes,
            **({"ExposedPorts": cfg.exposed_ports} if cfg.exposed_ports else {}),
            **({"MacAddress": cfg.mac_address} if cfg.mac_address else {}),
            "WorkingDir": cfg.working_dir or img_cfg.get("WorkingDir") or "",
            "Entrypoint": entrypoint,
            "OnBuild": None,
            "Labels": {**(img_cfg.get("Labels") or {}), **cfg.labels},
            **({"StopSignal": cfg.stop_signal or img_cfg.get("StopSignal")}
               if cfg.stop_signal or img_cfg.get("StopSignal") else {}),
            **({"StopTimeout": cfg.stop_timeout} if cfg.stop_timeout is not None else {}),
            **({"Healthcheck": cfg.healthcheck} if cfg.healthcheck else {}),
        },
        "NetworkSettings": network_settings(engine, c, *([api] if api else [])),
    }


def host_config_json(hc: HostConfig, links: list[str] | None = None) -> dict[str, Any]:
    """``HostConfig`` with every key dockerd 20.10 (API 1.41) gives, in its order and
    with its defaults, so templates like ``{{.HostConfig.CpuShares}}`` work; the
    resource keys Orlop has no flag for hold Docker's "unset" values.  ``links``: the
    legacy links as dockerd shows them (``/target:/this/alias``).  ``Tmpfs``,
    ``Mounts`` and ``Init`` (omitempty in moby) are always given, as before."""
    return {
        "Binds": hc.binds,
        "ContainerIDFile": hc.container_id_file,
        "LogConfig": {"Type": hc.log_config.get("Type", "json-file"),
                      "Config": hc.log_config.get("Config") or {}},
        "NetworkMode": hc.network_mode,
        "PortBindings": hc.port_bindings or {},
        "RestartPolicy": {"Name": hc.restart_policy.get("Name", "no"),
                          "MaximumRetryCount": hc.restart_policy.get("MaximumRetryCount", 0)},
        "AutoRemove": hc.auto_remove,
        "VolumeDriver": hc.volume_driver,
        "VolumesFrom": hc.volumes_from,
        "ConsoleSize": [0, 0],
        "CapAdd": hc.cap_add,
        "CapDrop": hc.cap_drop,
        "CgroupnsMode": hc.cgroupns_mode,
        "Dns": hc.dns or [],
        "DnsOptions": hc.dns_options or [],
        "DnsSearch": hc.dns_search or [],
        "ExtraHosts": hc.extra_hosts,
        "GroupAdd": hc.group_add,
        "IpcMode": hc.ipc_mode,
        "Cgroup": "",
        "Links": links,
        "OomScoreAdj": 0,
        "PidMode": hc.pid_mode,
        "Privileged": hc.privileged,
        "PublishAllPorts": hc.publish_all,
        "ReadonlyRootfs": hc.readonly_rootfs,
        "SecurityOpt": hc.security_opt,
        "Tmpfs": hc.tmpfs,
        "UTSMode": hc.uts_mode,
        "UsernsMode": hc.userns_mode,
        "ShmSize": hc.shm_size,
        # omitempty in moby's HostConfig
        **({"Sysctls": hc.sysctls} if hc.sysctls else {}),
        "Runtime": hc.runtime,
        "Isolation": hc.isolation,
        "CpuShares": hc.cpu_shares,
        "Memory": hc.memory,
        "NanoCpus": hc.nano_cpus,
        "CgroupParent": "",
        "BlkioWeight": 0,
        "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": [],
        "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": [],
        "BlkioDeviceWriteIOps": [],
        "CpuPeriod": 0,
        "CpuQuota": 0,
        "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0,
        "CpusetCpus": hc.cpuset_cpus,
        "CpusetMems": "",
        "Devices": [{k: d[k] for k in ("PathOnHost", "PathInContainer", "CgroupPermissions")}
                    for d in hc.devices],
        "DeviceCgroupRules": hc.device_cgroup_rules,
        "DeviceRequests": None,
        "MemoryReservation": 0,
        "MemorySwap": hc.memory_swap,
        "MemorySwappiness": hc.memory_swappiness,
        "OomKillDisable": False,
        "PidsLimit": hc.pids_limit,
        "Ulimits": [{k: u[k] for k in ("Name", "Hard", "Soft")} for u in hc.ulimits],
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        "Mounts": _host_mounts(hc),
        "MaskedPaths": [
            "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
            "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
            "/sys/devices/virtual/powercap"],
        "ReadonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                          "/proc/sysrq-trigger"],
        "Init": hc.init,
    }


def _host_mounts(hc: HostConfig) -> list[dict[str, Any]] | None:
    """``HostConfig.Mounts``: the ``--mount`` requests as the API carries them."""
    if hc.mounts is None:
        return hc.legacy_api_mounts
    return [to_api_mount(s) for s in hc.mounts] or None


def _health(engine: Engine, c: Container) -> dict[str, Any]:
    """``State.Health`` (moby adds it for a container with an active healthcheck)."""
    from orlop.engine.containers import health

    if not health.active(c.config.healthcheck):
        return {}
    state = health.read_state(engine.config, c.id) or {
        "Status": "starting", "FailingStreak": 0, "Log": []}
    if c.status not in ("running", "paused", "created"):
        state = {**state, "Status": "unhealthy"}  # moby's State.SetStopped
    return {"Health": {"Status": state.get("Status") or "starting",
                       "FailingStreak": int(state.get("FailingStreak") or 0),
                       "Log": list(state.get("Log") or [])}}
