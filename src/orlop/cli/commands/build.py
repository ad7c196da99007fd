"""`orlop build` and `orlop builder prune`: Docker's classic builder (orlop/build/),
with ``docker build``'s flags and output."""

from __future__ import annotations

import os
import sys
from typing import Any

from orlop.cli.context import Context, Parser, UsageError, require_args

REMOTE = frozenset({"build", "builder"})  # POST /build, POST /build/prune with -H


def main(name: str, argv: list[str], ctx: Context) -> int:
    if name == "builder":
        sub = argv[0] if argv else ""
        if sub != "prune":
            raise UsageError(f'unknown command "{sub}" for "orlop builder"')
        return _prune(argv[1:], ctx)
    return _build(argv, ctx)


def _pairs(values: list[str], *, env_fallback: bool) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in values:
        key, eq, value = item.partition("=")
        # --build-arg NAME without a value takes it from the environment (docker CLI).
        out[key] = value if eq else (os.environ.get(key) if env_fallback else "")
    return out


# The docker CLI's (28) build flags for what Orlop's builder does not apply to the RUN
# steps' containers: (flags, metavar, Docker's help, the POST /build parameter, the
# values that ask for nothing).  Refused when they ask for anything, as orlopd refuses
# the parameters (server/routes/build.py).
_REFUSED: tuple[tuple[tuple[str, ...], str, str, str, tuple[str, ...]], ...] = (
    (("--cgroup-parent",), "string", 'Set the parent cgroup for the "RUN" instructions '
     "during build", "cgroupparent", ("",)),
    (("--cpu-period",), "int", "Limit the CPU CFS (Completely Fair Scheduler) period",
     "cpuperiod", ("0",)),
    (("--cpu-quota",), "int", "Limit the CPU CFS (Completely Fair Scheduler) quota",
     "cpuquota", ("0",)),
    (("-c", "--cpu-shares"), "int", "CPU shares (relative weight)", "cpushares", ("0",)),
    (("--cpuset-cpus",), "string", "CPUs in which to allow execution (0-3, 0,1)",
     "cpusetcpus", ("",)),
    (("--cpuset-mems",), "string", "MEMs in which to allow execution (0-3, 0,1)",
     "cpusetmems", ("",)),
    (("-m", "--memory"), "bytes", "Memory limit", "memory", ("0",)),
    (("--memory-swap",), "bytes", "Swap limit equal to memory plus swap: -1 to enable "
     "unlimited swap", "memswap", ("0",)),
    (("--security-opt",), "strings", "Security options", "securityopt", ()),
    (("--ulimit",), "ulimit", "Ulimit options", "ulimits", ()),
)


def _add_refused(p: Parser) -> None:
    from orlop.cli.commands.run import go_bool_flag

    for flags, metavar, help_text, _param, _neutral in _REFUSED:
        p.add_argument(*flags, action="append", default=[], metavar=metavar, help=help_text)
    # --compress: the context sent to orlopd gzipped (BuildOptions.compress)
    go_bool_flag(p, "--compress", "Compress the build context using gzip", False)
    go_bool_flag(p, "--disable-content-trust", "Skip image verification (default true)",
                 True)
    go_bool_flag(p, "--squash", "Squash newly built layers into a single new layer", False)


def _refuse_unapplied(args: Any) -> None:
    for flags, _metavar, _help, param, neutral in _REFUSED:
        for value in getattr(args, flags[-1].lstrip("-").replace("-", "_")):
            if value not in neutral:
                raise UsageError(f"{flags[-1]} {value} is not supported by Orlop's builder "
                                 f"({param})")
    if not args.disable_content_trust:
        raise UsageError("--disable-content-trust=false is not supported by Orlop "
                         "(content trust)")
    if args.squash:
        raise UsageError("--squash is not supported by Orlop's builder (squash)")


def _build(argv: list[str], ctx: Context) -> int:
    from orlop.build.options import BuildOptions

    p = Parser(prog="orlop build", add_help=False)
    p.add_argument("--add-host", action="append", default=[],
                   help="Add a custom host-to-IP mapping (\"host:ip\")")
    p.add_argument("--build-arg", action="append", default=[],
                   help="Set build-time variables")
    p.add_argument("--cache-from", action="append", default=[],
                   help="Images to consider as cache sources")
    p.add_argument("-f", "--file", default="",
                   help="Name of the Dockerfile (Default is 'PATH/Dockerfile')")
    p.add_argument("--force-rm", action="store_true",
                   help="Always remove intermediate containers")
    p.add_argument("--iidfile", default="", help="Write the image ID to the file")
    p.add_argument("--isolation", default="", help="Container isolation technology")
    p.add_argument("--label", action="append", default=[],
                   help="Set metadata for an image")
    p.add_argument("--network", default="",
                   help="Set the networking mode for the RUN instructions during build")
    p.add_argument("--no-cache", action="store_true",
                   help="Do not use cache when building the image")
    p.add_argument("--platform", default="", help="Set platform if server is multi-platform "
                                                   "capable")
    p.add_argument("--pull", action="store_true",
                   help="Always attempt to pull a newer version of the image")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="Suppress the build output and print image ID on success")
    p.add_argument("--rm", nargs="?", const="true", default="true",
                   help="Remove intermediate containers after a successful build")
    p.add_argument("--shm-size", default="", metavar="bytes", help="Size of \"/dev/shm\"")
    p.add_argument("-t", "--tag", action="append", default=[],
                   help="Name and optionally a tag in the 'name:tag' format")
    p.add_argument("--target", default="", help="Set the target build stage to build.")
    _add_refused(p)
    p.add_argument("args", nargs="*")
    args = p.parse_args(argv)
    require_args(args.args, "build", exactly=1)
    _refuse_unapplied(args)
    from orlop.goparse import parse_bool

    remove = parse_bool(args.rm)
    if remove is None:
        raise UsageError(f'invalid argument "{args.rm}" for "--rm" flag: strconv.ParseBool: '
                         f'parsing "{args.rm}": invalid syntax')
    from orlop.images.reference import InvalidReferenceError, parse_tag_target

    for tag in args.tag:
        try:
            parse_tag_target(tag)
        except InvalidReferenceError as err:
            raise UsageError(f"invalid argument \"{tag}\" for \"-t, --tag\" flag: {err}") \
                from None
    from orlop.build.options import check_isolation
    from orlop.cli.commands.run import add_hosts

    check_isolation(args.isolation)
    opts = BuildOptions(
        dockerfile=args.file, tags=tuple(args.tag), target=args.target,
        build_args=_pairs(args.build_arg, env_fallback=True),
        labels={k: v or "" for k, v in _pairs(args.label, env_fallback=False).items()},
        no_cache=args.no_cache, pull=args.pull, quiet=args.quiet, network=args.network,
        platform=args.platform, remove=remove, force_rm=args.force_rm, iidfile=args.iidfile,
        extra_hosts=tuple(add_hosts(args.add_host)), shm_size=_shm_size(args.shm_size),
        cache_from=tuple(args.cache_from), compress=args.compress)
    path = args.args[0]
    stream: Any = None
    dockerfile_text: str | None = None
    if args.file == "-":
        if path == "-":
            raise UsageError("invalid argument: can't use stdin for both build context and "
                             "dockerfile")
        dockerfile_text = sys.stdin.read()
    if path == "-":
        stream = sys.stdin.buffer
    elif not os.path.isdir(path):
        from orlop.errors import InvalidParameterError

        raise InvalidParameterError(f'unable to prepare context: path "{path}" not found')
    emitted = [False]

    def emit(msg: dict[str, Any]) -> None:
        emitted[0] = True
        text = msg.get("stream")
        if isinstance(text, str) and (not opts.quiet or text.startswith("sha256:")):
            ctx.stdout.write(text)
            ctx.stdout.flush()

    backend = ctx.backend()
    from orlop.errors import OrlopError

    try:
        image_id = backend.image_build(None if path == "-" else path, stream,
                                       dockerfile_text, opts, emit)
    except OrlopError as err:
        if not emitted[0]:
            raise
        # A failure during the build: Docker's CLI prints the stream's error as it is.
        print(str(err), file=sys.stderr)
        return int(getattr(err, "exit_code", 1) or 1)
    if args.iidfile:
        with open(args.iidfile, "w", encoding="utf-8") as f:
            f.write(image_id)
    return 0


def _shm_size(text: str) -> int:
    """``--shm-size`` as the docker CLI's MemBytes: a size (``64m``); "" = the default."""
    if not text:
        return 0
    from orlop.units import ram_in_bytes

    try:
        return ram_in_bytes(text)
    except ValueError as err:
        raise UsageError(f'invalid argument "{text}" for "--shm-size" flag: {err}') from None


def _prune(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop builder prune", add_help=False)
    p.add_argument("-a", "--all", action="store_true",
                   help="Remove all unused build cache, not just dangling ones")
    p.add_argument("--filter", action="append", default=[],
                   help="Provide filter values (e.g. 'until=24h')")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    args = p.parse_args(argv)
    if not args.force:
        ctx.stdout.write("WARNING! This will remove all dangling build cache.\n"
                         "Are you sure you want to continue? [y/N] ")
        ctx.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    result = ctx.backend().build_prune(all_=args.all)
    from orlop.cli.units import human_size

    ctx.stdout.write(f"Total reclaimed space: {human_size(result.get('SpaceReclaimed', 0))}\n")
    return 0
