"""Docker's output forms: tables with aligned columns, --format Go templates, JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to the widest cell plus three spaces, as Docker's tabwriter does."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [list(headers), *[list(r) for r in rows]]:
        cells = [c.ljust(widths[i] + 3) if i < len(row) - 1 else c for i, c in enumerate(row)]
        lines.append("".join(cells).rstrip())
    return "\n".join(lines)


def dump_json(value: Any) -> str:
    """Docker's inspect output: 4-space indent, and <, >, & kept literal."""
    return json.dumps(value, indent=4, ensure_ascii=False)


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


def format_template(template: str, obj: Any,
                    funcs: Mapping[str, Callable[[Any], str]] | None = None) -> str:
    """A subset of Go templates as Docker uses them: ``{{.Field.Sub}}``, ``{{json .X}}``,
    ``{{json .}}``, ``\\t`` and ``\\n`` escapes, and a leading ``table`` keyword
    (handled by the caller)."""
    template = template.replace("\\t", "\t").replace("\\n", "\n")
    funcs = dict(funcs or {})

    def sub(m: re.Match[str]) -> str:
        expr = m.group(1)
        words = expr.split()
        if len(words) == 2 and words[0] == "json":
            return json.dumps(obj if words[1] == "." else _lookup(obj, words[1]),
                              separators=(",", ":"))
        if len(words) == 2 and words[0] in ("upper", "lower", "title"):
            s = _go_str(_lookup(obj, words[1]))
            return {"upper": s.upper(), "lower": s.lower(), "title": s.title()}[words[0]]
        if len(words) == 1 and words[0].startswith("."):
            return _go_str(_lookup(obj, words[0]))
        if len(words) == 1 and words[0] in funcs:
            return funcs[words[0]](obj)
        raise ValueError(f"template: unsupported expression {{{{{expr}}}}}")

    return _FIELD.sub(sub, template)
