"""`orlop volume snapshot create|ls|rm|restore VOLUME [SNAPSHOT]`: Orlop's volume
snapshots (orlop.volumes.snapshots), in-process or through orlopd's
``/libpod/volumes/{name}/snapshots`` routes with ``-H``.

Output follows the docker CLI's habits: ``create`` prints the snapshot's name, ``rm``
each name removed (an error per failure, exit 1 if any), ``restore`` the volume's name;
``ls`` a table (``SNAPSHOT  CREATED  SIZE  METHOD``), ``-q`` names only, ``--format``
``json`` (one object per line) or a Go template over ``.Name .Volume .ID .CreatedAt
.CreatedSince .Size .Method``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from orlop.cli.context import Context, Parser, UsageError, require_args
from orlop.cli.help import FORMAT_TABLE
from orlop.cli.output import format_template, tabwrite
from orlop.errors import InvalidParameterError, OrlopError

_HEADERS = {"Name": "SNAPSHOT", "Volume": "VOLUME", "ID": "ID", "CreatedAt": "CREATED AT",
            "CreatedSince": "CREATED", "Size": "SIZE", "Method": "METHOD", "Kind": "KIND"}


def main(argv: list[str], ctx: Context) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        p = Parser(prog="orlop volume snapshot", add_help=False)
        p.parse_args(["--help"])  # HelpRequested: main() prints the command's help
    sub = {"list": "ls", "remove": "rm"}.get(argv[0], argv[0])
    commands: dict[str, Callable[[list[str], Context], int]] = {
        "create": _create, "ls": _ls, "rm": _rm, "restore": _restore}
    if sub not in commands:
        raise UsageError(f'unknown command "{argv[0]}" for "orlop volume snapshot"')
    ctx.command = f"volume snapshot {sub}"
    return commands[sub](argv[1:], ctx)


def _create(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop volume snapshot create", add_help=False)
    p.add_argument("--consistent", action="store_true",
                   help="Freeze the running containers writing to the volume while the "
                        "snapshot is taken")
    p.add_argument("args", nargs="*")
    args = p.parse_args(argv)
    require_args(args.args, ctx.command, at_least=1, at_most=2)
    snap = ctx.backend().volume_snapshot_create(
        args.args[0], args.args[1] if len(args.args) > 1 else None, args.consistent)
    print(snap["Name"], file=ctx.stdout)
    return 0


def _ls(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop volume snapshot ls", add_help=False)
    p.add_argument("-q", "--quiet", action="store_true", help="Only display snapshot names")
    p.add_argument("--format", default="", help=FORMAT_TABLE)
    p.add_argument("args", nargs="*")
    args = p.parse_args(argv)
    require_args(args.args, ctx.command, exactly=1)
    snaps = ctx.backend().volume_snapshot_list(args.args[0])
    fmt: str = args.format.strip()
    out = ctx.stdout
    if args.quiet and fmt in ("", "table"):
        out.write("".join(f"{s['Name']}\n" for s in snaps))
        return 0
    if fmt in ("", "table"):
        rows = [["SNAPSHOT", "CREATED", "SIZE", "METHOD"]]
        for s in snaps:
            o = _object(s)
            rows.append([o["Name"], o["CreatedSince"], o["Size"], o["Method"]])
        out.write(tabwrite(rows))
        return 0
    if fmt == "json":
        out.write("".join(json.dumps(_object(s), sort_keys=True, separators=(",", ":"))
                          + "\n" for s in snaps))
        return 0
    if fmt.startswith("table"):
        body = fmt[len("table"):].strip() or "{{.Name}}\t{{.CreatedSince}}\t{{.Size}}"
        lines = [_template(body, _HEADERS), *(_template(body, _object(s)) for s in snaps)]
        out.write(tabwrite([line.split("\t") for line in lines]))
        return 0
    out.write("".join(_template(fmt, _object(s)) + "\n" for s in snaps))
    return 0


def _object(s: Mapping[str, Any]) -> dict[str, str]:
    from orlop.cli.units import human_size, time_ago

    created = str(s.get("CreatedAt", ""))
    try:
        since = time_ago(created)
    except ValueError:
        since = "N/A"
    return {"Name": str(s["Name"]), "Volume": str(s.get("Volume", "")),
            "ID": str(s.get("ID", "")), "CreatedAt": created, "CreatedSince": since,
            "Size": human_size(int(s.get("Size") or 0)), "Method": str(s.get("Method", "")),
            "Kind": str(s.get("Kind", ""))}


def _template(fmt: str, obj: Mapping[str, Any]) -> str:
    try:
        return format_template(fmt, obj)
    except ValueError as err:
        raise InvalidParameterError(f"template parsing error: {err}") from None


def _rm(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop volume snapshot rm", add_help=False)
    p.add_argument("args", nargs="*")
    args = p.parse_args(argv)
    require_args(args.args, ctx.command, at_least=2)
    backend = ctx.backend()
    failed = False
    for snap in args.args[1:]:
        try:
            backend.volume_snapshot_remove(args.args[0], snap)
        except OrlopError as err:
            print(f"Error: {err}", file=ctx.stderr)
            failed = True
            continue
        print(snap, file=ctx.stdout)
    return 1 if failed else 0


def _restore(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop volume snapshot restore", add_help=False)
    p.add_argument("args", nargs="*")
    args = p.parse_args(argv)
    require_args(args.args, ctx.command, exactly=2)
    ctx.backend().volume_snapshot_restore(args.args[0], args.args[1])
    print(args.args[0], file=ctx.stdout)
    return 0
