"""``stats`` and ``update``: a container's resource figures and limits, as Docker serves them.

Stats are read from the container's cgroup (engine/containers/cgroups.py, v1 or v2) into Docker's
``StatsJSON`` (``GET /containers/{id}/stats``), with the host's CPU time from
``/proc/stat`` as moby computes ``system_cpu_usage``.  A sample carries the previous one
as ``precpu_stats``/``preread``, from which a client computes CPU %.  A container that is
not running, or has no cgroup (a foreground run without limits), gets Docker's empty
stats of a stopped container: name and id, zeros elsewhere.

Update changes the limits in the container's stored HostConfig (a later start applies
them) and, when it runs, in its cgroup; on any failure nothing is changed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orlop.engine import store
from orlop.engine.timefmt import ZERO_TIME
from orlop.errors import (
    ContainerStateError,
    InvalidParameterError,
    OrlopError,
    SystemFailureError,
)

if TYPE_CHECKING:
    from pathlib import Path

    from orlop.engine.containers.cgroups import Usage
    from orlop.engine.models import Container
    from orlop.engine.services import Services

INTERVAL = 1.0  # seconds between two samples of a stream (moby's collector)
# blkio_stats fields cgroup v1's throttle counters do not give us: null, as moby sends them.
_BLKIO_OTHER = ("io_serviced_recursive", "io_queue_recursive", "io_service_time_recursive",
                "io_wait_time_recursive", "io_merged_recursive", "io_time_recursive",
                "sectors_recursive")
_NS = 1_000_000_000


def _clock_ticks() -> int:
    try:
        return int(os.sysconf("SC_CLK_TCK")) or 100
    except (ValueError, OSError):
        return 100


def system_cpu_usage() -> int:
    """The host's CPU time in ns: user..softirq of /proc/stat's ``cpu`` line (moby's
    getSystemCPUUsage)."""
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("cpu "):
                    ticks = sum(int(x) for x in line.split()[1:8])
                    return ticks * _NS // _clock_ticks()
    except (OSError, ValueError):
        pass
    return 0


def online_cpus() -> int:
    try:
        return int(os.sysconf("SC_NPROCESSORS_ONLN"))
    except (ValueError, OSError):
        return os.cpu_count() or 1


def machine_memory() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _rfc3339_ns(ns: int) -> str:
    secs, frac = divmod(ns, _NS)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def _empty_cpu() -> dict[str, Any]:
    return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0,
                          "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


def empty_stats(c: Container) -> dict[str, Any]:
    """Docker's answer for a container that is not running: only name and id set."""
    blkio = dict.fromkeys(("io_service_bytes_recursive", *_BLKIO_OTHER))
    return {"name": "/" + c.name, "id": c.id, "read": ZERO_TIME, "preread": ZERO_TIME,
            "pids_stats": {}, "blkio_stats": blkio, "num_procs": 0, "storage_stats": {},
            "cpu_stats": _empty_cpu(), "precpu_stats": _empty_cpu(), "memory_stats": {}}


def _cpu_stats(u: Usage, system: int) -> dict[str, Any]:
    usage: dict[str, Any] = {"total_usage": u.cpu_total, "usage_in_kernelmode": u.cpu_kernel,
                             "usage_in_usermode": u.cpu_user}
    if u.percpu:
        usage["percpu_usage"] = u.percpu
    periods, throttled, throttled_ns = u.throttling
    return {"cpu_usage": usage, "system_cpu_usage": system, "online_cpus": online_cpus(),
            "throttling_data": {"periods": periods, "throttled_periods": throttled,
                                "throttled_time": throttled_ns}}


def parse_net_dev(text: str) -> dict[str, dict[str, int]]:
    """``/proc/PID/net/dev`` as moby's ``networks``: per interface but ``lo``."""
    out: dict[str, dict[str, int]] = {}
    for line in text.splitlines()[2:]:  # two heading lines
        name, sep, rest = line.partition(":")
        name = name.strip()
        f = rest.split()
        if not sep or name == "lo" or len(f) < 12:
            continue
        # receive: bytes packets errs drop fifo frame compressed multicast; transmit: ...
        rx, tx = [int(x) for x in f[:4]], [int(x) for x in f[8:12]]
        out[name] = {"rx_bytes": rx[0], "rx_packets": rx[1], "rx_errors": rx[2],
                     "rx_dropped": rx[3], "tx_bytes": tx[0], "tx_packets": tx[1],
                     "tx_errors": tx[2], "tx_dropped": tx[3]}
    return out


def network_stats(c: Container) -> dict[str, dict[str, int]]:
    """The interfaces of the container's own network namespace, read through its init
    process; none for ``host`` or ``container:`` (moby omits ``networks`` then, and when
    the sandbox has no interface, as with ``none``)."""
    mode = c.host_config.network_mode
    if mode == "host" or mode.startswith("container:") or c.pid <= 0:
        return {}
    try:
        with open(f"/proc/{c.pid}/net/dev") as f:
            return parse_net_dev(f.read())
    except OSError:
        return {}


def sample(run_root: Path, c: Container) -> dict[str, Any] | None:
    """One reading of a running container's cgroup in Docker's shape (without the
    ``pre`` fields); None when it is not running or has no cgroup."""
    from orlop.engine.containers.cgroups import Cgroup
    from orlop.engine.containers.procio import is_locked

    if c.status not in ("running", "paused") or not is_locked(run_root, c.id):
        return None
    cg = Cgroup(c.id)
    if not cg.exists():
        return None
    now = time.time_ns()
    u = cg.usage()
    system = system_cpu_usage()
    limit = u.memory_limit
    host = machine_memory()
    if not limit or (host and limit > host):
        limit = host  # moby: a container without a limit is limited by the machine
    memory: dict[str, Any] = {"usage": u.memory_usage, "stats": u.memory_stats or {},
                              "limit": limit}
    if not cg.v2:
        memory.update(max_usage=u.memory_max_usage, failcnt=u.memory_failcnt)
    pids: dict[str, Any] = {"current": u.pids_current}
    if u.pids_limit:
        pids["limit"] = u.pids_limit
    blkio: dict[str, Any] = dict.fromkeys(_BLKIO_OTHER)
    blkio["io_service_bytes_recursive"] = None if u.blkio is None else [
        {"major": ma, "minor": mi, "op": op, "value": v} for ma, mi, op, v in u.blkio]
    out = {"read": _rfc3339_ns(now), "preread": ZERO_TIME, "pids_stats": pids,
           "blkio_stats": dict(sorted(blkio.items())), "num_procs": 0,
           "storage_stats": {}, "cpu_stats": _cpu_stats(u, system),
           "precpu_stats": _empty_cpu(), "memory_stats": memory,
           "name": "/" + c.name, "id": c.id}
    nets = network_stats(c)
    if nets:
        out["networks"] = nets
    return out


class StatsReader:
    """moby ``ContainerStats`` as steps: each :meth:`step` takes one sample; the caller
    sleeps :data:`INTERVAL` between steps (a thread here, the event loop in orlopd).

    While ``stream``, every step gives an object; else one object, after a first
    sample that primes ``precpu_stats`` unless ``one_shot``.  The stream ends when the
    container is removed."""

    def __init__(self, cid: str, *, stream: bool = True, one_shot: bool = False) -> None:
        self.cid = cid
        self.stream = stream
        self.one_shot = one_shot
        self._pre: dict[str, Any] | None = None
        self._primed = False

    def step(self, engine: Services) -> tuple[dict[str, Any] | None, bool]:
        """(the object to send or None, whether the stream is over)."""
        with engine.db.read() as conn:
            c = store.get_by_id(conn, self.cid)
        if c is None:
            return None, True
        cur = sample(engine.config.run_root, c)
        if cur is None:
            self._pre = None
            return empty_stats(c), not self.stream
        out = dict(cur)
        if self._pre is not None:
            out["precpu_stats"], out["preread"] = self._pre["cpu_stats"], self._pre["read"]
        self._pre = cur
        if not self.stream and not self.one_shot and not self._primed:
            self._primed = True
            return None, False
        return out, not self.stream


def stats_stream(engine: Services, cid: str, *, stream: bool = True, one_shot: bool = False,
                 sleep: Callable[[float], None] = time.sleep) -> Iterator[dict[str, Any]]:
    """:class:`StatsReader` as a generator, for the local CLI."""
    reader = StatsReader(cid, stream=stream, one_shot=one_shot)
    while True:
        out, done = reader.step(engine)
        if out is not None:
            yield out
        if done:
            return
        sleep(INTERVAL)


# --- update ---------------------------------------------------------------------------


@dataclass(frozen=True)
class UpdateOptions:
    """What ``update`` changes; None = unchanged (Docker's zero values)."""

    memory: int | None = None
    memory_swap: int | None = None  # -1 = unlimited
    pids_limit: int | None = None  # 0 or negative = unlimited
    nano_cpus: int | None = None
    restart_policy: dict[str, Any] | None = None
    cpu_shares: int | None = None
    cpuset_cpus: str | None = None

    @property
    def empty(self) -> bool:
        return self == UpdateOptions()


def _int_field(body: Mapping[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameterError(
            f"json: cannot unmarshal {type(value).__name__} into Go struct field "
            f"UpdateConfig.{key} of type int64")
    return value


# UpdateConfig's resources that update does not apply: refused unless at their zero
# value (the docker CLI sends every field, zeros for the flags not given).
_NOT_UPDATED = ("BlkioWeight", "CpuPeriod", "CpuQuota", "CpuRealtimePeriod",
                "CpuRealtimeRuntime", "CpusetMems", "MemoryReservation", "KernelMemory",
                "KernelMemoryTCP", "CpuCount", "CpuPercent")


def update_from_wire(body: Mapping[str, Any]) -> UpdateOptions:
    """The API's UpdateConfig body (``Memory``, ``MemorySwap``, ``PidsLimit``,
    ``NanoCpus``, ``CpuShares``, ``CpusetCpus``, ``RestartPolicy``); Docker's zero values
    mean "unchanged"; a resource update does not apply is refused, not ignored."""
    from orlop.errors import UnsupportedError

    for key in _NOT_UPDATED:
        if body.get(key):
            raise UnsupportedError(f"update of {key} is not supported by Orlop")
    memory, swap = _int_field(body, "Memory"), _int_field(body, "MemorySwap")
    nano = _int_field(body, "NanoCpus")
    pids = _int_field(body, "PidsLimit")
    shares = _int_field(body, "CpuShares")
    cpuset = body.get("CpusetCpus")
    if cpuset is not None and not isinstance(cpuset, str):
        raise InvalidParameterError(
            f"json: cannot unmarshal {type(cpuset).__name__} into Go struct field "
            "UpdateConfig.CpusetCpus of type string")
    policy = body.get("RestartPolicy")
    restart = None
    if isinstance(policy, Mapping) and policy.get("Name"):
        count = policy.get("MaximumRetryCount") or 0
        if not isinstance(count, int) or isinstance(count, bool):
            raise InvalidParameterError("invalid RestartPolicy.MaximumRetryCount")
        restart = {"Name": str(policy["Name"]), "MaximumRetryCount": count}
    elif policy is not None and not isinstance(policy, Mapping):
        raise InvalidParameterError("invalid RestartPolicy: expected an object")
    return UpdateOptions(memory=memory or None, memory_swap=swap or None,
                         pids_limit=pids, nano_cpus=nano or None, restart_policy=restart,
                         cpu_shares=shares or None, cpuset_cpus=cpuset or None)


def _validate(c: Container, o: UpdateOptions) -> None:
    """moby verifyPlatformContainerResources (update=true) and UpdateContainer's checks,
    with Docker's texts."""
    if o.memory is not None and o.memory < 6 * 1024 * 1024:
        raise InvalidParameterError("Minimum memory limit allowed is 6MB")
    memory = o.memory if o.memory is not None else c.host_config.memory
    if o.memory_swap is not None and o.memory_swap > 0 and memory > 0 and \
            o.memory_swap < memory:
        raise InvalidParameterError(
            "Minimum memoryswap limit should be larger than memory limit, see usage")
    if o.memory_swap is not None and o.memory_swap > 0 and memory <= 0:
        raise InvalidParameterError(
            "You should always set the Memory limit when using Memoryswap limit, see usage")
    if o.memory is not None and o.memory_swap is None and \
            0 < c.host_config.memory_swap < o.memory:
        raise InvalidParameterError(
            f"Cannot update container {c.id}: Memory limit should be smaller than already "
            "set memoryswap limit, update the memoryswap at the same time")
    if o.nano_cpus is not None:
        ncpu = os.cpu_count() or 1
        if o.nano_cpus < 0 or o.nano_cpus > ncpu * _NS:
            raise InvalidParameterError(
                f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs "
                "available")
    if o.cpu_shares is not None and o.cpu_shares < 0:
        raise InvalidParameterError("invalid CPU shares: the value cannot be negative")
    if o.cpu_shares is not None and o.cpu_shares < 2:
        raise InvalidParameterError("the minimum allowed cpu-shares is 2")
    if o.cpuset_cpus is not None:
        from orlop.engine.containers.hostopts import check_cpuset

        check_cpuset(o.cpuset_cpus)
    if o.restart_policy is not None:
        name, count = o.restart_policy["Name"], o.restart_policy["MaximumRetryCount"]
        if name not in ("no", "always", "on-failure", "unless-stopped"):
            raise InvalidParameterError(f"invalid restart policy '{name}'")
        if count and name != "on-failure":
            raise InvalidParameterError(
                f"maximum retry count cannot be used with restart policy '{name}'")
        if count < 0:
            raise InvalidParameterError("maximum retry count cannot be negative")
        if name != "no" and c.host_config.auto_remove:
            raise InvalidParameterError(
                f"Cannot update container {c.id}: Restart policy cannot be updated because "
                "AutoRemove is enabled for the container")


def update_container(engine: Services, ref: str, opts: UpdateOptions) -> dict[str, Any]:
    """``docker update``: the stored HostConfig, then the live cgroup; Docker's answer
    ``{"Warnings": [...]}``.  A refusal of the kernel restores the stored config."""
    from orlop.engine.containers.cgroups import Cgroup
    from orlop.engine.containers.procio import is_locked

    c = engine.get_container(ref)
    _validate(c, opts)
    hc = c.host_config
    new = hc.replace(
        memory=opts.memory if opts.memory is not None else hc.memory,
        memory_swap=opts.memory_swap if opts.memory_swap is not None else hc.memory_swap,
        pids_limit=(opts.pids_limit if opts.pids_limit > 0 else None)
        if opts.pids_limit is not None else hc.pids_limit,
        nano_cpus=opts.nano_cpus if opts.nano_cpus is not None else hc.nano_cpus,
        cpu_shares=opts.cpu_shares if opts.cpu_shares is not None else hc.cpu_shares,
        cpuset_cpus=opts.cpuset_cpus if opts.cpuset_cpus is not None else hc.cpuset_cpus,
        restart_policy=opts.restart_policy or hc.restart_policy)
    warnings: list[str] = []
    with engine.db.write() as conn:
        cur = store.get_by_id(conn, c.id)
        if cur is None or cur.status == "removing":
            raise ContainerStateError(
                f'Cannot update container {c.id}: container is marked for removal and '
                'cannot be "update"')
        store.set_host_config(conn, c.id, new)
    live = cur.status in ("running", "paused") and is_locked(engine.config.run_root, c.id)
    limits = (opts.memory, opts.memory_swap, opts.pids_limit, opts.nano_cpus,
              opts.cpu_shares, opts.cpuset_cpus)
    if live and any(v is not None for v in limits):
        try:
            cg = Cgroup(c.id)
            if not cg.exists():
                raise ContainerStateError(
                    "the container runs without a cgroup (started in the foreground "
                    "without limits): its limits can change once it is stopped")
            cg.update(memory=opts.memory, memory_swap=opts.memory_swap,
                      pids_limit=opts.pids_limit, nano_cpus=opts.nano_cpus,
                      cpu_shares=opts.cpu_shares, cpuset_cpus=opts.cpuset_cpus)
        except OrlopError as err:
            engine.containers.set_host_config(c.id, hc)
            raise SystemFailureError(f"Cannot update container {c.id}: {err}") from None
    engine.events.container(c, "update")
    return {"Warnings": warnings}
