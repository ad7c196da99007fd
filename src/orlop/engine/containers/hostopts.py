"""The host options of ``run``/``create`` beyond mounts and networks (``--ulimit``,
``--device``, ``--device-cgroup-rule``, ``--pid``, ``--uts``, ``--cgroupns``,
``--platform``, ``--group-add``, ``--shm-size``, ``--cpu-shares``, ``--cpuset-cpus``,
``--log-driver``, ``--runtime``): parsed and checked with Docker's rules and texts, so each
is either applied as Docker applies it or refused before anything is created.

Pure but for ``stat`` of a device and reading the host's CPU list: the CLI and orlopd's
wire layer parse with the same functions, and the engine checks the typed result.
"""

from __future__ import annotations

import os
import re
import stat

from orlop.engine.runoptions import DeviceMapping, Ulimit
from orlop.errors import InvalidParameterError, NotFoundError, UnsupportedError

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from orlop.engine.runoptions import RunOptions

# go-units ulimitNameMapping: the names --ulimit knows, and their setrlimit resource.
ULIMIT_NAMES = {
    "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA",
    "fsize": "RLIMIT_FSIZE", "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK",
    "msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE",
    "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
    "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK",
}
LOG_DRIVERS = ("json-file", "local", "none")
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
_CGROUP_RULE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")


def parse_ulimit(text: str) -> Ulimit:
    """go-units ParseUlimit: ``name=soft[:hard]`` (hard defaults to soft)."""
    name, sep, values = text.partition("=")
    if not sep:
        raise InvalidParameterError(f"invalid ulimit argument: {text}")
    if name not in ULIMIT_NAMES:
        raise InvalidParameterError(f"invalid ulimit type: {name}")
    soft_text, sep, hard_text = values.partition(":")
    try:
        soft = int(soft_text)
        hard = int(hard_text) if sep else soft
    except ValueError:
        bad = hard_text if sep and soft_text.lstrip("-").isdigit() else soft_text
        raise InvalidParameterError(
            f'invalid ulimit value: strconv.ParseInt: parsing "{bad}": invalid syntax'
        ) from None
    if hard != -1 and soft > hard:
        raise InvalidParameterError(
            f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return Ulimit(name, soft, hard)


def _valid_mode(mode: str) -> bool:
    return bool(mode) and len(mode) <= 3 and all(c in "rwm" for c in mode) \
        and len(set(mode)) == len(mode)


def parse_device(text: str) -> DeviceMapping:
    """docker/cli parseDevice: ``host[:container][:perms]`` (perms of ``rwm``)."""
    parts = text.split(":")
    src, dst, perms = parts[0], "", "rwm"
    if len(parts) == 3:
        if not _valid_mode(parts[2]):
            raise InvalidParameterError(f"bad mode specified: {parts[2]}")
        dst, perms = parts[1], parts[2]
    elif len(parts) == 2:
        if _valid_mode(parts[1]):
            perms = parts[1]
        else:
            dst = parts[1]
    elif len(parts) != 1:
        raise InvalidParameterError(f"invalid device specification: {text}")
    dst = dst or src
    if not dst.startswith("/"):
        raise InvalidParameterError(f"{dst} is not an absolute path")
    return DeviceMapping(src, dst, perms)


def check_device(dev: DeviceMapping) -> os.stat_result:
    """The daemon's check: the host path must be a device node (a directory of devices,
    which Docker expands, is refused: name the nodes)."""
    try:
        st = os.stat(dev.path_on_host)
    except OSError as err:
        raise NotFoundError(
            "error gathering device information while adding custom device "
            f'"{dev.path_on_host}": {(err.strerror or str(err)).lower()}') from None
    if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        if stat.S_ISDIR(st.st_mode):
            raise UnsupportedError(
                f'--device "{dev.path_on_host}": a directory of devices is not supported '
                "by Orlop; name each device")
        raise InvalidParameterError(
            "error gathering device information while adding custom device "
            f'"{dev.path_on_host}": not a device node')
    return st


def check_cgroup_rule(rule: str) -> str:
    """docker/cli ValidateDeviceCgroupRule."""
    if not _CGROUP_RULE.match(rule):
        raise InvalidParameterError(f"invalid device cgroup format '{rule}'")
    return rule


def parse_cpuset(text: str) -> set[int]:
    """``0-2,4``: the CPU numbers (moby's parsers.ParseUintList)."""
    out: set[int] = set()
    for part in text.split(","):
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise InvalidParameterError(f"Invalid value {text} for cpuset cpus")
        a, b = int(lo), int(hi) if sep else int(lo)
        if b < a:
            raise InvalidParameterError(f"Invalid value {text} for cpuset cpus")
        out.update(range(a, b + 1))
    return out


def host_cpus() -> str:
    """The CPUs this host has online (``0-1``), as the cpuset check names them."""
    try:
        with open("/sys/devices/system/cpu/online") as f:
            return f.read().strip()
    except OSError:
        return f"0-{(os.cpu_count() or 1) - 1}"


def check_cpuset(text: str) -> None:
    if not text:
        return
    wanted = parse_cpuset(text)
    if not wanted <= parse_cpuset(host_cpus()):
        raise InvalidParameterError(
            f"Requested CPUs are not available - requested {text}, available: {host_cpus()}")


def check_platform(wanted: str, image_ref: str, image_os: str, image_arch: str) -> None:
    """``--platform``: Orlop runs an image on its own platform only (no emulation), as a
    dockerd with a local image of another platform refuses it."""
    if not wanted:
        return
    parts = wanted.lower().split("/")
    os_name = parts[0]
    arch = parts[1] if len(parts) > 1 else ""
    arch = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64"}.get(arch, arch)
    if os_name != image_os or (arch and arch != image_arch):
        actual = f"{image_os}/{image_arch}"
        raise NotFoundError(
            f"image with reference {image_ref} was found but does not match the specified "
            f"platform: wanted {wanted}, actual: {actual}")


def check_swappiness(value: int) -> None:
    """moby's range check; a cgroup v2 host has no per-cgroup swappiness, where dockerd
    drops the value with a warning: refused here, never dropped."""
    if not 0 <= value <= 100:
        raise InvalidParameterError(
            f"Invalid value: {value}, valid memory swappiness range is 0-100")
    from orlop.engine.containers.cgroups import unified_only

    if unified_only():
        raise UnsupportedError("MemorySwappiness: cgroup v2 has no memory swappiness "
                               "(dockerd discards it with a warning)")


def validate_host_options(opts: RunOptions) -> None:
    """Everything of this module that the engine checks before creating anything."""
    if opts.log_driver not in LOG_DRIVERS:
        raise NotFoundError(f"error looking up logging plugin {opts.log_driver}: "
                            f'plugin "{opts.log_driver}" not found')
    if opts.log_driver == "none" and opts.log_opts:
        raise InvalidParameterError(
            f"unknown log opt '{next(iter(opts.log_opts))}' for none log driver")
    if opts.isolation.lower() not in ("", "default"):
        raise InvalidParameterError(  # moby's verifyPlatformContainerSettings
            f"Invalid isolation: \"{opts.isolation}\" - linux only supports 'default'")
    if opts.memory_swappiness is not None:
        check_swappiness(opts.memory_swappiness)
    if opts.shm_size < 0:
        raise InvalidParameterError("SHM size can not be less than 0")
    if opts.cpu_shares < 0:
        raise InvalidParameterError("invalid CPU shares: the value cannot be negative")
    if 0 < opts.cpu_shares < 2:
        # runc's text, at create rather than at start (Orlop never makes a container that
        # cannot start).
        raise InvalidParameterError("the minimum allowed cpu-shares is 2")
    for u in opts.ulimits:
        if u.name not in ULIMIT_NAMES:
            raise InvalidParameterError(f"invalid ulimit type: {u.name}")
    check_cpuset(opts.cpuset_cpus)
    for dev in opts.devices:
        check_device(dev)
    for rule in opts.device_cgroup_rules:
        check_cgroup_rule(rule)
    if opts.pid_mode not in ("", "host"):
        if opts.pid_mode.startswith("container:"):
            raise UnsupportedError("--pid container:<name> is not supported by Orlop")
        raise InvalidParameterError("--pid: invalid PID mode")
    if opts.uts_mode not in ("", "host"):
        raise InvalidParameterError("--uts: invalid UTS mode")
    if opts.cgroupns_mode not in ("", "host", "private"):
        raise InvalidParameterError("--cgroupns: invalid CGROUP mode")
    if opts.uts_mode == "host" and opts.hostname:
        raise InvalidParameterError("conflicting options: hostname and the UTS mode")


def check_runtime(name: str) -> None:
    """``--runtime`` / ``HostConfig.Runtime``: the built-in runtime, runc or crun when
    installed, or a path to an OCI runtime; any other name is refused with dockerd's
    text."""
    if name in ("", "orlop") or "/" in name:
        return
    import shutil

    if name in ("runc", "crun") and shutil.which(name):
        return
    raise InvalidParameterError(f"Unknown runtime specified {name}")
