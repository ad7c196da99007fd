"""A container's cgroups: limits (-m, --pids-limit, --cpus), freezing, OOM and cleanup.

Two layouts are handled:

* cgroup v2 alone (``/sys/fs/cgroup/cgroup.controllers`` exists): one directory
  ``/sys/fs/cgroup/orlop/<id>`` with memory.max, pids.max, cpu.max, cgroup.freeze,
  cgroup.kill.
* v1 controllers (this project's hosts: hybrid mode): one directory per controller,
  ``/sys/fs/cgroup/<memory|pids|cpu|freezer|blkio>/orlop/<id>``, plus one in the v2 mount at
  ``/sys/fs/cgroup/unified`` when there is one: it has no controllers but gives
  ``cgroup.kill`` and an exact list of the container's processes, so that an orphaned
  container (its monitor killed) can be found and killed without trusting a pid.
  Its ``cpu.stat`` also gives the CPU time that ``stats`` reports (v2 accounts CPU time in
  every cgroup, controller or not); without a v2 mount, ``cpuacct`` is joined for it.

``usage()`` reads what ``stats`` shows (CPU, memory, pids, block I/O) from whichever
layout there is, and ``update()`` changes the limits of a running container (``update``).

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
from pathlib import Path

from orlop.errors import RuntimeFailedError
from orlop.records import FrozenRecord, Record

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "orlop"
V1_CONTROLLERS = ("memory", "pids", "cpu", "freezer", "blkio")
CPU_PERIOD_US = 100_000
USER_HZ = 100  # the unit of cpuacct.stat (Linux's USER_HZ is 100 on every architecture)
_V1_UNLIMITED = 1 << 62  # memory.limit_in_bytes of "no limit" is PAGE_COUNTER_MAX pages


class Resources(FrozenRecord):
    _fields = ("memory", "pids_limit", "nano_cpus", "memory_swap", "cpu_shares",
               "cpuset_cpus", "memory_swappiness")
    __slots__ = _fields
    memory: int  # bytes; 0 = unlimited
    pids_limit: int  # 0 or negative = unlimited
    nano_cpus: int  # 1e9 = one CPU
    memory_swap: int  # memory + swap, bytes; 0 = the kernel's default, -1 = unlimited
    cpu_shares: int  # --cpu-shares (v1 cpu.shares; v2 cpu.weight); 0 = the default
    cpuset_cpus: str  # --cpuset-cpus "0-1"; "" = every CPU
    memory_swappiness: int  # 0..100 (v1 memory.swappiness); -1 = the kernel's

    def __init__(self, memory: int = 0, pids_limit: int = 0, nano_cpus: int = 0,
                 memory_swap: int = 0, cpu_shares: int = 0, cpuset_cpus: str = "",
                 memory_swappiness: int = -1) -> None:
        self._set(memory=memory, pids_limit=pids_limit, nano_cpus=nano_cpus,
                  memory_swap=memory_swap, cpu_shares=cpu_shares, cpuset_cpus=cpuset_cpus,
                  memory_swappiness=memory_swappiness)


class Usage(Record):
    """What ``stats`` reports of one container, in Docker's units (ns, bytes)."""

    _fields = ("cpu_total", "cpu_user", "cpu_kernel", "percpu", "throttling",
               "memory_usage", "memory_max_usage", "memory_limit", "memory_failcnt",
               "memory_stats", "pids_current", "pids_limit", "blkio")
    __slots__ = _fields
    cpu_total: int
    cpu_user: int
    cpu_kernel: int
    percpu: list[int] | None
    throttling: tuple[int, int, int]  # periods, throttled periods, ns
    memory_usage: int
    memory_max_usage: int  # v1 only
    memory_limit: int  # 0: none (the caller puts the host's memory)
    memory_failcnt: int
    memory_stats: dict[str, int] | None
    pids_current: int
    pids_limit: int  # 0: none
    blkio: list[tuple[int, int, str, int]] | None  # major, minor, op, bytes

    def __init__(self, cpu_total: int = 0, cpu_user: int = 0, cpu_kernel: int = 0,
                 percpu: list[int] | None = None,
                 throttling: tuple[int, int, int] = (0, 0, 0), memory_usage: int = 0,
                 memory_max_usage: int = 0, memory_limit: int = 0, memory_failcnt: int = 0,
                 memory_stats: dict[str, int] | None = None, pids_current: int = 0,
                 pids_limit: int = 0,
                 blkio: list[tuple[int, int, str, int]] | None = None) -> None:
        self.cpu_total = cpu_total
        self.cpu_user = cpu_user
        self.cpu_kernel = cpu_kernel
        self.percpu = percpu
        self.throttling = throttling
        self.memory_usage = memory_usage
        self.memory_max_usage = memory_max_usage
        self.memory_limit = memory_limit
        self.memory_failcnt = memory_failcnt
        self.memory_stats = memory_stats
        self.pids_current = pids_current
        self.pids_limit = pids_limit
        self.blkio = blkio


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
            elif (root / "cpuacct" / "cgroup.procs").exists() and \
                    not (root / "cpu" / "cpuacct.usage").exists():
                self.dirs["cpuacct"] = root / "cpuacct" / PARENT / container_id
            # cpuset only for --cpuset-cpus (a new v1 cpuset cgroup has no CPUs at all)
            if (root / "cpuset" / PARENT / container_id).is_dir():
                self.dirs["cpuset"] = root / "cpuset" / PARENT / container_id

    # --- creation -------------------------------------------------------------

    def create(self, res: Resources) -> None:
        """Make the directories and write the limits; on failure nothing is left."""
        try:
            if self.v2:
                self._enable_v2_controllers(cpuset=bool(res.cpuset_cpus))
            elif res.cpuset_cpus:
                self._make_v1_cpuset()
            for d in self.dirs.values():
                d.mkdir(parents=True, exist_ok=True)
            self._apply(res)
        except OSError as err:
            self.destroy()
            raise RuntimeFailedError(
                f"cannot set up the container's cgroup: {err.strerror or err} "
                f"({err.filename or ''})") from None

    def _make_v1_cpuset(self) -> None:
        """The v1 cpuset directory (parent first), each given its parent's CPUs and memory
        nodes, without which the kernel refuses any process in it."""
        base = self.root / "cpuset"
        if not (base / "cgroup.procs").exists():
            raise RuntimeFailedError(
                "cannot apply the limit: the cpuset cgroup controller is not available")
        prev = base
        for d in (base / PARENT, base / PARENT / self.id):
            d.mkdir(exist_ok=True)
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not (d / name).read_text().strip():
                    _write(d / name, (prev / name).read_text().strip())
            prev = d
        self.dirs["cpuset"] = base / PARENT / self.id

    def _enable_v2_controllers(self, cpuset: bool = False) -> None:
        parent = self.root / PARENT
        parent.mkdir(exist_ok=True)
        wanted = {"memory", "pids", "cpu", *(["cpuset"] if cpuset else [])}
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
        if res.memory_swappiness >= 0:  # v1 only (create refuses it on v2)
            _write(need("memory", "memory.swappiness") / "memory.swappiness",
                   str(res.memory_swappiness))
        if res.memory_swap:
            self._write_swap(need("memory", "memory.max"), res.memory_swap, res.memory)
        if res.cpu_shares > 0:
            if self.v2:  # runc's conversion of shares [2, 262144] to weight [1, 10000]
                weight = 1 + ((res.cpu_shares - 2) * 9999) // 262142
                _write(need("cpu", "cpu.weight") / "cpu.weight", str(weight))
            else:
                _write(need("cpu", "") / "cpu.shares", str(res.cpu_shares))
        if res.cpuset_cpus:
            d = self.dirs.get("unified" if self.v2 else "cpuset")
            if d is None or not (d / "cpuset.cpus").exists():
                raise RuntimeFailedError(
                    "cannot apply the limit: the cpuset cgroup controller is not available")
            _write(d / "cpuset.cpus", res.cpuset_cpus)
        if res.nano_cpus > 0:
            quota = max(1000, res.nano_cpus * CPU_PERIOD_US // 1_000_000_000)
            if self.v2:
                _write(need("cpu", "cpu.max") / "cpu.max", f"{quota} {CPU_PERIOD_US}")
            else:
                d = need("cpu", "")
                _write(d / "cpu.cfs_period_us", str(CPU_PERIOD_US))
                _write(d / "cpu.cfs_quota_us", str(quota))

    def _write_swap(self, d: Path, memory_swap: int, memory: int) -> None:
        """``--memory-swap`` (memory + swap; -1 unlimited).  A v1 host without swap
        accounting has no memsw file: the limit is then skipped, as Docker does with
        its "Memory limited without swap" warning."""
        if self.v2:
            path = d / "memory.swap.max"
            value = "max" if memory_swap < 0 else str(max(memory_swap - memory, 0))
        else:
            path = d / "memory.memsw.limit_in_bytes"
            value = "-1" if memory_swap < 0 else str(memory_swap)
        if path.exists():
            _write(path, value)

    # --- update (``orlop update``) ----------------------------------------------------

    def update(self, memory: int | None = None, memory_swap: int | None = None,
               pids_limit: int | None = None, nano_cpus: int | None = None,
               cpu_shares: int | None = None, cpuset_cpus: str | None = None) -> None:
        """Change the limits of a live cgroup; None leaves a limit as it is, a negative
        ``pids_limit``/``memory_swap`` removes it.  v1 refuses a memory limit above the
        memory+swap one, so they are written in the order that keeps them valid (runc's).

        Raises:
            RuntimeFailedError: the kernel refused; runc's text for a memory limit below
                what the container uses (EBUSY).
        """
        mem_dir = self.dirs.get("unified" if self.v2 else "memory")
        try:
            if (memory is not None or memory_swap is not None) and mem_dir is None:
                raise RuntimeFailedError("the memory cgroup controller is not available")
            if mem_dir is not None:
                swap_first = memory_swap is not None and memory is not None and (
                    memory_swap < 0 or memory > self._limit(mem_dir))
                if memory_swap is not None and swap_first:
                    self._write_swap(mem_dir, memory_swap, memory or 0)
                if memory is not None:
                    self._write_memory(mem_dir, memory)
                if memory_swap is not None and not swap_first:
                    self._write_swap(mem_dir, memory_swap, memory or self._limit(mem_dir))
            if pids_limit is not None:
                d = self.dirs.get("unified" if self.v2 else "pids")
                if d is None or not (d / "pids.max").exists():
                    raise RuntimeFailedError("the pids cgroup controller is not available")
                _write(d / "pids.max", str(pids_limit) if pids_limit > 0 else "max")
            if cpuset_cpus is not None:
                self._join_cpuset()
            if nano_cpus is not None or cpu_shares is not None or cpuset_cpus is not None:
                self._apply(Resources(nano_cpus=nano_cpus or 0, cpu_shares=cpu_shares or 0,
                                      cpuset_cpus=cpuset_cpus or ""))
        except OSError as err:
            raise RuntimeFailedError(
                f"failed to write to {err.filename or 'the cgroup'}: "
                f"{(err.strerror or str(err)).lower()}") from None

    def _join_cpuset(self) -> None:
        """A container started without ``--cpuset-cpus`` gets its cpuset controller now:
        on v2 enabled for it; on v1 its cpuset directory made (every CPU to start with)
        and each of its processes moved in."""
        if self.v2:
            self._enable_v2_controllers(cpuset=True)
            return
        if "cpuset" in self.dirs:
            return
        pids = self.pids()
        self._make_v1_cpuset()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                _write(self.dirs["cpuset"] / "cgroup.procs", str(pid))

    def _limit(self, d: Path) -> int:
        name = "memory.max" if self.v2 else "memory.limit_in_bytes"
        return _read_int(d / name) or _V1_UNLIMITED

    def _write_memory(self, d: Path, memory: int) -> None:
        path = d / ("memory.max" if self.v2 else "memory.limit_in_bytes")
        try:
            _write(path, str(memory))
        except OSError as err:
            if err.errno != errno.EBUSY:
                raise
            usage = _read_int(d / "memory.usage_in_bytes")
            peak = _read_int(d / "memory.max_usage_in_bytes")
            raise RuntimeFailedError(
                f"unable to set memory limit to {memory} (current usage: {usage}, "
                f"peak usage: {peak})") from None

    # --- usage (``orlop stats``) -------------------------------------------------------

    def usage(self) -> Usage:
        """The container's figures now; zeros for what a layout does not give."""
        u = Usage()
        if self.v2:
            d = self.dirs["unified"]
            self._v2_cpu(d, u)
            u.memory_usage = _read_int(d / "memory.current")
            u.memory_limit = _read_int(d / "memory.max")
            u.memory_stats = _read_kv(d / "memory.stat")
            u.memory_failcnt = _read_kv(d / "memory.events").get("max", 0)
            u.pids_current = _read_int(d / "pids.current")
            u.pids_limit = _read_int(d / "pids.max")
            u.blkio = _io_stat(d / "io.stat")
            return u
        acct = self.dirs.get("cpuacct")
        cpu = self.dirs.get("cpu")
        if cpu is not None and (cpu / "cpuacct.usage").exists():
            acct = cpu  # cpu and cpuacct mounted together
        if acct is not None:
            u.cpu_total = _read_int(acct / "cpuacct.usage")
            ticks = _read_kv(acct / "cpuacct.stat")
            u.cpu_user = ticks.get("user", 0) * 1_000_000_000 // USER_HZ
            u.cpu_kernel = ticks.get("system", 0) * 1_000_000_000 // USER_HZ
            with contextlib.suppress(OSError, ValueError):
                u.percpu = [int(x) for x in
                            (acct / "cpuacct.usage_percpu").read_text().split()]
        elif "unified" in self.dirs:
            self._v2_cpu(self.dirs["unified"], u)
        if cpu is not None:
            st = _read_kv(cpu / "cpu.stat")
            u.throttling = (st.get("nr_periods", 0), st.get("nr_throttled", 0),
                            st.get("throttled_time", 0))
        mem = self.dirs.get("memory")
        if mem is not None:
            u.memory_usage = _read_int(mem / "memory.usage_in_bytes")
            u.memory_max_usage = _read_int(mem / "memory.max_usage_in_bytes")
            limit = _read_int(mem / "memory.limit_in_bytes")
            u.memory_limit = 0 if limit >= _V1_UNLIMITED else limit
            u.memory_failcnt = _read_int(mem / "memory.failcnt")
            u.memory_stats = _read_kv(mem / "memory.stat")
        pids = self.dirs.get("pids")
        if pids is not None:
            u.pids_current = _read_int(pids / "pids.current")
            u.pids_limit = _read_int(pids / "pids.max")
        blkio = self.dirs.get("blkio")
        if blkio is not None:
            u.blkio = _blkio_v1(blkio / "blkio.throttle.io_service_bytes_recursive")
        return u

    @staticmethod
    def _v2_cpu(d: Path, u: Usage) -> None:
        st = _read_kv(d / "cpu.stat")
        u.cpu_total = st.get("usage_usec", 0) * 1000
        u.cpu_user = st.get("user_usec", 0) * 1000
        u.cpu_kernel = st.get("system_usec", 0) * 1000
        u.throttling = (st.get("nr_periods", 0), st.get("nr_throttled", 0),
                        st.get("throttled_usec", 0) * 1000)

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


def _read_int(path: Path) -> int:
    """A one-number cgroup file; 0 for "max", a missing file or anything unreadable."""
    try:
        text = path.read_text().strip()
    except OSError:
        return 0
    return int(text) if text.isdigit() else 0


def _lines(path: Path) -> list[str] | None:
    """The lines of a stat file; None when it cannot be read (no such controller)."""
    try:
        return path.read_text().splitlines()
    except OSError:
        return None


def _read_kv(path: Path) -> dict[str, int]:
    """``key value`` lines (memory.stat, cpu.stat, cpuacct.stat)."""
    out: dict[str, int] = {}
    for line in _lines(path) or []:
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            out[key] = int(value)
    return out


def _blkio_v1(path: Path) -> list[tuple[int, int, str, int]] | None:
    """``8:0 Read 4096`` lines; Docker lower-cases the op only on v2, keeping v1's."""
    lines = _lines(path)
    if lines is None:
        return None
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and ":" in parts[0] and parts[2].isdigit():
            major, _, minor = parts[0].partition(":")
            out.append((int(major), int(minor), parts[1], int(parts[2])))
    return out


def _io_stat(path: Path) -> list[tuple[int, int, str, int]] | None:
    """v2 ``8:0 rbytes=1 wbytes=2 ...`` as Docker's v1-shaped entries (op read/write)."""
    lines = _lines(path)
    if lines is None:
        return None
    out = []
    for line in lines:
        dev, *fields = line.split()
        major, _, minor = dev.partition(":")
        kv = dict(f.split("=", 1) for f in fields if "=" in f)
        for key, op in (("rbytes", "read"), ("wbytes", "write")):
            if kv.get(key, "").isdigit() and major.isdigit() and minor.isdigit():
                out.append((int(major), int(minor), op, int(kv[key])))
    return out


def _write(path: Path, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)
