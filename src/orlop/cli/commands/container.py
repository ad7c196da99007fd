"""`orlop start`, `ps`, `rm` and the `orlop container` group."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

from orlop.cli.context import Context, Parser, UsageError, require_args
from orlop.cli.output import format_template, render_table

if TYPE_CHECKING:
    from orlop.engine.models import Container

_GROUP = {"ls": "ps", "list": "ps", "ps": "ps", "rm": "rm", "remove": "rm", "start": "start",
          "create": "create", "run": "run", "inspect": "inspect", "stop": "stop",
          "kill": "kill", "wait": "wait", "restart": "restart", "pause": "pause",
          "unpause": "unpause", "rename": "rename", "top": "top", "logs": "logs",
          "attach": "attach", "exec": "exec"}
_LIFECYCLE = {"stop", "kill", "wait", "restart", "pause", "unpause", "rename", "top", "logs",
              "attach"}


def main(name: str, argv: list[str], ctx: Context) -> int:
    if name == "container":
        if not argv or argv[0] in ("-h", "--help"):
            print("\nUsage:  orlop container COMMAND\n\nManage containers\n\nCommands:\n"
                  "  attach, create, exec, inspect, kill, logs, ls, pause, rename, restart, rm, "
            "run, start, stop, top, unpause, wait", file=ctx.stdout)
            return 0
        sub = _GROUP.get(argv[0])
        if sub is None:
            raise UsageError(f"unknown command \"{argv[0]}\" for \"orlop container\"")
        argv = argv[1:]
        if sub in ("create", "run"):
            from orlop.cli.commands import run

            return run.main(sub, argv, ctx)
        if sub == "inspect":
            from orlop.cli.commands import inspect

            return inspect.main("container inspect", argv, ctx)
        if sub in _LIFECYCLE:
            from orlop.cli.commands import lifecycle

            ctx.command = f"container {sub}"
            return lifecycle.main(sub, argv, ctx)
        if sub == "exec":
            from orlop.cli.commands import exec as exec_cmd

            ctx.command = "container exec"
            return exec_cmd.main("exec", argv, ctx)
        ctx.command = f"container {(argv and sub) or sub}"
        name = sub
    return {"start": _start, "ps": _ps, "rm": _rm}[name](argv, ctx)


def _start(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop start", add_help=False)
    p.add_argument("-a", "--attach", action="store_true")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("containers", nargs="*")
    args = p.parse_args(argv)
    require_args(args.containers, "start", at_least=1)
    if args.attach or args.interactive:
        if len(args.containers) > 1:
            raise UsageError("you cannot start and attach multiple containers at once")
        from orlop.engine.runner import Stdio

        sys.stdout.flush()
        return ctx.engine().start_attached(args.containers[0], Stdio(0, 1, 2),
                                           interactive=args.interactive)
    from orlop.errors import OrlopError

    engine = ctx.engine()
    failed = []
    for ref in args.containers:
        try:
            engine.start_detached(ref)
            print(ref, file=ctx.stdout)
        except OrlopError as err:
            print(f"Error response from daemon: {err}", file=ctx.stderr)
            failed.append(ref)
    if failed:
        print(f"Error: failed to start containers: {', '.join(failed)}", file=ctx.stderr)
        return 1
    return 0


def _status_text(status: str, exit_code: int, started: str, finished: str) -> str:
    from orlop.cli.units import human_duration
    from orlop.engine.timefmt import parse_rfc3339

    now = time.time()
    if status == "running":
        return "Up " + human_duration(now - parse_rfc3339(started))
    if status == "paused":
        return "Up " + human_duration(now - parse_rfc3339(started)) + " (Paused)"
    if status == "restarting":
        return (f"Restarting ({exit_code}) "
                f"{human_duration(now - parse_rfc3339(finished))} ago")
    if status == "exited":
        if parse_rfc3339(finished) == 0.0:
            return f"Exited ({exit_code})"
        return f"Exited ({exit_code}) {human_duration(now - parse_rfc3339(finished))} ago"
    if status == "created":
        return "Created"
    if status == "removing":
        return "Removal In Progress"
    return status.capitalize()


_PS_FILTERS = {"status", "name", "label", "volume", "id", "exited", "ancestor"}
_STATUSES = {"created", "restarting", "running", "removing", "paused", "exited", "dead"}


def _parse_filters(items: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"bad format of filter (expected name=value): {item}")
        if key not in _PS_FILTERS:
            from orlop.errors import InvalidParameterError

            raise InvalidParameterError(f"invalid filter '{key}'")
        if key == "status" and value not in _STATUSES:
            from orlop.errors import InvalidParameterError

            raise InvalidParameterError(
                f"invalid filter 'status={value}': must be one of created, restarting, "
                "running, removing, paused, exited, or dead")
        out.setdefault(key, []).append(value)
    return out


def _matches(c: Container, f: dict[str, list[str]], mounts: list[dict[str, Any]]) -> bool:
    import re

    if "status" in f and c.status not in f["status"]:
        return False
    if "id" in f and not any(c.id.startswith(v) for v in f["id"]):
        return False
    if "name" in f and not any(re.search(v, c.name) for v in f["name"]):
        return False
    if "exited" in f and not (c.status == "exited" and str(c.exit_code) in f["exited"]):
        return False
    if "ancestor" in f and not any(v in (c.image_ref, c.image_id, c.image_id[7:19])
                                   for v in f["ancestor"]):
        return False
    if "label" in f:
        for want in f["label"]:
            k, sep, v = want.partition("=")
            if k not in c.config.labels or (sep and c.config.labels[k] != v):
                return False
    if "volume" in f:
        names = {m.get("name") for m in mounts} | {m.get("destination") for m in mounts}
        if not any(v in names for v in f["volume"]):
            return False
    return True


def _ps(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop ps", add_help=False)
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("--format", default="")
    p.add_argument("-f", "--filter", action="append", default=[])
    args = p.parse_args(argv)
    from orlop.cli.units import human_duration
    from orlop.engine.timefmt import parse_rfc3339

    engine = ctx.engine()
    filters = _parse_filters(args.filter)
    containers = engine.list_containers(all_=args.all or "status" in filters
                                        or "exited" in filters)
    if filters:
        containers = [c for c in containers
                      if _matches(c, filters, engine.mount_points(c.id)
                                  if "volume" in filters else [])]
    if args.quiet:
        for c in containers:
            print(c.id if args.no_trunc else c.short_id, file=ctx.stdout)
        return 0
    rows = []
    for c in containers:
        cfg = c.config
        image = c.image_ref
        img_cmd: list[str] = []
        try:
            img_cfg = engine.images.get(c.image_id).container_config
            ep = cfg.entrypoint if cfg.entrypoint is not None else img_cfg.get("Entrypoint")
            cmd = cfg.cmd if cfg.cmd is not None else img_cfg.get("Cmd")
            img_cmd = [*(ep or []), *(cmd or [])]
        except Exception:
            img_cmd = [*(cfg.entrypoint or []), *(cfg.cmd or [])]
        command = " ".join(img_cmd)
        if not args.no_trunc and len(command) > 20:
            command = command[:19] + "…"
        item = {
            "ID": c.id if args.no_trunc else c.short_id,
            "Image": image,
            "Command": f'"{command}"',
            "CreatedAt": c.created,
            "RunningFor": human_duration(time.time() - parse_rfc3339(c.created)) + " ago",
            "Status": _status_text(c.status, c.exit_code, c.started_at, c.finished_at),
            "Ports": "",
            "Names": c.name,
            "State": c.status,
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(cfg.labels.items())),
            "Mounts": "",
        }
        rows.append(item)
    fmt = args.format
    if fmt and not fmt.startswith("table"):
        for item in rows:
            print(format_template(fmt, item), file=ctx.stdout)
        return 0
    headers = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    keys = ["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"]
    print(render_table(headers, [[r[k] for k in keys] for r in rows]), file=ctx.stdout)
    return 0


def _rm(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop rm", add_help=False)
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("-v", "--volumes", action="store_true")
    p.add_argument("containers", nargs="*")
    args = p.parse_args(argv)
    require_args(args.containers, "rm", at_least=1)
    from orlop.errors import OrlopError

    engine = ctx.engine()
    failed = False
    for ref in args.containers:
        try:
            engine.remove_container(ref, force=args.force, volumes=args.volumes)
            print(ref, file=ctx.stdout)
        except OrlopError as err:
            print(f"Error: {err}", file=ctx.stderr)
            failed = True
    return 1 if failed else 0
