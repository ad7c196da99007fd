"""`orlop version`, `orlop info`, `orlop system df|info`."""

from __future__ import annotations

import os
import platform

from orlop.cli.context import Context, Parser, UsageError


def main(name: str, argv: list[str], ctx: Context) -> int:
    if name == "system":
        if not argv or argv[0] in ("-h", "--help"):
            print("\nUsage:  orlop system COMMAND\n\nManage Orlop\n\nCommands:\n"
                  "  df          Show disk usage\n  info        Display system-wide information\n"
                  "  service     Serve the Docker Engine API on a unix socket (orlopd)",
                  file=ctx.stdout)
            return 0
        sub, argv = argv[0], argv[1:]
        ctx.command = f"system {sub}"
        if sub == "info":
            return _info(argv, ctx)
        if sub == "df":
            return _df(argv, ctx)
        if sub == "service":
            return _service(argv, ctx)
        raise UsageError(f'unknown command "{sub}" for "orlop system"')
    if name == "version":
        return _version(argv, ctx)
    return _info(argv, ctx)


def _version(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop version", add_help=False)
    p.add_argument("-f", "--format", default="")
    args = p.parse_args(argv)
    from orlop import __version__

    info = {
        "Client": {"Version": __version__, "ApiVersion": "1.45", "GoVersion": "",
                   "Os": "linux", "Arch": platform.machine(),
                   "PythonVersion": platform.python_version()},
        "Server": {"Version": __version__, "ApiVersion": "1.45", "MinAPIVersion": "1.41",
                   "Os": "linux", "Arch": platform.machine(),
                   "KernelVersion": platform.release()},
    }
    if args.format:
        from orlop.cli.output import format_template

        print(format_template(args.format, info), file=ctx.stdout)
        return 0
    c, s = info["Client"], info["Server"]
    print(f"Client:\n Version:           {c['Version']}\n API version:       {c['ApiVersion']}\n"
          f" Python version:    {c['PythonVersion']}\n OS/Arch:           linux/{c['Arch']}\n\n"
          f"Server: Orlop Engine (daemonless)\n Engine:\n  Version:          {s['Version']}\n"
          f"  API version:      {s['ApiVersion']} (minimum version {s['MinAPIVersion']})\n"
          f"  OS/Arch:          linux/{s['Arch']}\n  Kernel:           {s['KernelVersion']}",
          file=ctx.stdout)
    return 0


def _info(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop info", add_help=False)
    p.add_argument("-f", "--format", default="")
    args = p.parse_args(argv)
    from orlop import __version__
    from orlop.engine.sysinfo import system_info

    engine = ctx.engine()
    si = system_info(engine)
    info = {
        "Containers": si.containers, "ContainersRunning": si.running,
        "ContainersPaused": si.paused, "ContainersStopped": si.stopped, "Images": si.images,
        "Volumes": si.volumes,
        "Driver": "overlay2", "DockerRootDir": str(engine.config.root),
        "RunRoot": str(engine.config.run_root),
        "DefaultRuntime": engine.config.runtime, "ServerVersion": __version__,
        "KernelVersion": si.kernel, "OperatingSystem": si.os_name,
        "OSType": "linux", "Architecture": si.arch, "NCPU": si.ncpu,
        "MemTotal": si.mem_total, "CgroupVersion": si.cgroup_version,
    }
    if args.format:
        from orlop.cli.output import format_template

        print(format_template(args.format, info), file=ctx.stdout)
        return 0
    print(f"""Client:
 Version:    {__version__}

Server:
 Containers: {info['Containers']}
  Running: {si.running}
  Paused: {si.paused}
  Stopped: {info['ContainersStopped']}
 Images: {info['Images']}
 Volumes: {info['Volumes']}
 Server Version: {__version__}
 Storage Driver: overlay2
 Default Runtime: {info['DefaultRuntime']}
 Kernel Version: {info['KernelVersion']}
 Operating System: {info['OperatingSystem']}
 OSType: linux
 Architecture: {info['Architecture']}
 CPUs: {info['NCPU']}
 Orlop Root Dir: {info['DockerRootDir']}
 Run Root Dir: {info['RunRoot']}""", file=ctx.stdout)
    return 0


def _df(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop system df", add_help=False)
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--format", default="")
    args = p.parse_args(argv)
    from orlop.cli.df import disk_usage

    ctx.stdout.write(disk_usage(ctx.engine(), verbose=args.verbose, fmt=args.format))
    return 0


def _service(argv: list[str], ctx: Context) -> int:
    """``orlop system service [-H unix:///path] ...``: become ``orlopd`` with this root.

    The server runs as its own program (exec, not an import), so the CLI never loads the
    HTTP stack and the server process starts single-threaded and clean.
    """
    import sys

    cfg = ctx.config
    args = [sys.executable, "-m", "orlop.server.main", "--root", str(cfg.root),
            "--run-root", str(cfg.run_root), "--runtime", cfg.runtime, *argv]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, args)
