"""A container's cgroups: limits (-m, --pids-limit, --cpus), freezing, OOM and cleanup.

Two layouts are handled:

* cgroup v2 alone (``/sys/fs/cgroup/cgroup.controllers`` exists): one directory
  ``/sys/fs/cgroup/orlop/<id>`` with memory.max, pids.max, cpu.max, cgroup.freeze,
  cgroup.kill.
* v1 controllers (this project's hosts: hybrid mode): one directory per controller,
  ``/sys/fs/cgroup/<memory|pids|cpu|freezer>/orlop/<id>``, plus one in the v2 mount at
  ``/sys/fs/cgroup/unified`` when there is one: it has no controllers but gives
  ``cgroup.kill`` and an exact list of the container's processes, so that an orphaned
  container (its monitor killed) can be found and killed without trusting a pid.

Directory names are the 64-hex container id, so several Orlop roots on one host never
share a cgroup.  Writes that the kernel refuses for a controller that is not there
(a v1 host without the pids controller, say) fail the start with a clear message only
when a limit was asked for; plain containers never fail because of cgroups.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from orlop.errors import RuntimeFailedError

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "orlop"
V1_CONTROLLERS = ("memory", "pids", "cpu", "freezer")
CPU_PERIOD_US = 100_000


@dataclass(frozen=True)
class Resources:
    memory: int = 0  # bytes; 0 = unlimited
    pids_limit: int = 0  # 0 or negative = unlimited
    nano_cpus: int = 0  # 1e9 = one CPU


def unified_only(root: Path = CGROUP_ROOT) -> bool:
    return (root / "cgroup.controllers").exists()


class Cgroup:
    """The cgroup directories of one container (they may not exist yet, or any more)."""

    def __init__(self, container_id: str, root: Path = CGROUP_ROOT) -> None:
        self.id = container_id
        self.root = root
        self.v2 = unified_only(root)
        if self.v2:
            self.dirs = {"unified": root / PARENT / container_id}
        else:
            self.dirs = {c: root / c / PARENT / container_id for c in V1_CONTROLLERS
                         if (root / c / "cgroup.procs").exists()}
            if (root / "unified" / "cgroup.procs").exists():
                self.dirs["unified"] = root / "unified" / PARENT / container_id

    # --- creation -------------------------------------------------------------

    def create(self, res: Resources) -> None:
        """Make the directories and write the limits; on failure nothing is left."""
        try:
            if self.v2:
                self._enable_v2_controllers()
            for d in self.dirs.values():
                d.mkdir(parents=True, exist_ok=True)
            self._apply(res)
        except OSError as err:
            self.destroy()
            raise RuntimeFailedError(
                f"cannot set up the container's cgroup: {err.strerror or err} "
                f"({err.filename or ''})") from None

    def _enable_v2_controllers(self) -> None:
        parent = self.root / PARENT
        parent.mkdir(exist_ok=True)
        wanted = {"memory", "pids", "cpu"}
        for d in (self.root, parent):
            available = set((d / "cgroup.controllers").read_text().split())
            enabled = set((d / "cgroup.subtree_control").read_text().split())
            todo = (wanted & available) - enabled
            if todo:
                with contextlib.suppress(OSError):
                    (d / "cgroup.subtree_control").write_text(
                        " ".join("+" + c for c in sorted(todo)))

    def _apply(self, res: Resources) -> None:
        def need(ctrl: str, what: str) -> Path:
            d = self.dirs.get("unified" if self.v2 else ctrl)
            if d is None or (self.v2 and not (d / what).exists()):
                raise RuntimeFailedError(
                    f"cannot apply the limit: the {ctrl} cgroup controller is not available")
            return d

        if res.memory > 0:
            if self.v2:
                _write(need("memory", "memory.max") / "memory.max", str(res.memory))
            else:
                _write(need("memory", "") / "memory.limit_in_bytes", str(res.memory))
        if res.pids_limit > 0:
            _write(need("pids", "pids.max") / "pids.max", str(res.pids_limit))
        if res.nano_cpus > 0:
            quota = max(1000, res.nano_cpus * CPU_PERIOD_US // 1_000_000_000)
            if self.v2:
                _write(need("cpu", "cpu.max") / "cpu.max", f"{quota} {CPU_PERIOD_US}")
            else:
                d = need("cpu", "")
                _write(d / "cpu.cfs_period_us", str(CPU_PERIOD_US))
                _write(d / "cpu.cfs_quota_us", str(quota))

    def add(self, pid: int) -> None:
        """Move ``pid`` (a parked container init, or an exec'd process) in."""
        for d in self.dirs.values():
            _write(d / "cgroup.procs", str(pid))

    def procs_paths(self) -> list[Path]:
        return [d / "cgroup.procs" for d in self.dirs.values()]

    # --- queries --------------------------------------------------------------

    def pids(self) -> list[int]:
        """Every process of the container, host pids, from the most exact hierarchy."""
        for key in ("unified", "pids", "freezer", "memory", "cpu"):
            d = self.dirs.get(key)
            if d is None:
                continue
            try:
                text = (d / "cgroup.procs").read_text()
            except OSError:
                continue
            return sorted(int(p) for p in text.split())
        return []

    def exists(self) -> bool:
        return any(d.is_dir() for d in self.dirs.values())

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer killed a process of this container."""
        if self.v2:
            path = self.dirs["unified"] / "memory.events"
        elif "memory" in self.dirs:
            path = self.dirs["memory"] / "memory.oom_control"
        else:
            return False
        try:
            for line in path.read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        except (OSError, ValueError):
            pass
        return False

    # --- freezer --------------------------------------------------------------

    def freeze(self, frozen: bool) -> None:
        if self.v2:
            _write(self.dirs["unified"] / "cgroup.freeze", "1" if frozen else "0")
            return
        d = self.dirs.get("freezer")
        if d is None:
            raise RuntimeFailedError("the freezer cgroup controller is not available")
        _write(d / "freezer.state", "FROZEN" if frozen else "THAWED")
        want = "FROZEN" if frozen else "THAWED"
        deadline = time.monotonic() + 5
        while (d / "freezer.state").read_text().strip() != want:
            if time.monotonic() > deadline:
                raise RuntimeFailedError(f"the container did not become {want.lower()}")
            time.sleep(0.005)

    def frozen(self) -> bool:
        try:
            if self.v2:
                return (self.dirs["unified"] / "cgroup.freeze").read_text().strip() == "1"
            d = self.dirs.get("freezer")
            return d is not None and (d / "freezer.state").read_text().strip() != "THAWED"
        except OSError:
            return False

    # --- the end ----------------------------------------------------------------

    def kill_all(self) -> None:
        """SIGKILL every process in the container's cgroup (frozen ones too)."""
        d = self.dirs.get("unified")
        if d is not None and (d / "cgroup.kill").exists():
            with contextlib.suppress(OSError):
                _write(d / "cgroup.kill", "1")
        else:
            for _ in range(50):
                pids = self.pids()
                if not pids:
                    break
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(0.01)
        # A v1-frozen task cannot die until thawed.
        if not self.v2 and self.frozen():
            with contextlib.suppress(OSError, RuntimeFailedError):
                self.freeze(False)

    def destroy(self, timeout: float = 2.0) -> None:
        """rmdir each directory (they empty a moment after their last process is reaped)."""
        deadline = time.monotonic() + timeout
        for d in self.dirs.values():
            while True:
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as err:
                    if err.errno != errno.EBUSY or time.monotonic() > deadline:
                        break
                    time.sleep(0.01)


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)
