"""`orlop events`: the engine's event log, past and live, as ``docker events`` prints it.

Locally the log is read directly (engine/events.py); remotely it comes from orlopd's
``GET /events``.  ``--since``/``--until`` take what the docker CLI takes (a duration
such as ``10m``, an RFC 3339 date or time, a Unix timestamp) and are sent as Unix
timestamps, as the docker CLI sends them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from orlop.cli.context import Context, Parser, UsageError
from orlop.cli.output import FORMAT_PLAIN, format_template

REMOTE = frozenset({"events"})

def parse_filters(items: list[str], flag: str = "-f, --filter") -> dict[str, list[str]]:
    """``-f key=value`` (repeatable) as Docker's filter map; the docker CLI's text for
    a value without ``=``."""
    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f'invalid argument "{item}" for "{flag}" flag: bad format of '
                             "filter (expected name=value)")
        out.setdefault(key.strip().lower(), []).append(value.strip())
    return out


def default_line(ev: dict[str, Any]) -> str:
    """The docker CLI's printOutput: local time with nanoseconds, type, action, id and
    the sorted attributes."""
    ns = int(ev.get("timeNano") or 0) or int(ev.get("time") or 0) * 1_000_000_000
    secs, frac = divmod(ns, 1_000_000_000)
    when = dt.datetime.fromtimestamp(secs).astimezone()
    offset = when.utcoffset() or dt.timedelta(0)
    if offset:
        total = int(offset.total_seconds())
        sign = "+" if total >= 0 else "-"
        zone = f"{sign}{abs(total) // 3600:02d}:{abs(total) % 3600 // 60:02d}"
    else:
        zone = "Z"
    actor = ev.get("Actor") or {}
    line = (f"{when.strftime('%Y-%m-%dT%H:%M:%S')}.{frac:09d}{zone} {ev.get('Type', '')} "
            f"{ev.get('Action', '')} {actor.get('ID', '')}")
    attrs = actor.get("Attributes") or {}
    if attrs:
        line += " (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")"
    return line


def main(name: str, argv: list[str], ctx: Context) -> int:
    from orlop.engine.events import cli_timestamp
    from orlop.errors import InvalidParameterError

    p = Parser(prog="orlop events", add_help=False)
    p.add_argument("-f", "--filter", action="append", default=[], metavar="filter",
                   help="Filter output based on conditions provided")
    p.add_argument("--format", default="", help=FORMAT_PLAIN)
    p.add_argument("--since", default="", help="Show all events created since timestamp")
    p.add_argument("--until", default="", help="Stream events until this timestamp")
    p.add_argument("args", nargs="*")
    args = p.parse_args(argv)
    if args.args:
        raise UsageError(f'"orlop {name}" accepts no arguments.')
    filters = parse_filters(args.filter)
    try:
        since = cli_timestamp(args.since) if args.since else ""
        until = cli_timestamp(args.until) if args.until else ""
    except InvalidParameterError as err:
        raise UsageError(str(err)) from None
    template = "{{json .}}" if args.format == "json" else args.format
    out = ctx.stdout
    for ev in ctx.backend().events(since, until, filters):
        out.write((format_template(template, ev) if template else default_line(ev)) + "\n")
        out.flush()
    return 0
