"""The first remote mode of the CLI: hand-written remote twins of a few commands.

Being replaced command by command with commands that call ``ctx.backend()``; a command
module that lists a command in its ``REMOTE`` set no longer comes here."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, TextIO

from orlop.cli.backend.remote import RemoteBackend

# --- remote mode of the CLI (-H/--host) -----------------------------------------------
#
# The commands in cli/commands/ still call the in-process Engine.  Until they go through
# a Backend, main() sends the commands below here when a host is given, rendered as the
# local ones are (same tables, same texts); any other command refuses -H.

REMOTE_COMMANDS = frozenset({"volume", "ps", "rm", "logs", "run"})


def run_remote(name: str, argv: list[str], host: str, out: TextIO, err: TextIO) -> int:
    from orlop.cli.context import UsageError

    if name not in REMOTE_COMMANDS:
        raise UsageError(f"'{name}' does not support -H/--host yet (remote commands: "
                         f"{', '.join(sorted(REMOTE_COMMANDS))})")
    backend = RemoteBackend(host)
    handler = {"volume": _r_volume, "ps": _r_ps, "rm": _r_rm, "logs": _r_logs,
               "run": _r_run}[name]
    return handler(backend, argv, out, err)


def _natural_key(name: str) -> list[tuple[int, int | str]]:
    import re

    return [(0, int(part)) if part.isdigit() else (1, part)
            for part in re.split(r"(\d+)", name) if part]


def _r_volume(b: RemoteBackend, argv: list[str], out: TextIO, err: TextIO) -> int:
    from orlop.cli.context import Parser, UsageError, require_args
    from orlop.cli.output import dump_json, tabwrite

    if not argv:
        raise UsageError('"orlop volume" requires a subcommand (remote: create, inspect, '
                         'ls, rm, prune)')
    sub, rest = argv[0], argv[1:]
    p = Parser(prog=f"orlop volume {sub}", add_help=False)
    if sub == "create":
        p.add_argument("-d", "--driver", default="local")
        p.add_argument("--label", action="append", default=[])
        p.add_argument("-o", "--opt", action="append", default=[])
        p.add_argument("name", nargs="?")
        a = p.parse_args(rest)
        labels = dict(x.partition("=")[::2] for x in a.label)
        opts = dict(x.partition("=")[::2] for x in a.opt)
        v = b.volume_create(a.name, a.driver, opts or None, labels or None)
        print(v["Name"], file=out)
        return 0
    if sub == "inspect":
        p.add_argument("names", nargs="*")
        a = p.parse_args(rest)
        require_args(a.names, "volume inspect", at_least=1)
        print(dump_json([b.volume_inspect(n) for n in a.names]), file=out)
        return 0
    if sub in ("ls", "list"):
        p.add_argument("-q", "--quiet", action="store_true")
        p.add_argument("-f", "--filter", action="append", default=[])
        a = p.parse_args(rest)
        filters: dict[str, list[str]] = {}
        for f in a.filter:
            k, _, v = f.partition("=")
            filters.setdefault(k, []).append(v)
        vols = sorted(b.volume_list(filters or None), key=lambda v: _natural_key(v["Name"]))
        if a.quiet:
            out.write("".join(f"{v['Name']}\n" for v in vols))
        else:
            out.write(tabwrite([["DRIVER", "VOLUME NAME"],
                                *([v["Driver"], v["Name"]] for v in vols)]))
        return 0
    if sub == "rm":
        p.add_argument("-f", "--force", action="store_true")
        p.add_argument("names", nargs="*")
        a = p.parse_args(rest)
        require_args(a.names, "volume rm", at_least=1)
        for n in a.names:
            b.volume_remove(n, a.force)
            print(n, file=out)
        return 0
    if sub == "prune":
        p.add_argument("-a", "--all", action="store_true")
        p.add_argument("-f", "--force", action="store_true")
        a = p.parse_args(rest)
        removed, _space = b.volume_prune(a.all, None)
        if removed:
            print("Deleted Volumes:", file=out)
            for n in removed:
                print(n, file=out)
            print("", file=out)
        return 0
    raise UsageError(f"'volume {sub}' does not support -H/--host yet")


def _r_ps(b: RemoteBackend, argv: list[str], out: TextIO, err: TextIO) -> int:
    import time

    from orlop.cli.context import Parser
    from orlop.cli.output import render_table
    from orlop.cli.units import human_duration

    p = Parser(prog="orlop ps", add_help=False)
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--no-trunc", action="store_true")
    a = p.parse_args(argv)
    cs = b.api.containers(all_=a.all)
    if a.quiet:
        for c in cs:
            print(c["Id"] if a.no_trunc else c["Id"][:12], file=out)
        return 0
    rows = []
    for c in cs:
        command = str(c.get("Command") or "")
        if not a.no_trunc and len(command) > 20:
            command = command[:19] + "…"
        rows.append([c["Id"] if a.no_trunc else c["Id"][:12], str(c.get("Image", "")),
                     f'"{command}"',
                     human_duration(time.time() - int(c.get("Created") or 0)) + " ago",
                     str(c.get("Status", "")), "",
                     ",".join(n.lstrip("/") for n in c.get("Names") or [])])
    print(render_table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS",
                        "NAMES"], rows), file=out)
    return 0


def _r_rm(b: RemoteBackend, argv: list[str], out: TextIO, err: TextIO) -> int:
    from orlop.cli.context import Parser, require_args
    from orlop.errors import OrlopError

    p = Parser(prog="orlop rm", add_help=False)
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("-v", "--volumes", action="store_true")
    p.add_argument("containers", nargs="*")
    a = p.parse_args(argv)
    require_args(a.containers, "rm", at_least=1)
    failed = False
    for ref in a.containers:
        try:
            b.api.remove_container(ref, force=a.force, volumes=a.volumes)
            print(ref, file=out)
        except OrlopError as e:
            print(f"Error: {e}", file=err)
            failed = True
    return 1 if failed else 0


def _copy_frames(frames: Iterator[tuple[int, bytes]], out: TextIO, err: TextIO) -> None:
    for stream, data in frames:
        target = err if stream == 2 else out
        target.flush()
        target.buffer.write(data)
        target.buffer.flush()


def _r_logs(b: RemoteBackend, argv: list[str], out: TextIO, err: TextIO) -> int:
    from orlop.cli.context import Parser, require_args

    p = Parser(prog="orlop logs", add_help=False)
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-n", "--tail", default="all")
    p.add_argument("--since", default="")
    p.add_argument("--until", default="")
    p.add_argument("-t", "--timestamps", action="store_true")
    p.add_argument("container", nargs="*")
    a = p.parse_args(argv)
    require_args(a.container, "logs", exactly=1)
    import urllib.parse

    frames = b.api.stream("GET", f"/containers/{urllib.parse.quote(a.container[0])}/logs",
                          {"stdout": True, "stderr": True, "follow": a.follow,
                           "tail": a.tail, "since": a.since or None,
                           "until": a.until or None, "timestamps": a.timestamps})
    _copy_frames(frames, out, err)
    return 0


def _r_run(b: RemoteBackend, argv: list[str], out: TextIO, err: TextIO) -> int:
    """``run`` through the API as the docker CLI does it: create, attach, start, wait,
    (remove).  The flags mapped are those below; the others are refused, not ignored."""
    import threading
    import urllib.parse

    from orlop.cli.commands.run import _parser
    from orlop.cli.context import UsageError

    a = _parser("run").parse_args(argv)
    if not a.image:
        raise UsageError('"orlop run" requires at least 1 argument.')
    defaults = vars(_parser("run").parse_args(["x"]))
    mapped = {"rm", "name", "env", "workdir", "user", "entrypoint", "hostname", "network",
              "detach", "volume", "tmpfs", "label", "read_only", "image", "command",
              "restart", "help"}
    for key, value in vars(a).items():
        if key not in mapped and value != defaults.get(key):
            raise UsageError(f"--{key.replace('_', '-')} is not supported with -H/--host yet")
    host_config: dict[str, Any] = {
        "AutoRemove": False, "Binds": a.volume or None, "ReadonlyRootfs": a.read_only,
        "NetworkMode": a.network, "Tmpfs": {t.partition(":")[0]: t.partition(":")[2]
                                            for t in a.tmpfs} or None}
    if a.restart:
        n, _, count = a.restart.partition(":")
        host_config["RestartPolicy"] = {"Name": n, "MaximumRetryCount": int(count or 0)}
    body: dict[str, Any] = {
        "Image": a.image, "Cmd": a.command or None, "Env": a.env or None,
        "WorkingDir": a.workdir, "User": a.user, "Hostname": a.hostname,
        "Labels": dict(x.partition("=")[::2] for x in a.label),
        "Entrypoint": [a.entrypoint] if a.entrypoint else None,
        "AttachStdout": not a.detach, "AttachStderr": not a.detach,
        "HostConfig": host_config}
    if a.detach:
        host_config["AutoRemove"] = a.rm
    cid = b.api.create_container(body, a.name)
    if a.detach:
        b.api.start_container(cid)
        print(cid, file=out)
        return 0
    ref = urllib.parse.quote(cid)
    frames = b.api.stream("POST", f"/containers/{ref}/attach",
                          {"stream": True, "stdout": True, "stderr": True})
    relay = threading.Thread(target=_copy_frames, args=(frames, out, err), daemon=True)
    relay.start()
    try:
        b.api.start_container(cid)
        code = b.api.wait_container(cid)
        relay.join(timeout=30)
    finally:
        if a.rm:
            with contextlib.suppress(Exception):
                b.api.remove_container(cid, force=True, volumes=True)
    return code
