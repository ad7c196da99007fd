"""The engine's domain objects: what a container is, as stored.

What `create`/`run` is asked for (``RunOptions``) is in engine/runoptions.py: only those
verbs build it, and its 71-field frozen dataclass costs ~4 ms to create at import."""

from __future__ import annotations

import json

from orlop.records import Record

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any

    from orlop.mounts.spec import MountSpec


# States in which a monitor holds the container's lock.
LIVE_STATES = frozenset({"running", "paused", "restarting"})


class ContainerConfig(Record):
    """Docker's `Config` block, in snake_case."""

    _fields = ("hostname", "user", "env", "cmd", "entrypoint", "image", "working_dir",
               "volumes", "labels", "tty", "open_stdin", "stop_signal", "stop_timeout",
               "exposed_ports", "domainname", "mac_address", "healthcheck")
    __slots__ = _fields
    hostname: str
    user: str
    env: list[str]
    cmd: list[str] | None
    entrypoint: list[str] | None
    image: str
    working_dir: str
    volumes: dict[str, dict[str, Any]] | None
    labels: dict[str, str]
    tty: bool
    open_stdin: bool
    stop_signal: str  # "" = the image's, else SIGTERM
    stop_timeout: int | None  # None = 10 s
    exposed_ports: dict[str, dict[str, Any]] | None
    domainname: str
    mac_address: str
    healthcheck: dict[str, Any] | None  # merged with the image's at create

    def __init__(self, hostname: str, user: str, env: list[str], cmd: list[str] | None,
                 entrypoint: list[str] | None, image: str, working_dir: str,
                 volumes: dict[str, dict[str, Any]] | None, labels: dict[str, str],
                 tty: bool = False, open_stdin: bool = False, stop_signal: str = "",
                 stop_timeout: int | None = None,
                 exposed_ports: dict[str, dict[str, Any]] | None = None,
                 domainname: str = "", mac_address: str = "",
                 healthcheck: dict[str, Any] | None = None) -> None:
        self.hostname = hostname
        self.user = user
        self.env = env
        self.cmd = cmd
        self.entrypoint = entrypoint
        self.image = image
        self.working_dir = working_dir
        self.volumes = volumes
        self.labels = labels
        self.tty = tty
        self.open_stdin = open_stdin
        self.stop_signal = stop_signal
        self.stop_timeout = stop_timeout
        self.exposed_ports = exposed_ports
        self.domainname = domainname
        self.mac_address = mac_address
        self.healthcheck = healthcheck

    def to_json(self) -> str:
        return json.dumps({name: getattr(self, name) for name in self._fields}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ContainerConfig:
        return cls(**json.loads(text))


class HostConfig(Record):
    """Docker's `HostConfig` block, in snake_case; raw specs kept as the user typed them
    (``-v``, ``--tmpfs``), ``--mount`` requests as their typed specs."""

    _fields = ("binds", "mounts", "tmpfs", "volumes_from", "network_mode", "auto_remove",
               "runtime", "readonly_rootfs", "volume_driver", "container_id_file",
               "restart_policy", "log_config", "memory", "memory_swap", "pids_limit",
               "nano_cpus", "cap_add", "cap_drop", "init", "privileged", "security_opt",
               "sysctls", "port_bindings", "publish_all", "dns", "dns_search",
               "dns_options", "extra_hosts", "shm_size", "cpu_shares", "cpuset_cpus",
               "devices", "device_cgroup_rules", "ulimits", "pid_mode", "uts_mode",
               "cgroupns_mode", "group_add", "isolation", "memory_swappiness",
               "ipc_mode", "userns_mode", "legacy_api_mounts")
    __slots__ = _fields
    binds: list[str] | None
    mounts: list[MountSpec] | None
    tmpfs: dict[str, str] | None
    volumes_from: list[str] | None
    network_mode: str
    auto_remove: bool
    runtime: str
    readonly_rootfs: bool
    volume_driver: str  # --volume-driver: the driver of -v volumes
    container_id_file: str  # --cidfile as given (the CLI writes it; shown by inspect)
    restart_policy: dict[str, Any]
    log_config: dict[str, Any]
    memory: int
    memory_swap: int  # memory + swap (`update --memory-swap`); 0 unset, -1 unlimited
    pids_limit: int | None
    nano_cpus: int
    cap_add: list[str] | None
    cap_drop: list[str] | None
    init: bool | None
    privileged: bool
    security_opt: list[str] | None
    sysctls: dict[str, str] | None
    port_bindings: dict[str, list[dict[str, str]]] | None
    publish_all: bool
    dns: list[str] | None
    dns_search: list[str] | None
    dns_options: list[str] | None
    extra_hosts: list[str] | None
    # Added with issue 15 (records written before lack them: the defaults apply).
    shm_size: int
    cpu_shares: int
    cpuset_cpus: str
    devices: list[dict[str, str]]  # Docker's DeviceMapping
    device_cgroup_rules: list[str] | None
    ulimits: list[dict[str, Any]]  # Name, Hard, Soft
    pid_mode: str
    uts_mode: str
    cgroupns_mode: str
    group_add: list[str] | None
    isolation: str  # as given: "" or "default"
    memory_swappiness: int | None  # None: unset (Docker shows null)
    ipc_mode: str  # as given; dockerd 20.10's default-ipc-mode ("private") when not
    userns_mode: str  # as given: "" or "host"
    # HostConfig.Mounts as records written before the specs were kept typed held it:
    # Docker's entries, shown as they are (never written again).
    legacy_api_mounts: list[dict[str, Any]] | None

    def __init__(self, binds: list[str] | None, mounts: list[MountSpec] | None,
                 tmpfs: dict[str, str] | None, volumes_from: list[str] | None,
                 network_mode: str, auto_remove: bool, runtime: str,
                 readonly_rootfs: bool = False, volume_driver: str = "",
                 container_id_file: str = "", restart_policy: dict[str, Any] | None = None,
                 log_config: dict[str, Any] | None = None, memory: int = 0,
                 memory_swap: int = 0, pids_limit: int | None = None, nano_cpus: int = 0,
                 cap_add: list[str] | None = None, cap_drop: list[str] | None = None,
                 init: bool | None = None, privileged: bool = False,
                 security_opt: list[str] | None = None,
                 sysctls: dict[str, str] | None = None,
                 port_bindings: dict[str, list[dict[str, str]]] | None = None,
                 publish_all: bool = False, dns: list[str] | None = None,
                 dns_search: list[str] | None = None, dns_options: list[str] | None = None,
                 extra_hosts: list[str] | None = None, shm_size: int = 64 * 1024 * 1024,
                 cpu_shares: int = 0, cpuset_cpus: str = "",
                 devices: list[dict[str, str]] | None = None,
                 device_cgroup_rules: list[str] | None = None,
                 ulimits: list[dict[str, Any]] | None = None, pid_mode: str = "",
                 uts_mode: str = "", cgroupns_mode: str = "host",
                 group_add: list[str] | None = None, isolation: str = "",
                 memory_swappiness: int | None = None, ipc_mode: str = "private",
                 userns_mode: str = "",
                 legacy_api_mounts: list[dict[str, Any]] | None = None) -> None:
        self.binds = binds
        self.mounts = mounts
        self.tmpfs = tmpfs
        self.volumes_from = volumes_from
        self.network_mode = network_mode
        self.auto_remove = auto_remove
        self.runtime = runtime
        self.readonly_rootfs = readonly_rootfs
        self.volume_driver = volume_driver
        self.container_id_file = container_id_file
        self.restart_policy = ({"Name": "no", "MaximumRetryCount": 0} if restart_policy is None
                               else restart_policy)
        self.log_config = ({"Type": "json-file", "Config": {}} if log_config is None
                           else log_config)
        self.memory = memory
        self.memory_swap = memory_swap
        self.pids_limit = pids_limit
        self.nano_cpus = nano_cpus
        self.cap_add = cap_add
        self.cap_drop = cap_drop
        self.init = init
        self.privileged = privileged
        self.security_opt = security_opt
        self.sysctls = sysctls
        self.port_bindings = port_bindings
        self.publish_all = publish_all
        self.dns = dns
        self.dns_search = dns_search
        self.dns_options = dns_options
        self.extra_hosts = extra_hosts
        self.shm_size = shm_size
        self.cpu_shares = cpu_shares
        self.cpuset_cpus = cpuset_cpus
        self.devices = [] if devices is None else devices
        self.device_cgroup_rules = device_cgroup_rules
        self.ulimits = [] if ulimits is None else ulimits
        self.pid_mode = pid_mode
        self.uts_mode = uts_mode
        self.cgroupns_mode = cgroupns_mode
        self.group_add = group_add
        self.isolation = isolation
        self.memory_swappiness = memory_swappiness
        self.ipc_mode = ipc_mode
        self.userns_mode = userns_mode
        self.legacy_api_mounts = legacy_api_mounts

    def to_json(self) -> str:
        out: dict[str, Any] = {name: getattr(self, name) for name in self._fields
                               if name not in ("mounts", "legacy_api_mounts")}
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


class Container(Record):
    """A container as recorded in the store."""

    _fields = ("id", "name", "image_id", "image_ref", "created", "config", "host_config",
               "status", "pid", "exit_code", "started_at", "finished_at", "error",
               "runtime", "restart_count", "oom_killed", "manually_stopped")
    __slots__ = _fields
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
    restart_count: int
    oom_killed: bool
    manually_stopped: bool

    def __init__(self, id: str, name: str, image_id: str, image_ref: str, created: str,
                 config: ContainerConfig, host_config: HostConfig, status: str, pid: int,
                 exit_code: int, started_at: str, finished_at: str, error: str,
                 runtime: str, restart_count: int = 0, oom_killed: bool = False,
                 manually_stopped: bool = False) -> None:
        self.id = id
        self.name = name
        self.image_id = image_id
        self.image_ref = image_ref
        self.created = created
        self.config = config
        self.host_config = host_config
        self.status = status
        self.pid = pid
        self.exit_code = exit_code
        self.started_at = started_at
        self.finished_at = finished_at
        self.error = error
        self.runtime = runtime
        self.restart_count = restart_count
        self.oom_killed = oom_killed
        self.manually_stopped = manually_stopped

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
