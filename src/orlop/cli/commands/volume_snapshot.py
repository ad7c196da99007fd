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

from collections.abc import Callable, Mapping
from typing import Any

from orlop.cli.context import Context, Parser, UsageError, for_each, parse_with_args
from orlop.cli.output import FORMAT_TABLE, write_listing

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
    args = parse_with_args(p, argv, ctx.command, at_least=1, at_most=2)
    snap = ctx.backend().volume_snapshot_create(
        args.args[0], args.args[1] if len(args.args) > 1 else None, args.consistent)
    print(snap["Name"], file=ctx.stdout)
    return 0


def _ls(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop volume snapshot ls", add_help=False)
    p.add_argument("-q", "--quiet", action="store_true", help="Only display snapshot names")
    p.add_argument("--format", default="", help=FORMAT_TABLE)
    args = parse_with_args(p, argv, ctx.command, exactly=1)
    snaps = ctx.backend().volume_snapshot_list(args.args[0])
    objs = [_object(snap) for snap in snaps]
    write_listing(ctx.stdout, objs, args.format, quiet=args.quiet, key="Name", headers=_HEADERS,
                  body="{{.Name}}\t{{.CreatedSince}}\t{{.Size}}",
                  rows=[["SNAPSHOT", "CREATED", "SIZE", "METHOD"],
                        *([o["Name"], o["CreatedSince"], o["Size"], o["Method"]] for o in objs)])
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


def _rm(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop volume snapshot rm", add_help=False)
    args = parse_with_args(p, argv, ctx.command, at_least=2)
    backend = ctx.backend()
    return for_each(args.args[1:], ctx,
                    lambda snap: backend.volume_snapshot_remove(args.args[0], snap))


def _restore(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop volume snapshot restore", add_help=False)
    args = parse_with_args(p, argv, ctx.command, exactly=2)
    ctx.backend().volume_snapshot_restore(args.args[0], args.args[1])
    print(args.args[0], file=ctx.stdout)
    return 0
