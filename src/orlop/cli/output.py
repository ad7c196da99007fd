"""Docker's output forms: tables with aligned columns, --format Go templates, JSON."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms)
if TYPE_CHECKING:
    from typing import Any, TextIO

# The --format descriptions of the docker CLI (formatter.FormatHelp / InspectFormatHelp),
# for the commands' parsers (here, not in cli/help.py: a command that runs imports this
# module anyway, and not the help renderer with textwrap).
FORMAT_TABLE = (
    "Format output using a custom template:\n"
    "'table':            Print output in table format with column headers (default)\n"
    "'table TEMPLATE':   Print output in table format using the given Go template\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template.\n"
    "Refer to https://docs.docker.com/go/formatting/ for more information about "
    "formatting output with templates")
FORMAT_PLAIN = (
    "Format output using a custom template:\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template.\n"
    "Refer to https://docs.docker.com/go/formatting/ for more information about "
    "formatting output with templates")


def tabwrite(rows: Sequence[Sequence[str]], minwidth: int = 10, padding: int = 3) -> str:
    """Go's tabwriter as the docker CLI sets it up (minwidth 10, padding 3): every cell but
    the last of a row is padded to its column's width.  Returns lines ending in newlines."""
    widths: dict[int, int] = {}
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths.get(i, minwidth), len(cell) + padding)
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("".join(cells) + (row[-1] if row else ""))
    return "".join(line.rstrip(" ") + "\n" for line in lines)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A header row and data rows, aligned as Docker's tables (no trailing newline)."""
    return tabwrite([list(headers), *[list(r) for r in rows]]).rstrip("\n")


def dump_json(value: Any) -> str:
    """Docker's inspect output: 4-space indent, and <, >, & kept literal."""
    import json

    return json.dumps(value, indent=4, ensure_ascii=False)


def checked_template(fmt: str, obj: Any, *, row: bool = False) -> str:
    """:func:`format_template`, a template that does not parse being the docker CLI's
    "template parsing error" (an invalid --format value)."""
    from orlop.errors import InvalidParameterError

    try:
        return format_template(fmt, obj, row=row)
    except ValueError as err:
        raise InvalidParameterError(f"template parsing error: {err}") from None


def write_listing(out: TextIO, objs: Sequence[Mapping[str, Any]], fmt: str, *, quiet: bool,
                  key: str, headers: Mapping[str, str], body: str,
                  rows: Sequence[Sequence[str]] | None = None) -> None:
    """An ``ls`` as the docker CLI writes it for ``--format`` ``fmt``: with ``-q`` the
    ``key`` field of each object; by default the table ``rows`` (header first), or the
    table template ``body`` when there are none; ``json``, one compact object a line;
    ``table <template>``, the template's header (``headers``) and rows aligned; any other
    template, one line per object."""
    fmt = fmt.strip()
    if fmt in ("", "table"):
        if quiet:
            out.write("".join(f"{o[key]}\n" for o in objs))
            return
        if rows is not None:
            out.write(tabwrite(rows))
            return
    if fmt == "json":
        from orlop.wire.gojson import marshal

        out.write("".join(marshal(o, sort_keys=True, escape_html=True, short_bf=True) + "\n"
                          for o in objs))
        return
    if fmt.startswith("table") or not fmt:
        table = fmt[len("table"):].strip() or body
        lines = [checked_template(table, headers),
                 *(checked_template(table, o, row=True) for o in objs)]
        out.write(tabwrite([line.split("\t") for line in lines]))
        return
    out.write("".join(checked_template(fmt, o, row=True) + "\n" for o in objs))


def write_inspect(out: TextIO, err: TextIO, results: Sequence[Any], errors: Sequence[str],
                  fmt: str = "") -> int:
    """Docker's inspect output for every ``inspect``: the JSON array (no ``--format``, or
    ``--format json``) or the template per object, then one ``Error: ...`` line per ref
    not found; exit 1 if there was any."""
    if fmt and fmt != "json":
        for r in results:
            try:
                text = format_template(fmt, r)
            except ValueError as bad:
                from orlop.errors import InvalidParameterError

                raise InvalidParameterError(f"template parsing error: {bad}") from None
            print(text, file=out)
    else:
        print(dump_json(list(results)), file=out)
    for message in errors:
        print(f"Error: {message}", file=err)
    return 1 if errors else 0


_FIELD = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def _lookup(obj: Any, path: str) -> Any:
    cur = obj
    for part in [p for p in path.split(".") if p]:
        if isinstance(cur, Mapping):
            cur = cur.get(part)
        else:
            cur = getattr(cur, part, None)
    return cur


def _go_str(value: Any) -> str:
    """How Go's text/template prints a value."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{_go_str(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(_go_str(v) for v in value) + "]"
    return str(value)


class _Row(dict[str, "Any"]):  # a string: typing is not imported at run time
    """A list row as the template's dot: the docker CLI's formatter context, whose
    MarshalJSON is json.Marshal, so ``{{json .}}`` escapes ``<>&`` (``\\u003c`` ...)."""


def format_template(template: str, obj: Any,
                    funcs: Mapping[str, Callable[[Any], str]] | None = None, *,
                    row: bool = False) -> str:
    """A subset of Go templates as Docker users write them: ``{{.Field.Sub}}``,
    ``{{json .X}}`` / ``{{json .}}``, ``{{upper .X}}``, ``{{range .List}}...{{end}}``
    (with ``.`` the element inside), ``{{if .X}}...{{else}}...{{end}}``, and ``\\t`` /
    ``\\n`` escapes.  The ``table`` keyword is handled by the caller.  ``json`` is Go's
    encoder as the docker CLI 28 sets it up (orlop.wire.gojson: UTF-8 kept, HTML not
    escaped but in a list ``row``'s own ``{{json .}}``).

    Raises:
        InvalidParameterError: an expression outside that subset ("template parsing error").
    """
    from orlop.errors import InvalidParameterError

    if row and isinstance(obj, Mapping):
        obj = _Row(obj)
    template = template.replace("\\t", "\t").replace("\\n", "\n")
    tokens = re.split(r"(\{\{-?\s*.*?\s*-?\}\})", template)
    try:
        out, rest = _render(tokens, 0, obj, dict(funcs or {}))
    except ValueError as err:
        raise InvalidParameterError(f"template parsing error: {err}") from None
    if rest != len(tokens):
        raise InvalidParameterError("template parsing error: unexpected {{end}}")
    return out


def _truthy(value: Any) -> bool:
    return bool(value) and value != "<no value>"


def _render(tokens: list[str], i: int, dot: Any,
            funcs: dict[str, Callable[[Any], str]]) -> tuple[str, int]:
    """Render tokens from ``i`` until an unmatched ``{{end}}``/``{{else}}`` or the end."""
    out: list[str] = []
    while i < len(tokens):
        tok = tokens[i]
        if not tok.startswith("{{"):
            out.append(tok)
            i += 1
            continue
        expr = tok[2:-2].strip("- \t")
        words = expr.split()
        if not words:
            raise ValueError("empty expression {{}}")
        if words[0] in ("end", "else"):
            return "".join(out), i
        if words[0] in ("range", "if") and len(words) == 2:
            value = dot if words[1] == "." else _lookup(dot, words[1])
            body_start = i + 1
            _, j = _render(tokens, body_start, dot, funcs)  # find the matching end/else
            else_start = None
            if j < len(tokens) and tokens[j][2:-2].strip("- \t") == "else":
                else_start = j + 1
                _, j = _render(tokens, else_start, dot, funcs)
            if j >= len(tokens):
                raise ValueError(f"unexpected EOF in {{{{{expr}}}}}")
            if words[0] == "range":
                items = list(value.items()) if isinstance(value, Mapping) else \
                    list(value or [])
                for item in items:
                    elem = item[1] if isinstance(value, Mapping) else item
                    out.append(_render(tokens, body_start, elem, funcs)[0])
            elif _truthy(value):
                out.append(_render(tokens, body_start, dot, funcs)[0])
            elif else_start is not None:
                out.append(_render(tokens, else_start, dot, funcs)[0])
            i = j + 1
            continue
        out.append(_eval(words, dot, funcs, expr))
        i += 1
    return "".join(out), i


def _eval(words: list[str], dot: Any, funcs: dict[str, Callable[[Any], str]],
          expr: str) -> str:
    def arg(w: str) -> Any:
        return dot if w == "." else _lookup(dot, w)

    if len(words) == 2 and words[0] == "json":
        from orlop.wire.gojson import marshal

        value = arg(words[1])
        return marshal(value, short_bf=True, escape_html=isinstance(value, _Row),
                       sort_keys=isinstance(value, _Row))
    if len(words) == 2 and words[0] in ("upper", "lower", "title", "println"):
        s = _go_str(arg(words[1]))
        return {"upper": s.upper(), "lower": s.lower(), "title": s.title(),
                "println": s + "\n"}[words[0]]
    if len(words) == 1 and (words[0] == "." or words[0].startswith(".")):
        return _go_str(arg(words[0]))
    if len(words) == 1 and words[0] in funcs:
        return funcs[words[0]](dot)
    raise ValueError(f"unsupported expression {{{{{expr}}}}}")
