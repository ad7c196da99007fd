"""HTML out of templates, with every value escaped unless it is already :class:`Markup`.

Templates are ``string.Template`` files shipped as package data (``templates/*.html``,
pyproject's package-data): ``$name`` placeholders, no logic, so what a page shows is
decided in Python, typed and tested, and a template cannot forget to escape.  Names from
a volume may hold anything but ``/`` and NUL: ``<script>``, quotes, newlines, bytes that
are no UTF-8.  :func:`text` makes them displayable (control characters shown as
``\\n``-style escapes, undecodable bytes as U+FFFD) and :func:`esc` escapes them; URLs
carry the exact bytes, percent-encoded (:func:`q`).
"""

from __future__ import annotations

import html
import string
import time
import urllib.parse
from collections.abc import Iterable
from functools import cache
from importlib import resources

from orlop.units import human_size


class Markup(str):
    """A string that is already HTML (made here, from escaped parts)."""

    __slots__ = ()


def text(value: str) -> str:
    """A name as a person should see it: control characters as escapes, bytes that are
    not UTF-8 (surrogate-escaped by the OS layer) as U+FFFD."""
    value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        value = "".join(c if ord(c) >= 32 and ord(c) != 127 else
                        {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(c, f"\\x{ord(c):02x}")
                        for c in value)
    return value


def esc(value: object) -> Markup:
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(text(str(value)), quote=True))


def plain(value: str) -> Markup:
    """A file's text, escaped, its lines and tabs kept (not a name: see :func:`text`)."""
    value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return Markup(html.escape(value, quote=True))


def q(value: str) -> str:
    """A value for a URL query or path segment: its exact bytes, percent-encoded."""
    return urllib.parse.quote(value.encode("utf-8", "surrogateescape"), safe="")


def url(base: str, **query: str) -> Markup:
    """``/dashboard/...`` with a query, escaped for an attribute."""
    qs = "&".join(f"{k}={q(v)}" for k, v in query.items() if v != "")
    return esc(base + ("?" + qs if qs else ""))


def join(parts: Iterable[str]) -> Markup:
    return Markup("".join(esc(p) for p in parts))


def tag(name: str, body: object = "", **attrs: object) -> Markup:
    """``<name attr="...">body</name>``; ``class_`` for ``class``; False/None drop an
    attribute, True writes it bare."""
    out = [f"<{name}"]
    for k, v in attrs.items():
        key = k.rstrip("_").replace("_", "-")
        if v is None or v is False:
            continue
        out.append(f" {key}" if v is True else f' {key}="{esc(v)}"')
    out.append(">")
    if name in ("input", "br", "meta", "link"):
        return Markup("".join(out))
    return Markup("".join(out) + esc(body) + f"</{name}>")


def size(n: int) -> str:
    return human_size(float(n))


def when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


@cache
def _template(name: str) -> string.Template:
    src = resources.files("orlop.server.dashboard").joinpath("templates", name)
    return string.Template(src.read_text(encoding="utf-8"))


def render(name: str, **values: object) -> Markup:
    """The template ``templates/NAME`` with every value escaped (Markup kept as is)."""
    return Markup(_template(name).substitute({k: esc(v) for k, v in values.items()}))


def static(name: str) -> bytes:
    return resources.files("orlop.server.dashboard").joinpath("static", name).read_bytes()


__all__ = ["Markup", "esc", "join", "plain", "q", "render", "size", "static", "tag", "text", "url",
           "when"]
