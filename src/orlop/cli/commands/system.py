"""`orlop version`, `orlop info`, `orlop system df|info|service`: rendered from the
Docker API's dicts (``/version``, ``/info``, ``/system/df``), whichever backend gave them."""

from __future__ import annotations

import os
from typing import Any

from orlop.cli.context import Context, Parser, UsageError, add_prune_flags, parse_no_args
from orlop.cli.output import FORMAT_PLAIN, FORMAT_TABLE

# All but `system service` (which becomes orlopd here: local only) work with -H.
REMOTE = frozenset({"system", "version", "info"})


def main(name: str, argv: list[str], ctx: Context) -> int:
    if name == "system":
        if not argv:  # main() answers `orlop system` and `orlop system --help`
            raise UsageError('"orlop system" requires a command.')
        sub, argv = argv[0], argv[1:]
        ctx.command = f"system {sub}"
        if sub == "info":
            return _info(argv, ctx)
        if sub == "df":
            return _df(argv, ctx)
        if sub == "service":
            return _service(argv, ctx)
        if sub == "prune":
            return _prune(argv, ctx)
        if sub == "events":
            from orlop.cli.commands import events

            return events.main("events", argv, ctx)
        raise UsageError(f'unknown command "{sub}" for "orlop system"')
    if name == "version":
        return _version(argv, ctx)
    return _info(argv, ctx)


def _version(argv: list[str], ctx: Context) -> int:
    """The client (this program) and the server (the engine here, or orlopd's
    ``/version``), as ``docker version`` shows them; the client part is printed even
    when the server cannot be reached."""
    p = Parser(prog="orlop version", add_help=False)
    p.add_argument("-f", "--format", default="", help=FORMAT_PLAIN)
    args = p.parse_args(argv)
    from orlop.cli.backend.system import client_version
    from orlop.errors import OrlopError

    client = client_version()
    try:
        server: dict[str, Any] | None = ctx.backend().server_version()
    except OrlopError:
        server = None
        if args.format:
            raise
    info = {"Client": client, "Server": server}
    if args.format:
        from orlop.cli.output import format_template

        print(format_template(args.format, info), file=ctx.stdout)
        return 0
    print(f"Client:\n Version:           {client['Version']}\n"
          f" API version:       {client['ApiVersion']}\n"
          f" Python version:    {client['PythonVersion']}\n"
          f" OS/Arch:           {client['Os']}/{client['Arch']}", file=ctx.stdout)
    if server is None:
        print("", file=ctx.stdout)
        ctx.stdout.flush()
        ctx.backend().server_version()  # raises the error again, for main() to print
        return 1
    engine: dict[str, Any] = next((c for c in server.get("Components") or []
                                   if c.get("Name") == "Engine"), {})
    details = engine.get("Details") or {}
    print(f"\nServer: {(server.get('Platform') or {}).get('Name', '')}\n Engine:\n"
          f"  Version:          {server.get('Version', '')}\n"
          f"  API version:      {server.get('ApiVersion', '')} (minimum version "
          f"{server.get('MinAPIVersion', details.get('MinAPIVersion', ''))})\n"
          f"  OS/Arch:          {server.get('Os', '')}/{server.get('Arch', '')}\n"
          f"  Kernel:           {server.get('KernelVersion', '')}", file=ctx.stdout)
    return 0


def _info(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop info", add_help=False)
    p.add_argument("-f", "--format", default="", help=FORMAT_PLAIN)
    args = p.parse_args(argv)
    from orlop import __version__

    info = ctx.backend().system_info()
    if args.format:
        from orlop.cli.output import format_template

        print(format_template(args.format, info), file=ctx.stdout)
        return 0
    print(f"""Client:
 Version:    {__version__}

Server:
 Containers: {info.get('Containers', 0)}
  Running: {info.get('ContainersRunning', 0)}
  Paused: {info.get('ContainersPaused', 0)}
  Stopped: {info.get('ContainersStopped', 0)}
 Images: {info.get('Images', 0)}
 Volumes: {info.get('Volumes', 0)}
 Server Version: {info.get('ServerVersion', '')}
 Storage Driver: {info.get('Driver', '')}
 Default Runtime: {info.get('DefaultRuntime', '')}
{_security_lines(info.get('SecurityOptions') or [])} Kernel Version: {info.get('KernelVersion', '')}
 Operating System: {info.get('OperatingSystem', '')}
 OSType: {info.get('OSType', '')}
 Architecture: {info.get('Architecture', '')}
 CPUs: {info.get('NCPU', 0)}
 Orlop Root Dir: {info.get('DockerRootDir', '')}
 Run Root Dir: {info.get('RunRoot', '')}""", file=ctx.stdout)
    return 0


def _security_lines(options: list[str]) -> str:
    """docker/cli's "Security Options:" block: "name=seccomp,profile=builtin" is printed
    as "  seccomp" then "   Profile: builtin"."""
    if not options:
        return ""
    lines = [" Security Options:"]
    for opt in options:
        fields = dict(kv.partition("=")[::2] for kv in opt.split(","))
        lines.append(f"  {fields.pop('name', opt)}")
        lines += [f"   {k.capitalize()}: {v}" for k, v in fields.items()]
    return "\n".join(lines) + "\n"


def _df(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop system df", add_help=False)
    p.add_argument("-v", "--verbose", action="store_true",
                   help="Show detailed information on space usage")
    p.add_argument("--format", default="", help=FORMAT_TABLE)
    args = p.parse_args(argv)
    from orlop.cli.df import disk_usage

    ctx.stdout.write(disk_usage(ctx.backend().system_df(), verbose=args.verbose,
                                fmt=args.format))
    return 0


def _service(argv: list[str], ctx: Context) -> int:
    """``orlop system service [-H unix:///path] ...``: become ``orlopd`` with this root.

    The server runs as its own program (exec, not an import), so the CLI never loads the
    HTTP stack and the server process starts single-threaded and clean.
    """
    import sys

    # --help is answered here; every other option is orlopd's (`orlopd --help`).
    _known, rest = Parser(prog="orlop system service").parse_known_args(argv)
    argv = rest
    ctx.engine()  # refuses -H/--host: the service runs here, on this machine's root
    cfg = ctx.config
    args = [sys.executable, "-m", "orlop.server.main", "--root", str(cfg.root),
            "--run-root", str(cfg.run_root), "--runtime", cfg.runtime, *argv]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, args)


def _prune(argv: list[str], ctx: Context) -> int:
    """``orlop system prune [-a] [--volumes] [-f] [--filter k=v]``: stopped containers,
    then (with --volumes) unused anonymous volumes, then dangling (-a: unused) images,
    with Docker's prompt and report."""
    from orlop.cli.commands.container import confirm
    from orlop.cli.context import parse_filter_flags
    from orlop.cli.units import human_size

    p = Parser(prog="orlop system prune", add_help=False)
    p.add_argument("-a", "--all", action="store_true",
                   help="Remove all unused images not just dangling ones")
    p.add_argument("--volumes", action="store_true", help="Prune anonymous volumes")
    add_prune_flags(p, '"label=<key>=<value>"')
    args = parse_no_args(p, argv, "system prune")
    filters = parse_filter_flags(args.filter)
    if not args.force:
        items = ["all stopped containers", "all networks not used by at least one container"]
        if args.volumes:
            items.append("all anonymous volumes not used by at least one container")
        items.append("all images without at least one container associated to them"
                     if args.all else "all dangling images")
        items.append("unused build cache")
        warning = "WARNING! This will remove:\n" + "".join(f"  - {i}\n" for i in items)
        if not confirm(ctx, warning):
            return 0
    backend = ctx.backend()
    reclaimed = 0
    report = backend.container_prune(filters or None)
    containers = list(report.get("ContainersDeleted") or [])
    reclaimed += int(report.get("SpaceReclaimed") or 0)
    if containers:
        ctx.stdout.write("Deleted Containers:\n" + "".join(f"{c}\n" for c in containers)
                         + "\n")
    net_filters = {k: v for k, v in filters.items() if k in ("label", "label!", "until")}
    networks = backend.network_prune(net_filters or None)
    if networks:
        ctx.stdout.write("Deleted Networks:\n" + "".join(f"{n}\n" for n in networks) + "\n")
    if args.volumes:
        vol_filters = {k: v for k, v in filters.items() if k != "until"}
        volumes, space = backend.volume_prune(False, vol_filters or None)
        reclaimed += space
        if volumes:
            ctx.stdout.write("Deleted Volumes:\n" + "".join(f"{v}\n" for v in volumes) + "\n")
    img_filters = {**filters, **({"dangling": ["false"]} if args.all else {})}
    images = backend.image_prune(img_filters or None)
    reclaimed += int(images.get("SpaceReclaimed") or 0)
    lines = [f"{key.lower()}: {value}" for record in images.get("ImagesDeleted") or []
             for key, value in record.items()]
    if lines:
        ctx.stdout.write("Deleted Images:\n" + "".join(f"{line}\n" for line in lines) + "\n")
    cache = backend.build_prune()  # the build's step images (orlop/build/cache.py)
    reclaimed += int(cache.get("SpaceReclaimed") or 0)
    if cache.get("CachesDeleted"):
        ctx.stdout.write("Deleted build cache objects:\n"
                         + "".join(f"{c}\n" for c in cache["CachesDeleted"]) + "\n")
    ctx.stdout.write(f"Total reclaimed space: {human_size(reclaimed, 4)}\n")
    return 0
