"""Facts about the host and the engine that `orlop info` and orlopd's /info both report."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orlop.engine.engine import Engine


@dataclass(frozen=True)
class SystemInfo:
    containers: int
    running: int
    paused: int
    images: int
    volumes: int
    kernel: str
    os_name: str
    arch: str
    ncpu: int
    mem_total: int
    cgroup_version: str

    @property
    def stopped(self) -> int:
        return self.containers - self.running - self.paused


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _mem_total() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def system_info(engine: Engine) -> SystemInfo:
    cs = engine.list_containers(all_=True)
    return SystemInfo(
        containers=len(cs),
        running=sum(1 for c in cs if c.status == "running"),
        paused=sum(1 for c in cs if c.status == "paused"),
        images=len(engine.images.list()),
        volumes=len(engine.volumes.list()),
        kernel=platform.release(),
        os_name=_os_name(),
        arch=platform.machine(),
        ncpu=os.cpu_count() or 1,
        mem_total=_mem_total(),
        # A unified-only host has cgroup.controllers at the root; this one is hybrid (v1).
        cgroup_version="2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1",
    )


def dir_size(path: str) -> int:
    """Apparent size below ``path``, symlinks not followed, hard links counted once."""
    from orlop.volumes.fsutil import tree_size

    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        return tree_size(fd)
    finally:
        os.close(fd)
