"""What ``orlop create``/``run`` (and the API's create) was asked for: ``RunOptions``.

A module of its own, apart from the stored container (engine/models.py), so that the verbs
that only read containers (``exec``, ``ps``, ``inspect``, ``logs``) never import it.  A
record (orlop/records.py), not a frozen dataclass: creating this 71-field dataclass cost
3 to 4 ms of every ``run``.  A field is added in four places: ``_fields``, the
annotations, ``__init__``'s parameters (keyword: every caller names them) and its
``_set``; a ``None`` default of a list or dict field stands for a new empty one.
"""

from __future__ import annotations

from orlop.records import FrozenRecord

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any

    from orlop.mounts.spec import MountSpec
    from orlop.network.model import EndpointExtras


class RunOptions(FrozenRecord):
    """Everything `orlop create`/`run` was asked for, after flag parsing, before validation."""

    _fields = ("image", "command", "entrypoint", "name", "env", "working_dir", "user",
               "hostname", "network", "publish", "publish_all", "expose", "port_bindings",
               "exposed_ports", "network_aliases", "ip", "mac_address", "domainname", "dns",
               "dns_search", "dns_options", "add_host", "extra_networks", "ip6",
               "link_local_ips", "endpoint_driver_opts", "extra_endpoints", "interactive",
               "tty", "auto_remove", "runtime", "volumes", "mount_specs", "tmpfs",
               "volumes_from", "volume_driver", "labels", "read_only", "cwd",
               "container_id_file", "restart", "log_opts", "memory", "memory_swap",
               "pids_limit", "nano_cpus", "cap_add", "cap_drop", "init", "privileged",
               "security_opt", "sysctls", "stop_signal", "stop_timeout", "healthcheck",
               "log_driver", "ulimits", "shm_size", "cpu_shares", "cpuset_cpus", "devices",
               "device_cgroup_rules", "pid_mode", "uts_mode", "cgroupns_mode", "group_add",
               "platform", "isolation", "memory_swappiness", "ipc_mode", "userns_mode",
               "links", "endpoint_links")
    __slots__ = _fields
    image: str
    command: list[str]
    entrypoint: list[str] | None  # None = the image's; [] = reset (--entrypoint "")
    name: str
    env: list[str]
    working_dir: str
    user: str
    hostname: str
    network: str  # default (= bridge) | none | host | NAME | ID | container:NAME
    publish: list[str]  # raw -p specs
    publish_all: bool  # -P
    expose: list[str]  # raw --expose specs
    # Already parsed equivalents from the API (HostConfig.PortBindings, ExposedPorts)
    port_bindings: dict[str, list[dict[str, str]]]
    exposed_ports: dict[str, dict[str, Any]]
    network_aliases: list[str]
    ip: str
    mac_address: str
    domainname: str
    dns: list[str]
    dns_search: list[str]
    dns_options: list[str]
    add_host: list[str]
    # API NetworkingConfig.EndpointsConfig beyond the NetworkMode's: network -> (ip, aliases)
    extra_networks: dict[str, tuple[str, tuple[str, ...]]]
    # The NetworkMode's endpoint: --ip6, --link-local-ip, and (API) DriverOpts
    ip6: str
    link_local_ips: list[str]
    endpoint_driver_opts: dict[str, str]
    # ... and the same of the extra networks (network -> its settings), where given
    extra_endpoints: dict[str, EndpointExtras]
    interactive: bool
    tty: bool
    auto_remove: bool
    runtime: str
    volumes: list[str]  # raw -v specs
    # --mount, parsed once where it was given: by the CLI (mounts.parser.parse_mount_flag)
    # or, from the API's HostConfig.Mounts, by orlopd (wire.mounts.from_api_mount)
    mount_specs: list[MountSpec]
    tmpfs: list[str]  # raw --tmpfs specs
    volumes_from: list[str]
    volume_driver: str  # --volume-driver (HostConfig.VolumeDriver): -v volumes' driver
    labels: dict[str, str]
    read_only: bool
    cwd: str  # the CLI's working directory, for -v ./rel:/x
    container_id_file: str  # --cidfile (HostConfig.ContainerIDFile): recorded only
    restart: str  # --restart no|on-failure[:N]|always|unless-stopped
    log_opts: dict[str, str]  # --log-opt max-size=, max-file=
    memory: int  # -m, bytes; 0 = unlimited
    memory_swap: int  # HostConfig.MemorySwap: memory + swap; 0 unset, -1 unlimited
    pids_limit: int  # --pids-limit; 0 or -1 = unlimited
    nano_cpus: int  # --cpus x 1e9
    cap_add: list[str]
    cap_drop: list[str]
    init: bool
    privileged: bool
    # --security-opt as sent to the engine: a seccomp=<file> is already the file's JSON
    # (the CLI reads it, as the docker CLI does)
    security_opt: list[str]
    sysctls: dict[str, str]  # --sysctl k=v
    stop_signal: str
    stop_timeout: int | None
    # Docker's Config.Healthcheck (Test, Interval/Timeout/StartPeriod in ns, Retries);
    # None = the image's
    healthcheck: dict[str, Any] | None
    log_driver: str  # json-file | local | none (others refused at create)
    ulimits: list[Ulimit]  # --ulimit
    shm_size: int  # --shm-size, bytes; 0 = Docker's 64 MiB
    cpu_shares: int  # --cpu-shares; 0 = the kernel's default (1024)
    cpuset_cpus: str  # --cpuset-cpus "0-1,3"
    devices: list[DeviceMapping]  # --device
    device_cgroup_rules: list[str]  # --device-cgroup-rule
    pid_mode: str  # --pid: "" (private) | host
    uts_mode: str  # --uts: "" (private) | host
    cgroupns_mode: str  # --cgroupns: "" (the daemon's default) | host | private
    group_add: list[str]  # --group-add: names or gids
    platform: str  # --platform / ?platform=: must be the image's (no emulation)
    isolation: str  # HostConfig.Isolation: "" or "default" (Linux's only one)
    memory_swappiness: int | None  # --memory-swappiness 0..100; None = the kernel's
    # --ipc "" | private | shareable (one private IPC namespace each: Orlop has no
    # ``container:`` mode that would join a shareable one); --userns "" | host (Orlop
    # has no user namespace remapping).  Kept as given, shown by inspect.
    ipc_mode: str
    userns_mode: str
    # --link / HostConfig.Links ("target[:alias]"), and each endpoint's Links by network
    # name (NetworkingConfig.EndpointsConfig.N.Links): engine/net/links.py
    links: list[str]
    endpoint_links: dict[str, list[str]]

    def __init__(
        self,
        image: str,
        command: list[str] | None = None,
        entrypoint: list[str] | None = None,
        name: str = "",
        env: list[str] | None = None,
        working_dir: str = "",
        user: str = "",
        hostname: str = "",
        network: str = "default",
        publish: list[str] | None = None,
        publish_all: bool = False,
        expose: list[str] | None = None,
        port_bindings: dict[str, list[dict[str, str]]] | None = None,
        exposed_ports: dict[str, dict[str, Any]] | None = None,
        network_aliases: list[str] | None = None,
        ip: str = "",
        mac_address: str = "",
        domainname: str = "",
        dns: list[str] | None = None,
        dns_search: list[str] | None = None,
        dns_options: list[str] | None = None,
        add_host: list[str] | None = None,
        extra_networks: dict[str, tuple[str, tuple[str, ...]]] | None = None,
        ip6: str = "",
        link_local_ips: list[str] | None = None,
        endpoint_driver_opts: dict[str, str] | None = None,
        extra_endpoints: dict[str, EndpointExtras] | None = None,
        interactive: bool = False,
        tty: bool = False,
        auto_remove: bool = False,
        runtime: str = "",
        volumes: list[str] | None = None,
        mount_specs: list[MountSpec] | None = None,
        tmpfs: list[str] | None = None,
        volumes_from: list[str] | None = None,
        volume_driver: str = "",
        labels: dict[str, str] | None = None,
        read_only: bool = False,
        cwd: str = "/",
        container_id_file: str = "",
        restart: str = "",
        log_opts: dict[str, str] | None = None,
        memory: int = 0,
        memory_swap: int = 0,
        pids_limit: int = 0,
        nano_cpus: int = 0,
        cap_add: list[str] | None = None,
        cap_drop: list[str] | None = None,
        init: bool = False,
        privileged: bool = False,
        security_opt: list[str] | None = None,
        sysctls: dict[str, str] | None = None,
        stop_signal: str = "",
        stop_timeout: int | None = None,
        healthcheck: dict[str, Any] | None = None,
        log_driver: str = "json-file",
        ulimits: list[Ulimit] | None = None,
        shm_size: int = 0,
        cpu_shares: int = 0,
        cpuset_cpus: str = "",
        devices: list[DeviceMapping] | None = None,
        device_cgroup_rules: list[str] | None = None,
        pid_mode: str = "",
        uts_mode: str = "",
        cgroupns_mode: str = "",
        group_add: list[str] | None = None,
        platform: str = "",
        isolation: str = "",
        memory_swappiness: int | None = None,
        ipc_mode: str = "",
        userns_mode: str = "",
        links: list[str] | None = None,
        endpoint_links: dict[str, list[str]] | None = None,
    ) -> None:
        self._set(
            image=image,
            command=[] if command is None else command,
            entrypoint=entrypoint,
            name=name,
            env=[] if env is None else env,
            working_dir=working_dir,
            user=user,
            hostname=hostname,
            network=network,
            publish=[] if publish is None else publish,
            publish_all=publish_all,
            expose=[] if expose is None else expose,
            port_bindings={} if port_bindings is None else port_bindings,
            exposed_ports={} if exposed_ports is None else exposed_ports,
            network_aliases=[] if network_aliases is None else network_aliases,
            ip=ip,
            mac_address=mac_address,
            domainname=domainname,
            dns=[] if dns is None else dns,
            dns_search=[] if dns_search is None else dns_search,
            dns_options=[] if dns_options is None else dns_options,
            add_host=[] if add_host is None else add_host,
            extra_networks={} if extra_networks is None else extra_networks,
            ip6=ip6,
            link_local_ips=[] if link_local_ips is None else link_local_ips,
            endpoint_driver_opts={} if endpoint_driver_opts is None else endpoint_driver_opts,
            extra_endpoints={} if extra_endpoints is None else extra_endpoints,
            interactive=interactive,
            tty=tty,
            auto_remove=auto_remove,
            runtime=runtime,
            volumes=[] if volumes is None else volumes,
            mount_specs=[] if mount_specs is None else mount_specs,
            tmpfs=[] if tmpfs is None else tmpfs,
            volumes_from=[] if volumes_from is None else volumes_from,
            volume_driver=volume_driver,
            labels={} if labels is None else labels,
            read_only=read_only,
            cwd=cwd,
            container_id_file=container_id_file,
            restart=restart,
            log_opts={} if log_opts is None else log_opts,
            memory=memory,
            memory_swap=memory_swap,
            pids_limit=pids_limit,
            nano_cpus=nano_cpus,
            cap_add=[] if cap_add is None else cap_add,
            cap_drop=[] if cap_drop is None else cap_drop,
            init=init,
            privileged=privileged,
            security_opt=[] if security_opt is None else security_opt,
            sysctls={} if sysctls is None else sysctls,
            stop_signal=stop_signal,
            stop_timeout=stop_timeout,
            healthcheck=healthcheck,
            log_driver=log_driver,
            ulimits=[] if ulimits is None else ulimits,
            shm_size=shm_size,
            cpu_shares=cpu_shares,
            cpuset_cpus=cpuset_cpus,
            devices=[] if devices is None else devices,
            device_cgroup_rules=[] if device_cgroup_rules is None else device_cgroup_rules,
            pid_mode=pid_mode,
            uts_mode=uts_mode,
            cgroupns_mode=cgroupns_mode,
            group_add=[] if group_add is None else group_add,
            platform=platform,
            isolation=isolation,
            memory_swappiness=memory_swappiness,
            ipc_mode=ipc_mode,
            userns_mode=userns_mode,
            links=[] if links is None else links,
            endpoint_links={} if endpoint_links is None else endpoint_links,
        )


class Ulimit(FrozenRecord):
    """One ``--ulimit name=soft[:hard]`` (Docker's units.Ulimit; -1 = unlimited)."""

    _fields = ("name", "soft", "hard")
    __slots__ = _fields
    name: str
    soft: int
    hard: int

    def __init__(self, name: str, soft: int, hard: int) -> None:
        self._set(name=name, soft=soft, hard=hard)

    def to_api(self) -> dict[str, Any]:
        return {"Name": self.name, "Hard": self.hard, "Soft": self.soft}


class DeviceMapping(FrozenRecord):
    """One ``--device host[:container[:perms]]`` (Docker's container.DeviceMapping)."""

    _fields = ("path_on_host", "path_in_container", "permissions")
    __slots__ = _fields
    path_on_host: str
    path_in_container: str
    permissions: str

    def __init__(self, path_on_host: str, path_in_container: str,
                 permissions: str = "rwm") -> None:
        self._set(path_on_host=path_on_host, path_in_container=path_in_container,
                  permissions=permissions)

    def to_api(self) -> dict[str, str]:
        return {"PathOnHost": self.path_on_host, "PathInContainer": self.path_in_container,
                "CgroupPermissions": self.permissions}
