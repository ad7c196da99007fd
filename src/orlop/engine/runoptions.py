"""What ``orlop create``/``run`` (and the API's create) was asked for: ``RunOptions``.

A module of its own, apart from the stored container (engine/models.py), so that the verbs
that only read containers (``exec``, ``ps``, ``inspect``, ``logs``) do not build this
frozen 71-field dataclass at import (~4 ms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orlop.mounts.spec import MountSpec
    from orlop.network.model import EndpointExtras


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
