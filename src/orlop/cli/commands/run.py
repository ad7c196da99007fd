"""`orlop run` and `orlop create`: Docker's flags, Docker's exit codes."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable

from orlop.cli.context import Context, Parser, UsageError
from orlop.cli.envfile import env_file, env_options

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any, TypeVar

    T = TypeVar("T")

# Every flag of run/create works through orlopd too (cli/backend/containers.py).
REMOTE = frozenset({"run", "create"})


# The docker CLI's (28) run/create flags for settings Orlop does not apply: (flag, metavar,
# Docker's help, the field it sets, the values that ask for nothing).  Given with any other
# value they are refused, naming the field (orlopd refuses the same fields from the API:
# wire/create.py, engine/containers/health.py), never dropped.
_REFUSED: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    ("--annotation", "map", "Add an annotation to the container (passed through to the OCI "
     "runtime)", "HostConfig.Annotations", ()),
    ("--blkio-weight", "uint16", "Block IO (relative weight), between 10 and 1000, or 0 to "
     "disable (default 0)", "HostConfig.BlkioWeight", ("0",)),
    ("--blkio-weight-device", "list", "Block IO weight (relative device weight)",
     "HostConfig.BlkioWeightDevice", ()),
    ("--cgroup-parent", "string", "Optional parent cgroup for the container",
     "HostConfig.CgroupParent", ("",)),
    ("--cpu-count", "int", "CPU count (Windows only)", "HostConfig.CpuCount", ("0",)),
    ("--cpu-percent", "int", "CPU percent (Windows only)", "HostConfig.CpuPercent", ("0",)),
    ("--cpu-period", "int", "Limit CPU CFS (Completely Fair Scheduler) period",
     "HostConfig.CpuPeriod", ("0",)),
    ("--cpu-quota", "int", "Limit CPU CFS (Completely Fair Scheduler) quota",
     "HostConfig.CpuQuota", ("0",)),
    ("--cpu-rt-period", "int", "Limit CPU real-time period in microseconds",
     "HostConfig.CpuRealtimePeriod", ("0",)),
    ("--cpu-rt-runtime", "int", "Limit CPU real-time runtime in microseconds",
     "HostConfig.CpuRealtimeRuntime", ("0",)),
    ("--cpuset-mems", "string", "MEMs in which to allow execution (0-3, 0,1)",
     "HostConfig.CpusetMems", ("",)),
    ("--device-read-bps", "list", "Limit read rate (bytes per second) from a device",
     "HostConfig.BlkioDeviceReadBps", ()),
    ("--device-read-iops", "list", "Limit read rate (IO per second) from a device",
     "HostConfig.BlkioDeviceReadIOps", ()),
    ("--device-write-bps", "list", "Limit write rate (bytes per second) to a device",
     "HostConfig.BlkioDeviceWriteBps", ()),
    ("--device-write-iops", "list", "Limit write rate (IO per second) to a device",
     "HostConfig.BlkioDeviceWriteIOps", ()),
    ("--gpus", "gpu-request", "GPU devices to add to the container ('all' to pass all GPUs)",
     "HostConfig.DeviceRequests", ()),
    ("--health-start-interval", "duration", "Time between running the check during the "
     "start period (ms|s|m|h) (default 0s)", "Healthcheck.StartInterval", ("0", "0s")),
    ("--io-maxbandwidth", "bytes", "Maximum IO bandwidth limit for the system drive "
     "(Windows only)", "HostConfig.IOMaximumBandwidth", ("0",)),
    ("--io-maxiops", "uint", "Maximum IOps limit for the system drive (Windows only)",
     "HostConfig.IOMaximumIOps", ("0",)),
    ("--ipc", "string", "IPC mode to use (Orlop: private)", "HostConfig.IpcMode",
     ("", "private", "shareable")),
    ("--kernel-memory", "bytes", "Kernel memory limit", "HostConfig.KernelMemory", ("0",)),
    ("--memory-reservation", "bytes", "Memory soft limit", "HostConfig.MemoryReservation",
     ("0",)),
    ("--oom-score-adj", "int", "Tune host's OOM preferences (-1000 to 1000)",
     "HostConfig.OomScoreAdj", ("0",)),
    ("--storage-opt", "list", "Storage driver options for the container",
     "HostConfig.StorageOpt", ()),
    ("--userns", "string", "User namespace to use (Orlop: host)", "HostConfig.UsernsMode",
     ("", "host")),
)
# Boolean flags of the docker CLI's run/create Orlop does not apply: (flag, Docker's help,
# its default, what setting the other value would ask for).  Go's flag package takes
# ``--flag`` or ``--flag=value`` only (never the next word), so the ``=value`` forms are
# option strings of their own (hidden from --help).
_REFUSED_BOOLS: tuple[tuple[str, str, bool, str], ...] = (
    ("--disable-content-trust", "Skip image verification (default true)", True,
     "content trust"),
    ("--oom-kill-disable", "Disable OOM Killer", False, "HostConfig.OomKillDisable"),
    ("--use-api-socket", "Bind mount Docker API socket and required auth", False,
     "no API socket in containers"),
)
_SIG_PROXY = ("--sig-proxy", "Proxy received signals to the process (default true)", True,
              "signals are always proxied")
GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
            "0": False, "f": False, "F": False, "FALSE": False, "false": False,
            "False": False}


class _GoBoolValue(argparse.Action):
    """``--flag=value`` of a Go bool flag: the value is in the option string itself."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        setattr(namespace, self.dest, GO_BOOLS[(option_string or "=").partition("=")[2]])


def go_bool_flag(p: Parser, flag: str, help_text: str, default: bool) -> None:
    """A boolean flag as the docker CLI parses one: ``--flag`` is true, ``--flag=false``
    (any of Go's ParseBool words) sets the value, the next word is never taken."""
    dest = flag.lstrip("-").replace("-", "_")
    p.add_argument(flag, dest=dest, action="store_const", const=True, default=default,
                   help=help_text)
    p.add_argument(*(f"{flag}={v}" for v in GO_BOOLS), dest=dest, action=_GoBoolValue,
                   nargs=0, help=argparse.SUPPRESS)


def _add_refused(p: Parser, name: str) -> None:
    for flag, metavar, help_text, _field, _neutral in _REFUSED:
        p.add_argument(flag, action="append", default=[], metavar=metavar, help=help_text)
    for flag, help_text, default, _what in (*_REFUSED_BOOLS,
                                             *((_SIG_PROXY,) if name == "run" else ())):
        go_bool_flag(p, flag, help_text, default)


def _refuse_unapplied(args: argparse.Namespace) -> None:
    """Issue 15: a flag Orlop does not apply is refused when it asks for anything."""
    for flag, _metavar, _help, field, neutral in _REFUSED:
        for value in getattr(args, flag.lstrip("-").replace("-", "_")):
            if value in neutral:
                continue
            if flag == "--userns":
                raise UsageError("--userns: invalid USER mode")  # the docker CLI's check
            raise UsageError(f"{flag} {value} is not supported by Orlop ({field})")
    for flag, _help, default, what in (*_REFUSED_BOOLS, _SIG_PROXY):
        dest = flag.lstrip("-").replace("-", "_")
        if getattr(args, dest, default) != default:
            value = "true" if not default else "false"
            raise UsageError(f"{flag}={value} is not supported by Orlop ({what})")


def _parser(name: str) -> Parser:
    p = Parser(prog=f"orlop {name}", add_help=False,
               usage=f"orlop {name} [OPTIONS] IMAGE [COMMAND] [ARG...]")
    p.add_argument("--rm", action="store_true", help="Remove the container when it exits")
    p.add_argument("--name", default="", help="Assign a name to the container")
    p.add_argument("-e", "--env", action="append", default=[], help="Set environment variables")
    p.add_argument("--env-file", action="append", default=[],
                   help="Read in a file of environment variables")
    p.add_argument("-w", "--workdir", default="", help="Working directory inside the container")
    p.add_argument("-u", "--user", default="",
                   help="Username or UID (format: <name|uid>[:<group|gid>])")
    p.add_argument("--entrypoint", default=None,
                   help="Overwrite the default ENTRYPOINT of the image")
    p.add_argument("-h", "--hostname", default="", help="Container host name")
    p.add_argument("--network", "--net", default="default",
                   help="Connect a container to a network")
    p.add_argument("-p", "--publish", action="append", default=[],
                   help="Publish a container's port(s) to the host")
    p.add_argument("-P", "--publish-all", action="store_true",
                   help="Publish all exposed ports to random ports")
    p.add_argument("--expose", action="append", default=[],
                   help="Expose a port or a range of ports")
    p.add_argument("--network-alias", "--net-alias", action="append", default=[],
                   help="Add network-scoped alias for the container")
    p.add_argument("--ip", default="", help="IPv4 address (e.g., 172.30.100.104)")
    p.add_argument("--ip6", default="", help="IPv6 address (e.g., 2001:db8::33)")
    p.add_argument("--link-local-ip", action="append", default=[],
                   help="Container IPv4/IPv6 link-local addresses")
    p.add_argument("--mac-address", default="", help="Container MAC address")
    p.add_argument("--domainname", default="", help="Container NIS domain name")
    p.add_argument("--dns", action="append", default=[], help="Set custom DNS servers")
    p.add_argument("--dns-search", action="append", default=[],
                   help="Set custom DNS search domains")
    p.add_argument("--dns-option", "--dns-opt", action="append", default=[],
                   help="Set DNS options")
    p.add_argument("--add-host", action="append", default=[],
                   help="Add a custom host-to-IP mapping (host:ip)")
    p.add_argument("--link", action="append", default=[],
                   help="Add link to another container")
    p.add_argument("-i", "--interactive", action="store_true",
                   help="Keep STDIN open even if not attached")
    p.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    if name == "run":  # `docker create -d` is an unknown flag
        p.add_argument("-d", "--detach", action="store_true",
                       help="Run container in background and print container ID")
    p.add_argument("--runtime", default="", help="Runtime to use for this container")
    p.add_argument("--health-cmd", default="", help="Command to run to check health")
    p.add_argument("--health-interval", default="0s", metavar="duration",
                   help="Time between running the check (ms|s|m|h) (default 0s)")
    p.add_argument("--health-timeout", default="0s", metavar="duration",
                   help="Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
    p.add_argument("--health-start-period", default="0s", metavar="duration",
                   help="Start period for the container to initialize before starting "
                        "health-retries countdown (ms|s|m|h) (default 0s)")
    p.add_argument("--health-retries", default="", metavar="int",
                   help="Consecutive failures needed to report unhealthy")
    p.add_argument("--no-healthcheck", action="store_true",
                   help="Disable any container-specified HEALTHCHECK")
    if name == "run":
        p.add_argument("--detach-keys", default="",
                       help="Override the key sequence for detaching a container")
    p.add_argument("-v", "--volume", action="append", default=[], help="Bind mount a volume")
    p.add_argument("--mount", action="append", default=[], metavar="mount",
                   help="Attach a filesystem mount to the container")
    p.add_argument("--tmpfs", action="append", default=[], help="Mount a tmpfs directory")
    p.add_argument("--volumes-from", action="append", default=[],
                   help="Mount volumes from the specified container(s)")
    p.add_argument("--volume-driver", default="",
                   help="Optional volume driver for the container")
    p.add_argument("-l", "--label", action="append", default=[],
                   help="Set meta data on a container")
    p.add_argument("--label-file", action="append", default=[],
                   help="Read in a line delimited file of labels")
    p.add_argument("--cidfile", default="", help="Write the container ID to the file")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress the pull output")
    p.add_argument("--read-only", action="store_true",
                   help="Mount the container's root filesystem as read only")
    p.add_argument("--pull", default="missing", choices=["always", "missing", "never"],
                   help="Pull image before running (\"always\", \"missing\", \"never\")")
    p.add_argument("-a", "--attach", action="append", default=[],
                   help="Attach to STDIN, STDOUT or STDERR")
    p.add_argument("--restart", default="", help="Restart policy to apply when a container exits")
    p.add_argument("--log-driver", default="json-file", help="Logging driver for the container")
    p.add_argument("--log-opt", action="append", default=[], help="Log driver options")
    p.add_argument("-m", "--memory", default="", metavar="bytes", help="Memory limit")
    p.add_argument("--memory-swap", default="", metavar="bytes",
                   help="Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
    p.add_argument("--memory-swappiness", default="-1", metavar="int",
                   help="Tune container memory swappiness (0 to 100) (default -1)")
    p.add_argument("--isolation", default="", help="Container isolation technology")
    p.add_argument("--pids-limit", type=int, default=0,
                   help="Tune container pids limit (set -1 for unlimited)")
    p.add_argument("--cpus", default="", metavar="decimal", help="Number of CPUs")
    p.add_argument("--cap-add", action="append", default=[], help="Add Linux capabilities")
    p.add_argument("--cap-drop", action="append", default=[], help="Drop Linux capabilities")
    p.add_argument("--init", action="store_true",
                   help="Run an init inside the container that forwards signals and reaps "
                        "processes")
    p.add_argument("--privileged", action="store_true",
                   help="Give extended privileges to this container")
    p.add_argument("--security-opt", action="append", default=[], help="Security Options")
    p.add_argument("--sysctl", action="append", default=[], help="Sysctl options")
    p.add_argument("--stop-signal", default="", help="Signal to stop the container")
    p.add_argument("--stop-timeout", type=int, default=None,
                   help="Timeout (in seconds) to stop a container")
    p.add_argument("--ulimit", action="append", default=[], help="Ulimit options")
    p.add_argument("--shm-size", default="", metavar="bytes", help="Size of /dev/shm")
    p.add_argument("-c", "--cpu-shares", type=int, default=0,
                   help="CPU shares (relative weight)")
    p.add_argument("--cpuset-cpus", default="",
                   help="CPUs in which to allow execution (0-3, 0,1)")
    p.add_argument("--device", action="append", default=[],
                   help="Add a host device to the container")
    p.add_argument("--device-cgroup-rule", action="append", default=[],
                   help="Add a rule to the cgroup allowed devices list")
    p.add_argument("--platform", default="",
                   help="Set platform if server is multi-platform capable")
    p.add_argument("--pid", default="", help="PID namespace to use")
    p.add_argument("--uts", default="", help="UTS namespace to use")
    p.add_argument("--cgroupns", default="",
                   help="Cgroup namespace to use (host|private)")
    p.add_argument("--group-add", action="append", default=[],
                   help="Add additional groups to join")
    _add_refused(p, name)
    p.add_argument("image", nargs="?")
    p.add_argument("command", nargs=argparse.REMAINDER)
    return p


def _labels(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        k, _, v = item.partition("=")
        out[k] = v
    return out


def add_hosts(values: list[str]) -> list[str]:
    """``--add-host`` (run, create, build), checked as docker/cli's ValidateExtraHost
    with its texts: ``name:ip`` or ``name=ip``, an IP address or ``host-gateway``."""
    if not values:
        return []
    from orlop.errors import InvalidParameterError
    from orlop.network.files import parse_add_host

    for spec in values:
        try:
            parse_add_host(spec)
        except InvalidParameterError as err:
            if str(err).startswith("bad format"):
                why = f'bad format for add-host: "{spec}"'
            else:
                ip = spec.partition(":")[2] if ":" in spec else spec.partition("=")[2]
                why = f'invalid IP address in add-host: "{ip}"'
            raise UsageError(f'invalid argument "{spec}" for "--add-host" flag: {why}') \
                from None
    return list(values)


def _label_file(path: str) -> list[str]:
    """docker/cli's kvfile for ``--label-file``: as an env file, but a line without ``=``
    is left out (there is no environment to take its value from)."""
    return [line for line in env_file(path) if "=" in line]


def _memory(text: str) -> int:
    from orlop.units import ram_in_bytes

    try:
        return ram_in_bytes(text)
    except ValueError:
        raise UsageError(f'invalid argument "{text}" for "-m, --memory" flag: '
                         "invalid size") from None


def _memory_swap(text: str) -> int:
    """docker/cli's MemSwapBytes: ``-1`` (unlimited swap) or a size."""
    if text == "-1":
        return -1
    from orlop.units import ram_in_bytes

    try:
        return ram_in_bytes(text)
    except ValueError as err:
        raise UsageError(f'invalid argument "{text}" for "--memory-swap" flag: {err}') \
            from None


def _swappiness(text: str) -> int | None:
    """``--memory-swappiness``: -1 (the default) leaves the kernel's; else 0..100, checked
    here with the docker CLI's text (the engine checks the API's with dockerd's)."""
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f'invalid argument "{text}" for "--memory-swappiness" flag: '
                         f'strconv.ParseInt: parsing "{text}": invalid syntax') from None
    if value == -1:
        return None
    if not 0 <= value <= 100:
        raise UsageError(f"invalid value: {value}. Valid memory swappiness range is 0-100")
    return value


def main(name: str, argv: list[str], ctx: Context) -> int:
    p = _parser(name)
    args = p.parse_args(argv)
    if not args.image:
        raise UsageError(f'"orlop {name}" requires at least 1 argument.')
    if getattr(args, "detach", False) and args.attach:
        raise UsageError("Conflicting options: -a and -d")
    from orlop.engine.runoptions import RunOptions

    log_opts = {}
    for item in args.log_opt:
        k, sep, v = item.partition("=")
        if not sep:
            raise UsageError(f"invalid key-value pair: {item}")
        log_opts[k] = v
    memory = _memory(args.memory) if args.memory else 0
    _refuse_unapplied(args)
    add_hosts(args.add_host)  # the docker CLI's check and texts, before anything is made
    memory_swap = _memory_swap(args.memory_swap) if args.memory_swap else 0
    swappiness = _swappiness(args.memory_swappiness)
    nano_cpus = 0
    if args.cpus:
        try:
            nano_cpus = round(float(args.cpus) * 1e9)
        except ValueError:
            raise UsageError(f'invalid argument "{args.cpus}" for "--cpus" flag: failed '
                             f'to parse {args.cpus} as a rational number') from None

    env = env_options(args.env_file, args.env)
    entrypoint = None
    if args.entrypoint is not None:
        entrypoint = [args.entrypoint] if args.entrypoint else []
    from orlop.mounts.parser import parse_mount_flag
    from orlop.wire.create import absolute_bind

    cwd = os.getcwd()
    opts = RunOptions(
        image=args.image, command=list(args.command), entrypoint=entrypoint, name=args.name,
        env=env, working_dir=args.workdir, user=args.user, hostname=args.hostname,
        network=args.network, interactive=args.interactive, tty=args.tty,
        auto_remove=args.rm, runtime=args.runtime or "",
        volumes=[absolute_bind(v, cwd) for v in args.volume],
        # --mount parsed here, once (as the docker CLI does): a typed spec from now on
        mount_specs=[parse_mount_flag(raw, cwd) for raw in args.mount],
        tmpfs=list(args.tmpfs), volumes_from=list(args.volumes_from),
        labels=_labels([*(x for f in args.label_file for x in _label_file(f)), *args.label]),
        container_id_file=args.cidfile, read_only=args.read_only, cwd=cwd,
        restart=args.restart, log_opts=log_opts, memory=memory, memory_swap=memory_swap,
        memory_swappiness=swappiness, isolation=args.isolation,
        ipc_mode=(args.ipc or [""])[-1], userns_mode=(args.userns or [""])[-1],
        pids_limit=args.pids_limit, nano_cpus=nano_cpus, cap_add=list(args.cap_add),
        cap_drop=list(args.cap_drop), init=args.init, privileged=args.privileged,
        security_opt=_security_opts(args.security_opt), sysctls=_sysctls(args.sysctl),
        stop_signal=args.stop_signal, stop_timeout=args.stop_timeout,
        publish=list(args.publish), publish_all=args.publish_all, expose=list(args.expose),
        network_aliases=list(args.network_alias), ip=args.ip, mac_address=args.mac_address,
        ip6=args.ip6, link_local_ips=list(args.link_local_ip),
        domainname=args.domainname, dns=list(args.dns), dns_search=list(args.dns_search),
        dns_options=list(args.dns_option), add_host=list(args.add_host),
        links=list(args.link),
        healthcheck=_healthcheck(args), **_host_flags(args),
    )
    streams = _streams(args.attach, args.interactive)
    cidfile = CidFile(args.cidfile)
    try:
        _ensure_image(ctx, args.image, args.pull, args.quiet)
        return _create_or_run(name, args, opts, streams, cidfile, ctx)
    except BaseException:
        cidfile.discard()
        raise


def _create_or_run(name: str, args: argparse.Namespace, opts: Any, streams: frozenset[str],
                   cidfile: CidFile, ctx: Context) -> int:
    # The container calls alone (not every area's backend: ~2 ms of imports)
    backend = ctx.container_backend()
    if name == "create" or getattr(args, "detach", False):
        if name == "create":
            cid = backend.container_create(opts)
        else:
            cid = _run_detached(backend, opts, ctx)
        cidfile.write(cid)
        print(cid, file=ctx.stdout)
        return 0
    from orlop.detachkeys import Detached, detach_keys_text, parse_detach_keys

    keys = detach_keys_text(args.detach_keys)
    if keys:
        parse_detach_keys(keys)  # refused before the container is made
    sys.stdout.flush()
    try:
        return backend.container_run(opts, streams, detach_keys=keys, created=cidfile.write)
    except Detached:
        return 0  # the docker CLI's run: detached, silently, exit 0


def _run_detached(backend: Any, opts: Any, ctx: Context) -> str:
    """``run -d``: its monitor moves the container into its cgroups; this process keeps
    the kernel's migration lock warm meanwhile (kernel/cgwarm.py: the first move after a
    quiet spell waits out an RCU grace period, 8 to 18 ms here)."""
    if ctx.remote:
        return str(backend.container_run_detached(opts))
    from orlop.kernel import cgwarm

    cgwarm.start()
    try:
        return str(backend.container_run_detached(opts))
    finally:
        cgwarm.stop()


class CidFile:
    """``--cidfile``: docker/cli's cidFile.  Made (empty) before anything else, refused
    when it exists already; the container's ID written once it is created; removed when
    no container was made (the run's own failure keeps it, with the ID)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.written = False
        if not path:
            return
        if os.path.lexists(path):
            raise UsageError(f"container ID file found, make sure the other container "
                             f"isn't running or delete {path}")
        try:
            with open(path, "x"):
                pass
        except OSError as err:
            raise UsageError(f"failed to create the container ID file: open {path}: "
                             f"{(err.strerror or str(err)).lower()}") from None

    def write(self, cid: str) -> None:
        if not self.path:
            return
        try:
            with open(self.path, "w") as f:
                f.write(cid)
        except OSError as err:
            raise UsageError(f"failed to write the container ID to the file: {err}") \
                from None
        self.written = True

    def discard(self) -> None:
        if self.path and not self.written:
            with contextlib.suppress(OSError):
                os.remove(self.path)


def _host_flags(args: argparse.Namespace) -> dict[str, Any]:
    """--ulimit, --shm-size, --device, --device-cgroup-rule (parsed with Docker's CLI texts),
    and the flags the engine checks as they are."""
    from orlop.engine.containers.hostopts import check_cgroup_rule, parse_device, parse_ulimit
    from orlop.errors import InvalidParameterError
    from orlop.units import ram_in_bytes

    def flag(name: str, value: str, parse: Callable[[str], T]) -> T:
        try:
            return parse(value)
        except (InvalidParameterError, ValueError) as err:
            raise UsageError(f'invalid argument "{value}" for "{name}" flag: {err}') from None

    def shm(text: str) -> int:
        size = ram_in_bytes(text)
        if size < 0:
            raise ValueError(f"invalid size: '{text}'")
        return size

    return {
        "ulimits": [flag("--ulimit", u, parse_ulimit) for u in args.ulimit],
        "shm_size": flag("--shm-size", args.shm_size, shm) if args.shm_size else 0,
        "cpu_shares": args.cpu_shares, "cpuset_cpus": args.cpuset_cpus,
        "devices": [flag("--device", d, parse_device) for d in args.device],
        "device_cgroup_rules": [flag("--device-cgroup-rule", r, check_cgroup_rule)
                                for r in args.device_cgroup_rule],
        "platform": args.platform, "pid_mode": args.pid, "uts_mode": args.uts,
        "cgroupns_mode": args.cgroupns, "group_add": list(args.group_add),
        "log_driver": args.log_driver, "volume_driver": args.volume_driver,
    }


def _healthcheck(args: argparse.Namespace) -> dict[str, object] | None:
    from orlop.engine.containers.health import from_flags, parse_go_duration

    durations = {}
    for flag in ("interval", "timeout", "start-period"):
        text = getattr(args, "health_" + flag.replace("-", "_"))
        try:
            durations[flag] = parse_go_duration(text)
        except ValueError as err:
            raise UsageError(f'invalid argument "{text}" for "--health-{flag}" flag: '
                             f"{err}") from None
    try:
        retries = int(args.health_retries or 0)
    except ValueError:
        raise UsageError(f'invalid argument "{args.health_retries}" for "--health-retries" '
                         f'flag: strconv.ParseInt: parsing "{args.health_retries}": invalid '
                         "syntax") from None
    return from_flags(args.health_cmd, durations["interval"], durations["timeout"],
                      durations["start-period"], retries, args.no_healthcheck)


def _security_opts(opts: list[str]) -> list[str]:
    """docker/cli parseSecurityOpts: every value needs key=value (but no-new-privileges);
    ``seccomp=<file>`` becomes ``seccomp=<the file's compacted JSON>``, so the engine (and
    a remote orlopd) get the profile itself, as dockerd does."""
    out = []
    for opt in opts:
        key, sep, value = opt.partition("=")
        if not sep and key != "no-new-privileges":
            key, sep, value = opt.partition(":")
        if (not sep or not value) and key != "no-new-privileges":
            raise UsageError(f'Invalid --security-opt: "{opt}"')
        if key == "seccomp" and value not in ("builtin", "unconfined"):
            import json

            try:
                with open(value, "rb") as f:
                    raw = f.read()
            except OSError as err:
                raise UsageError(f"opening seccomp profile ({value}) failed: open {value}: "
                                 f"{(err.strerror or str(err)).lower()}") from None
            try:
                compact = json.dumps(json.loads(raw), separators=(",", ":"))
            except ValueError as err:
                raise UsageError(f"compacting json for seccomp profile ({value}) failed: "
                                 f"{err}") from None
            opt = f"seccomp={compact}"
        out.append(opt)
    return out


def _sysctls(items: list[str]) -> dict[str, str]:
    """docker/cli opts.ValidateSysctl: k=v, and only names that can be namespaced at all
    (the engine then checks them against the container's namespaces)."""
    out: dict[str, str] = {}
    if not items:
        return out
    from orlop.engine.security.sysctl import cli_sysctl_allowed

    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not cli_sysctl_allowed(key):
            raise UsageError(f'invalid argument "{item}" for "--sysctl" flag: sysctl '
                             f"'{item}' is not whitelisted")
        out[key] = value
    return out


def _ensure_image(ctx: Context, image: str, policy: str, quiet: bool = False) -> None:
    """Docker's ``--pull``: ``missing`` pulls an image not found locally (saying so on
    stderr), ``always`` pulls every time, ``never`` leaves it to create's error;
    ``quiet`` (``-q``): no word of it."""
    if policy == "never":
        return
    if policy == "missing":
        if ctx.container_backend().image_present(image):
            return
        from orlop.distribution.reference import parse_remote

        if not quiet:
            print(f"Unable to find image '{parse_remote(image).with_tag_default()}' "
                  "locally", file=ctx.stderr)
    from orlop.cli.commands.distribution import pull_with_progress

    pull_with_progress(ctx.backend(), image, "", ctx.stderr, quiet=quiet)


def _streams(attach: list[str], interactive: bool) -> frozenset[str]:
    """Docker's ``-a``: the streams named (case-insensitive), else stdout and stderr,
    and stdin with ``-i``."""
    from orlop.cli.backend.containers import STREAMS

    named = set()
    for item in attach:
        if item.lower() not in STREAMS:
            raise UsageError(f'invalid argument "{item}" for "-a, --attach" flag: valid '
                             "streams are STDIN, STDOUT and STDERR")
        named.add(item.lower())
    if named:
        return frozenset(named)
    return frozenset({"stdout", "stderr", *(["stdin"] if interactive else [])})
