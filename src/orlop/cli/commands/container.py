"""`orlop start`, `ps`, `rm` and the `orlop container` group."""

from __future__ import annotations

import re
import sys
import time
from typing import Any

from orlop.cli.context import (
    Context,
    Parser,
    UsageError,
    add_prune_flags,
    for_each,
    parse_filter_flags,
    parse_no_args,
    parse_with_args,
)
from orlop.cli.output import FORMAT_TABLE, format_template, render_table
from orlop.errors import NotFoundError

# Every command of this module, and the whole `container` group, works through orlopd.
REMOTE = frozenset({"start", "ps", "rm", "container", "port"})



def main(name: str, argv: list[str], ctx: Context) -> int:
    """``start``, ``ps``, ``rm``, ``prune``; main() routes ``container <verb>`` here or to
    the verb's module (cli/registry.py), and only a verb it does not know to the group."""
    if name == "container":
        raise UsageError(f"unknown command \"{argv[0] if argv else ''}\" for \"orlop "
                         "container\"")
    return {"start": _start, "ps": _ps, "rm": _rm, "prune": _prune,
            "port": _port}[name](argv, ctx)


def _port(argv: list[str], ctx: Context) -> int:
    """``orlop port CONTAINER [PRIVATE_PORT[/PROTO]]``: Docker's lines."""
    p = Parser(prog="orlop port", add_help=False)
    p.add_argument("args", nargs="*")
    args = p.parse_args(argv)
    if not args.args or len(args.args) > 2:
        raise UsageError('"orlop port" requires at least 1 and at most 2 arguments.')
    ref = args.args[0]
    info = ctx.backend().container_inspect(ref)
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    if len(args.args) == 2:
        want = args.args[1]
        port, _, proto = want.partition("/")
        if not port.isdigit():
            raise UsageError(f"Error: invalid port ({port})")
        key = f"{port}/{proto or 'tcp'}"
        binds = ports.get(key) or []
        if not binds:
            raise NotFoundError(f"No public port '{key}' published for {ref}")
        for b in binds:
            print(f"{b['HostIp']}:{b['HostPort']}", file=ctx.stdout)
        return 0
    items = []
    for key, binds in ports.items():
        port, _, proto = key.partition("/")
        for b in binds or []:
            items.append(((int(port), proto), f"{key} -> {b['HostIp']}:{b['HostPort']}"))
    for _k, line in sorted(items):
        print(line, file=ctx.stdout)
    return 0


def confirm(ctx: Context, warning: str) -> bool:
    """Docker's prune prompt: the warning, then ``[y/N]`` read from stdin."""
    ctx.stdout.write(f"{warning}\nAre you sure you want to continue? [y/N] ")
    ctx.stdout.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _prune(argv: list[str], ctx: Context) -> int:
    """``orlop container prune [-f] [--filter k=v]``: Docker's prompt, list and total."""
    from orlop.cli.units import human_size

    p = Parser(prog="orlop container prune", add_help=False)
    add_prune_flags(p, '"until=<timestamp>"')
    args = parse_no_args(p, argv, "container prune")
    filters = parse_filter_flags(args.filter)
    if not args.force and not confirm(
            ctx, "WARNING! This will remove all stopped containers."):
        return 0
    report = ctx.backend().container_prune(filters or None)
    deleted = list(report.get("ContainersDeleted") or [])
    if deleted:
        ctx.stdout.write("Deleted Containers:\n" + "".join(f"{c}\n" for c in deleted) + "\n")
    reclaimed = int(report.get("SpaceReclaimed") or 0)
    ctx.stdout.write(f"Total reclaimed space: {human_size(reclaimed, 4)}\n")
    return 0


def _start(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop start", add_help=False)
    p.add_argument("-a", "--attach", action="store_true",
                   help="Attach STDOUT/STDERR and forward signals")
    p.add_argument("-i", "--interactive", action="store_true", help="Attach container's STDIN")
    p.add_argument("--detach-keys", default="",
                   help="Override the key sequence for detaching a container")
    args = parse_with_args(p, argv, "start", at_least=1, positional="containers")
    backend = ctx.backend()
    if args.attach or args.interactive:
        if len(args.containers) > 1:
            raise UsageError("you cannot start and attach multiple containers at once")
        from orlop.detachkeys import Detached, detach_keys_text, parse_detach_keys

        keys = detach_keys_text(args.detach_keys)
        if keys:
            parse_detach_keys(keys)
        sys.stdout.flush()
        try:
            return backend.container_start_attached(args.containers[0], args.interactive,
                                                    detach_keys=keys)
        except Detached:
            return 0  # the docker CLI's start -ai: detached, silently, exit 0
    from orlop.errors import OrlopError

    failed = []
    for ref in args.containers:
        try:
            backend.container_start(ref)
            print(ref, file=ctx.stdout)
        except OrlopError as err:
            print(f"Error response from daemon: {err}", file=ctx.stderr)
            failed.append(ref)
    if failed:
        print(f"Error: failed to start containers: {', '.join(failed)}", file=ctx.stderr)
        return 1
    return 0


def _parse_filters(items: list[str]) -> dict[str, list[str]]:
    """``-f key=value`` flags -> Docker's filters (checked by wire.ps: the same
    ``invalid filter`` errors locally and through orlopd)."""
    from orlop.wire.ps import check_filters

    out = parse_filter_flags(items)
    check_filters(out)
    return out


# Docker's column headers of `ps --format "table ..."`.
_HEADERS = {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND",
            "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Status": "STATUS",
            "Ports": "PORTS", "Names": "NAMES", "State": "STATE", "Labels": "LABELS",
            "Mounts": "MOUNTS", "Networks": "NETWORKS", "LocalVolumes": "LOCAL VOLUMES",
            "Size": "SIZE", "Image.ID": "IMAGE ID"}
_DEFAULT_TABLE = ("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t"
                  "{{.Status}}\t{{.Ports}}\t{{.Names}}")


def _names_column(names: list[str], trunc: bool) -> str:
    """The docker CLI's NAMES: every name (links' ``this/alias`` too) with --no-trunc,
    else the container's own (the first without a "/")."""
    stripped = [n.removeprefix("/") for n in names]
    if trunc:
        stripped = next(([n] for n in stripped if "/" not in n), stripped)
    return ",".join(stripped)


def _ps_item(c: dict[str, Any], trunc: bool, now: float) -> dict[str, Any]:
    """One ``GET /containers/json`` entry as the fields of ``ps --format``."""
    from orlop.cli.units import human_duration
    from orlop.mounts.validate import go_quote

    command = str(c.get("Command") or "")
    if trunc and len(command) > 20:
        command = command[:19] + "…"  # the docker CLI's Ellipsis(command, 20)
    created = int(c.get("Created") or 0)
    mounts = [str(m.get("Name") or m.get("Source") or "") for m in c.get("Mounts") or []]
    if trunc:
        mounts = [m if len(m) <= 15 else m[:14] + "…" for m in mounts]
    labels = c.get("Labels") or {}
    return {
        "ID": c["Id"][:12] if trunc else c["Id"],
        "Image": str(c.get("Image") or ""),
        "Command": go_quote(command),  # strconv.Quote, as the docker CLI
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(created)),
        "RunningFor": human_duration(now - created) + " ago",
        "Status": str(c.get("Status") or ""),
        "Ports": _ports_column(c.get("Ports") or []),
        "Names": _names_column(c.get("Names") or [], trunc),
        "State": str(c.get("State") or ""),
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "Mounts": ",".join(mounts),
        "Networks": ",".join(sorted((c.get("NetworkSettings") or {}).get("Networks") or {})),
        "LocalVolumes": str(sum(1 for m in c.get("Mounts") or []
                                if m.get("Type") == "volume")),
        "Size": _size_column(c),
    }


def _size_column(c: dict[str, Any]) -> str:
    """The docker CLI's SIZE: ``2B (virtual 1.99MB)`` (the writable layer, then with
    the image), the first alone when there is no SizeRootFs."""
    from orlop.cli.units import human_size

    rw, root = int(c.get("SizeRw") or 0), int(c.get("SizeRootFs") or 0)
    return f"{human_size(rw)} (virtual {human_size(root)})" if root > 0 else human_size(rw)


def _ports_column(ports: list[dict[str, object]]) -> str:
    """Docker's PORTS: ``127.0.0.1:8080->80/tcp, 443/tcp``."""
    items = []
    for p in ports:
        private, proto = int(str(p.get("PrivatePort") or 0)), str(p.get("Type") or "tcp")
        if p.get("PublicPort"):
            text = f"{p.get('IP') or '0.0.0.0'}:{p['PublicPort']}->{private}/{proto}"
        else:
            text = f"{private}/{proto}"
        items.append((private, proto, text))
    return ", ".join(t for _p, _q, t in sorted(items))


def _ps(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop ps", add_help=False)
    p.add_argument("-a", "--all", action="store_true",
                   help="Show all containers (default shows just running)")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display container IDs")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("--format", default="", help=FORMAT_TABLE)
    p.add_argument("-f", "--filter", action="append", default=[], metavar="filter",
                   help="Filter output based on conditions provided")
    p.add_argument("-n", "--last", type=int, default=-1,
                   help="Show n last created containers (includes all states)")
    p.add_argument("-l", "--latest", action="store_true",
                   help="Show the latest created container (includes all states)")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    args = p.parse_args(argv)
    filters = _parse_filters(args.filter)
    limit = 1 if args.latest else args.last
    fmt = args.format or (_DEFAULT_TABLE + ("\t{{.Size}}" if args.size else ""))
    # the docker CLI asks for sizes with -s, or when the format uses .Size
    size = args.size or ".Size" in fmt
    containers = ctx.backend().container_list(args.all, filters or None, limit, size=size)
    trunc = not args.no_trunc
    if args.quiet:
        for c in containers:
            print(c["Id"][:12] if trunc else c["Id"], file=ctx.stdout)
        return 0
    now = time.time()
    items = [_ps_item(c, trunc, now) for c in containers]
    if fmt == "json":
        fmt = "{{json .}}"
    if not fmt.startswith("table"):
        for item in items:
            print(format_template(fmt, item, row=True), file=ctx.stdout)
        return 0
    template = fmt[len("table"):].strip() or _DEFAULT_TABLE[len("table "):]
    header = re.sub(r"\{\{\s*\.([\w.]+)\s*\}\}",
                    lambda m: _HEADERS.get(m.group(1), m.group(1).upper()), template)
    lines = [format_template(header, {})] + [format_template(template, i, row=True) for i in items]
    rows = [line.split("\t") for line in lines]
    print(render_table(rows[0], rows[1:]), file=ctx.stdout)
    return 0


def _rm(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop rm", add_help=False)
    p.add_argument("-f", "--force", action="store_true",
                   help="Force the removal of a running container (uses SIGKILL)")
    p.add_argument("-v", "--volumes", action="store_true",
                   help="Remove anonymous volumes associated with the container")
    p.add_argument("-l", "--link", action="store_true", help="Remove the specified link")
    args = parse_with_args(p, argv, "rm", at_least=1, positional="containers")
    backend = ctx.backend()
    return for_each(args.containers, ctx,
                    lambda ref: backend.container_remove(ref, args.force, args.volumes,
                                                         link=args.link))
