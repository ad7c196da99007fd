"""The engine's domain objects: what a container is, as stored.

What `create`/`run` is asked for (``RunOptions``) is in engine/runoptions.py: only those
verbs build it, and its 71-field frozen dataclass costs ~4 ms to create at import."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orlop.mounts.spec import MountSpec


# States in which a monitor holds the container's lock.
LIVE_STATES = frozenset({"running", "paused", "restarting"})


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
