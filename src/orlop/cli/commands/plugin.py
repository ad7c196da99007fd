"""`orlop plugin ls`: the Docker volume plugins Orlop finds (legacy plugins: sockets and
spec files in the plugin directories), in ``docker plugin ls``'s columns.

Docker's command lists managed (v2) plugins, which Orlop does not have; the columns keep
their meaning for legacy plugins: ID (Orlop's stable id of name and address), NAME,
DESCRIPTION (what the plugin implements, or why it does not answer) and ENABLED
(whether it answered ``/Plugin.Activate`` now).  See docs/volume-plugins.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orlop.cli.context import Context, Parser, UsageError, parse_filter_flags
from orlop.cli.output import format_template, tabwrite
from orlop.errors import InvalidParameterError
from orlop.wire.gojson import marshal

REMOTE = frozenset({"plugin"})

_ALIASES = {"list": "ls"}
_HEADERS = {"ID": "ID", "Name": "NAME", "Description": "DESCRIPTION", "Enabled": "ENABLED",
            "PluginReference": "PLUGIN REFERENCE", "Socket": "SOCKET"}
_DEFAULT = "{{.ID}}\t{{.Name}}\t{{.Description}}\t{{.Enabled}}"
_DESCRIPTION_WIDTH = 45  # docker/cli's plugin ls truncates descriptions to this


def main(name: str, argv: list[str], ctx: Context) -> int:
    if not argv:  # main() answers `orlop plugin` and `orlop plugin --help`
        raise UsageError('"orlop plugin" requires a command.')
    sub = _ALIASES.get(argv[0], argv[0])
    if sub != "ls":
        ctx.command = "plugin"
        raise UsageError(f"'plugin {argv[0]}' is not an orlop command.")
    ctx.command = "plugin ls"
    return _ls(argv[1:], ctx)


def _ls_object(p: Mapping[str, Any], trunc: bool) -> dict[str, str]:
    desc = str((p.get("Config") or {}).get("Description") or "")
    if trunc and len(desc) > _DESCRIPTION_WIDTH:
        desc = desc[:_DESCRIPTION_WIDTH - 1] + "…"
    iface = (p.get("Config") or {}).get("Interface") or {}
    return {"ID": p["Id"][:12] if trunc else p["Id"], "Name": p["Name"],
            "Description": desc, "Enabled": str(bool(p.get("Enabled"))).lower(),
            "PluginReference": str(p.get("PluginReference") or ""),
            "Socket": str(iface.get("Socket") or "")}


def _template(fmt: str, obj: Mapping[str, Any]) -> str:
    try:
        return format_template(fmt, obj, row=True)
    except ValueError as err:
        raise InvalidParameterError(f"template parsing error: {err}") from None


def _ls(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop plugin ls", add_help=False)
    p.add_argument("-f", "--filter", action="append", default=[],
                   help="Provide filter values (e.g. \"enabled=true\")")
    p.add_argument("--format", default="", help="Format output using a custom template")
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display plugin IDs")
    p.add_argument("extra", nargs="*")
    args = p.parse_args(argv)
    if args.extra:
        raise UsageError('"orlop plugin ls" accepts no arguments.')
    plugins = ctx.backend().plugin_list(parse_filter_flags(args.filter) or None)
    objs = [_ls_object(pl, not args.no_trunc) for pl in plugins]
    fmt: str = args.format.strip()
    out = ctx.stdout
    if args.quiet and fmt in ("", "table"):
        out.write("".join(f"{o['ID']}\n" for o in objs))
        return 0
    if fmt == "json":
        out.write("".join(marshal(o, sort_keys=True, escape_html=True, short_bf=True) + "\n"
                          for o in objs))
        return 0
    if fmt in ("", "table") or fmt.startswith("table"):
        body = fmt[len("table"):].strip() or _DEFAULT
        lines = [_template(body, _HEADERS), *(_template(body, o) for o in objs)]
        out.write(tabwrite([line.split("\t") for line in lines]))
        return 0
    out.write("".join(_template(fmt, o) + "\n" for o in objs))
    return 0
