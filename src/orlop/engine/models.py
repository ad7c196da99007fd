"""The engine's domain objects: what a container is, as stored and as asked for."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orlop.mounts.spec import MountSpec
    from orlop.network.model import EndpointExtras


# States in which a monitor holds the container's lock.
LIVE_STATES = frozenset({"running", "paused", "restarting"})


@dataclass(frozen=True)
class RunOptions:
    """Everything `orlop create`/`run` was asked for, after flag parsing, before validation."""

    image: str
    command: list[str] = field(default_factory=list)
    entrypoint: list[str] | None = None  # None = the image's; [] = reset (--entrypoint "")
    name: str = ""
    env: list[str] = field(default_factory=list)
    working_dir: str = ""
    user: str = ""
    hostname: str = ""
    network: str = "default"  # default (= bridge) | none | host | NAME | ID | container:NAME
    publish: list[str] = field(default_factory=list)  # raw -p specs
    publish_all: bool = False  # -P
    expose: list[str] = field(default_factory=list)  # raw --expose specs
    # Already parsed equivalents from the API (HostConfig.PortBindings, ExposedPorts)
    port_bindings: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    exposed_ports: dict[str, dict[str, Any]] = field(default_factory=dict)
    network_aliases: list[str] = field(default_factory=list)
    ip: str = ""
    mac_address: str = ""
    domainname: str = ""
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    add_host: list[str] = field(default_factory=list)
    # API NetworkingConfig.EndpointsConfig beyond the NetworkMode's: network -> (ip, aliases)
    extra_networks: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    # The NetworkMode's endpoint: --ip6, --link-local-ip, and (API) DriverOpts
    ip6: str = ""
    link_local_ips: list[str] = field(default_factory=list)
    endpoint_driver_opts: dict[str, str] = field(default_factory=dict)
    # ... and the same of the extra networks (network -> its settings), where given
    extra_endpoints: dict[str, EndpointExtras] = field(default_factory=dict)
    interactive: bool = False
    tty: bool = False
    auto_remove: bool = False
    runtime: str = ""
    volumes: list[str] = field(default_factory=list)  # raw -v specs
    # --mount, parsed once where it was given: by the CLI (mounts.parser.parse_mount_flag)
    # or, from the API's HostConfig.Mounts, by orlopd (wire.mounts.from_api_mount)
    mount_specs: list[MountSpec] = field(default_factory=list)
    tmpfs: list[str] = field(default_factory=list)  # raw --tmpfs specs
    volumes_from: list[str] = field(default_factory=list)
    volume_driver: str = ""  # --volume-driver (HostConfig.VolumeDriver): -v volumes' driver
    labels: dict[str, str] = field(default_factory=dict)
    read_only: bool = False
    cwd: str = "/"  # the CLI's working directory, for -v ./rel:/x
    container_id_file: str = ""  # --cidfile (HostConfig.ContainerIDFile): recorded only
    restart: str = ""  # --restart no|on-failure[:N]|always|unless-stopped
    log_opts: dict[str, str] = field(default_factory=dict)  # --log-opt max-size=, max-file=
    memory: int = 0  # -m, bytes; 0 = unlimited
    memory_swap: int = 0  # HostConfig.MemorySwap: memory + swap; 0 unset, -1 unlimited
    pids_limit: int = 0  # --pids-limit; 0 or -1 = unlimited
    nano_cpus: int = 0  # --cpus x 1e9
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    init: bool = False
    privileged: bool = False
    # --security-opt as sent to the engine: a seccomp=<file> is already the file's JSON
    # (the CLI reads it, as the docker CLI does)
    security_opt: list[str] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)  # --sysctl k=v
    stop_signal: str = ""
    stop_timeout: int | None = None
    # Docker's Config.Healthcheck (Test, Interval/Timeout/StartPeriod in ns, Retries);
    # None = the image's
    healthcheck: dict[str, Any] | None = None
    log_driver: str = "json-file"  # json-file | local | none (others refused at create)
    ulimits: list[Ulimit] = field(default_factory=list)  # --ulimit
    shm_size: int = 0  # --shm-size, bytes; 0 = Docker's 64 MiB
    cpu_shares: int = 0  # --cpu-shares; 0 = the kernel's default (1024)
    cpuset_cpus: str = ""  # --cpuset-cpus "0-1,3"
    devices: list[DeviceMapping] = field(default_factory=list)  # --device
    device_cgroup_rules: list[str] = field(default_factory=list)  # --device-cgroup-rule
    pid_mode: str = ""  # --pid: "" (private) | host
    uts_mode: str = ""  # --uts: "" (private) | host
    cgroupns_mode: str = ""  # --cgroupns: "" (the daemon's default) | host | private
    group_add: list[str] = field(default_factory=list)  # --group-add: names or gids
    platform: str = ""  # --platform / ?platform=: must be the image's (no emulation)
    isolation: str = ""  # HostConfig.Isolation: "" or "default" (Linux's only one)
    memory_swappiness: int | None = None  # --memory-swappiness 0..100; None = the kernel's
    # --ipc "" | private | shareable (one private IPC namespace each: Orlop has no
    # ``container:`` mode that would join a shareable one); --userns "" | host (Orlop
    # has no user namespace remapping).  Kept as given, shown by inspect.
    ipc_mode: str = ""
    userns_mode: str = ""
    # --link / HostConfig.Links ("target[:alias]"), and each endpoint's Links by network
    # name (NetworkingConfig.EndpointsConfig.N.Links): engine/net/links.py
    links: list[str] = field(default_factory=list)
    endpoint_links: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Ulimit:
    """One ``--ulimit name=soft[:hard]`` (Docker's units.Ulimit; -1 = unlimited)."""

    name: str
    soft: int
    hard: int

    def to_api(self) -> dict[str, Any]:
        return {"Name": self.name, "Hard": self.hard, "Soft": self.soft}


@dataclass(frozen=True)
class DeviceMapping:
    """One ``--device host[:container[:perms]]`` (Docker's container.DeviceMapping)."""

    path_on_host: str
    path_in_container: str
    permissions: str = "rwm"

    def to_api(self) -> dict[str, str]:
        return {"PathOnHost": self.path_on_host, "PathInContainer": self.path_in_container,
                "CgroupPermissions": self.permissions}


@dataclass
class ContainerConfig:
    """Docker's `Config` block, in snake_case."""

    hostname: str
    user: str
    env: list[str]
    cmd: list[str] | None
    entrypoint: list[str] | None
    image: str
    working_dir: str
    volumes: dict[str, dict[str, Any]] | None
    labels: dict[str, str]
    tty: bool = False
    open_stdin: bool = False
    stop_signal: str = ""  # "" = the image's, else SIGTERM
    stop_timeout: int | None = None  # None = 10 s
    exposed_ports: dict[str, dict[str, Any]] | None = None
    domainname: str = ""
    mac_address: str = ""
    healthcheck: dict[str, Any] | None = None  # merged with the image's at create

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ContainerConfig:
        return cls(**json.loads(text))


@dataclass
class HostConfig:
    """Docker's `HostConfig` block, in snake_case; raw specs kept as the user typed them
    (``-v``, ``--tmpfs``), ``--mount`` requests as their typed specs."""

    binds: list[str] | None
    mounts: list[MountSpec] | None
    tmpfs: dict[str, str] | None
    volumes_from: list[str] | None
    network_mode: str
    auto_remove: bool
    runtime: str
    readonly_rootfs: bool = False
    volume_driver: str = ""  # --volume-driver: the driver of -v volumes
    container_id_file: str = ""  # --cidfile as given (the CLI writes it; shown by inspect)
    restart_policy: dict[str, Any] = field(
        default_factory=lambda: {"Name": "no", "MaximumRetryCount": 0})
    log_config: dict[str, Any] = field(
        default_factory=lambda: {"Type": "json-file", "Config": {}})
    memory: int = 0
    memory_swap: int = 0  # memory + swap (`update --memory-swap`); 0 unset, -1 unlimited
    pids_limit: int | None = None
    nano_cpus: int = 0
    cap_add: list[str] | None = None
    cap_drop: list[str] | None = None
    init: bool | None = None
    privileged: bool = False
    security_opt: list[str] | None = None
    sysctls: dict[str, str] | None = None
    port_bindings: dict[str, list[dict[str, str]]] | None = None
    publish_all: bool = False
    dns: list[str] | None = None
    dns_search: list[str] | None = None
    dns_options: list[str] | None = None
    extra_hosts: list[str] | None = None
    # Added with issue 15 (records written before lack them: the defaults apply).
    shm_size: int = 64 * 1024 * 1024
    cpu_shares: int = 0
    cpuset_cpus: str = ""
    devices: list[dict[str, str]] = field(default_factory=list)  # Docker's DeviceMapping
    device_cgroup_rules: list[str] | None = None
    ulimits: list[dict[str, Any]] = field(default_factory=list)  # Name, Hard, Soft
    pid_mode: str = ""
    uts_mode: str = ""
    cgroupns_mode: str = "host"
    group_add: list[str] | None = None
    isolation: str = ""  # as given: "" or "default"
    memory_swappiness: int | None = None  # None: unset (Docker shows null)
    ipc_mode: str = "private"  # as given; dockerd 20.10's default-ipc-mode when not
    userns_mode: str = ""  # as given: "" or "host"
    # HostConfig.Mounts as records written before the specs were kept typed held it:
    # Docker's entries, shown as they are (never written again).
    legacy_api_mounts: list[dict[str, Any]] | None = None

    def to_json(self) -> str:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)
                               if f.name not in ("mounts", "legacy_api_mounts")}
        out["mounts"] = self.legacy_api_mounts if self.mounts is None else \
            [s.to_json() for s in self.mounts]
        return json.dumps(out, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> HostConfig:
        data = json.loads(text)
        data.pop("legacy_api_mounts", None)
        mounts = data.pop("mounts", None)
        if not mounts:  # most containers: no mount parser (3 ms of imports) for exec, ps
            return cls(mounts=mounts, **data)
        if any("Target" in m for m in mounts):  # Docker's names: an old record
            return cls(mounts=None, legacy_api_mounts=mounts, **data)
        from orlop.mounts.spec import MountSpec

        return cls(mounts=[MountSpec.from_json(m) for m in mounts], **data)


@dataclass
class Container:
    """A container as recorded in the store."""

    id: str
    name: str
    image_id: str
    image_ref: str
    created: str
    config: ContainerConfig
    host_config: HostConfig
    status: str  # created | running | paused | restarting | exited | removing | dead
    pid: int
    exit_code: int
    started_at: str
    finished_at: str
    error: str
    runtime: str
    restart_count: int = 0
    oom_killed: bool = False
    manually_stopped: bool = False

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def alive(self) -> bool:
        """Whether a monitor should be holding this container (it runs, or will again)."""
        return self.status in LIVE_STATES

    @property
    def dir_name(self) -> str:
        return self.id
