""".dockerignore: Docker's pattern rules (``github.com/moby/patternmatcher``).

One pattern a line; ``#`` starts a comment line; blank lines are skipped; a pattern is
cleaned like Go's ``filepath.Clean`` and a leading ``/`` is dropped (patterns are
relative to the context's root); ``*`` and ``?`` never match ``/``, ``**`` matches any
number of directories (none too), ``[...]`` is a character class, ``\\`` escapes; a
pattern that matches a directory excludes everything below it; ``!`` re-includes; the
last pattern that matches a path decides.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class _Pattern:
    text: str
    regex: re.Pattern[str]
    exclusion: bool  # a "!" line: re-includes
    depth: int  # components of the pattern


def _clean(pattern: str) -> str:
    cleaned = posixpath.normpath(pattern)
    if cleaned.startswith("//"):
        cleaned = cleaned[1:]
    cleaned = cleaned.lstrip("/")
    return cleaned or "."


def _compile(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                while i + 1 < n and pattern[i + 1] == "*":
                    i += 1
                if i + 1 >= n:
                    out.append(".*")
                else:
                    out.append("(.*/)?")
                    if pattern[i + 1] == "/":
                        i += 1
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1:end]
                if body.startswith("^"):
                    body = "!" + body[1:]
                out.append("[" + ("^" + re.escape(body[1:]).replace("\\-", "-")
                                  if body.startswith("!")
                                  else re.escape(body).replace("\\-", "-")) + "]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    out.append("$")
    return re.compile("".join(out), re.DOTALL)


def read_patterns(text: str) -> list[str]:
    """The patterns of a .dockerignore file (moby/patternmatcher/ignorefile)."""
    out = []
    for raw in text.splitlines():
        line = raw.strip() if not raw.startswith("#") else ""
        if not line:
            continue
        excl = line.startswith("!")
        if excl:
            line = line[1:].strip()
        if not line:
            continue
        line = _clean(line)
        out.append(("!" if excl else "") + line)
    return out


class Matcher:
    """Which paths of the context the patterns exclude."""

    def __init__(self, patterns: list[str]) -> None:
        self.patterns: list[_Pattern] = []
        for p in patterns:
            excl = p.startswith("!")
            text = _clean(p[1:] if excl else p)
            self.patterns.append(_Pattern(text, _compile(text), excl,
                                          len(text.split("/"))))
        self.has_exclusions = any(p.exclusion for p in self.patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def excluded(self, path: str) -> bool:
        """Is ``path`` (relative to the context, ``/``-separated) left out?"""
        path = _clean(path)
        parts = path.split("/")
        matched = False
        for p in self.patterns:
            if p.exclusion != matched:
                continue  # cannot change the outcome
            hit = bool(p.regex.match(path))
            if not hit and len(parts) > p.depth:
                # A pattern naming a parent directory excludes what is below it.
                hit = bool(p.regex.match("/".join(parts[:p.depth])))
            if hit:
                matched = not p.exclusion
        return matched


__all__ = ["Matcher", "read_patterns"]
