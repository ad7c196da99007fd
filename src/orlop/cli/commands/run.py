"""`orlop run` and `orlop create`: Docker's flags, Docker's exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from orlop.cli.context import Context, Parser, UsageError

T = TypeVar("T")

# Every flag of run/create works through orlopd too (cli/backend/containers.py).
REMOTE = frozenset({"run", "create"})


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
    p.add_argument("image", nargs="?")
    p.add_argument("command", nargs=argparse.REMAINDER)
    return p


def resolve_env(entries: list[str]) -> list[str]:
    """docker/cli's ValidateEnv: a bare NAME takes the value it has here, or stays bare
    (the daemon then unsets it: moby's ReplaceOrAppendEnvValues)."""
    return [e if "=" in e or e not in os.environ else f"{e}={os.environ[e]}"
            for e in entries]


def _env_file(path: str) -> list[str]:
    out = []
    try:
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                out.append(line.lstrip())
    except OSError as err:
        raise UsageError(f"open {path}: {err.strerror.lower() if err.strerror else err}") \
            from None
    return out


def _labels(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        k, _, v = item.partition("=")
        out[k] = v
    return out


def _memory(text: str) -> int:
    from orlop.units import ram_in_bytes

    try:
        return ram_in_bytes(text)
    except ValueError:
        raise UsageError(f'invalid argument "{text}" for "-m, --memory" flag: '
                         "invalid size") from None


def main(name: str, argv: list[str], ctx: Context) -> int:
    p = _parser(name)
    args = p.parse_args(argv)
    if not args.image:
        raise UsageError(f'"orlop {name}" requires at least 1 argument.')
    if args.detach and args.attach:
        raise UsageError("Conflicting options: -a and -d")
    from orlop.engine.models import RunOptions

    log_opts = {}
    for item in args.log_opt:
        k, sep, v = item.partition("=")
        if not sep:
            raise UsageError(f"invalid key-value pair: {item}")
        log_opts[k] = v
    memory = _memory(args.memory) if args.memory else 0
    nano_cpus = 0
    if args.cpus:
        try:
            nano_cpus = round(float(args.cpus) * 1e9)
        except ValueError:
            raise UsageError(f'invalid argument "{args.cpus}" for "--cpus" flag: failed '
                             f'to parse {args.cpus} as a rational number') from None

    env = resolve_env([*(e for f in args.env_file for e in _env_file(f)), *args.env])
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
        labels=_labels(args.label), read_only=args.read_only, cwd=cwd,
        restart=args.restart, log_opts=log_opts, memory=memory,
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
    backend = ctx.backend()
    _ensure_image(ctx, args.image, args.pull)
    if name == "create":
        print(backend.container_create(opts), file=ctx.stdout)
        return 0
    if args.detach:
        print(backend.container_run_detached(opts), file=ctx.stdout)
        return 0
    from orlop.detachkeys import Detached, detach_keys_text, parse_detach_keys

    keys = detach_keys_text(args.detach_keys)
    if keys:
        parse_detach_keys(keys)  # refused before the container is made
    sys.stdout.flush()
    try:
        return backend.container_run(opts, streams, detach_keys=keys)
    except Detached:
        return 0  # the docker CLI's run: detached, silently, exit 0


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


def _ensure_image(ctx: Context, image: str, policy: str) -> None:
    """Docker's ``--pull``: ``missing`` pulls an image not found locally (saying so on
    stderr), ``always`` pulls every time, ``never`` leaves it to create's error."""
    if policy == "never":
        return
    from orlop.errors import NotFoundError

    backend = ctx.backend()
    if policy == "missing":
        try:
            backend.image_inspect(image)
            return
        except NotFoundError:
            pass
        from orlop.distribution.reference import parse_remote

        print(f"Unable to find image '{parse_remote(image).with_tag_default()}' locally",
              file=ctx.stderr)
    from orlop.cli.commands.distribution import pull_with_progress

    pull_with_progress(backend, image, "", ctx.stderr)


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
