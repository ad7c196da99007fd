"""The engine's domain objects: what a container is, as stored and as asked for."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


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
    network: str = "none"
    interactive: bool = False
    tty: bool = False
    auto_remove: bool = False
    runtime: str = ""
    volumes: list[str] = field(default_factory=list)  # raw -v specs
    mounts: list[str] = field(default_factory=list)  # raw --mount specs
    tmpfs: list[str] = field(default_factory=list)  # raw --tmpfs specs
    volumes_from: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    read_only: bool = False
    cwd: str = "/"  # the CLI's working directory, for -v ./rel:/x


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

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ContainerConfig:
        return cls(**json.loads(text))


@dataclass
class HostConfig:
    """Docker's `HostConfig` block, in snake_case; raw specs kept as the user typed them."""

    binds: list[str] | None
    mounts: list[dict[str, Any]] | None
    tmpfs: dict[str, str] | None
    volumes_from: list[str] | None
    network_mode: str
    auto_remove: bool
    runtime: str
    readonly_rootfs: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> HostConfig:
        return cls(**json.loads(text))


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
    status: str  # created | running | exited | dead
    pid: int
    exit_code: int
    started_at: str
    finished_at: str
    error: str
    runtime: str

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def dir_name(self) -> str:
        return self.id
