"""A Dockerfile as typed instructions, parsed by Docker's own parser.

The grammar (line continuations, the ``# escape=`` and ``# syntax=`` directives,
comments, JSON versus shell forms, flags, the per-instruction argument splitting of
``ENV``/``LABEL``/``ARG``) is the Go parser moby and BuildKit share
(``github.com/moby/buildkit/frontend/dockerfile/parser``), through PyPI's ``dockerfile``
package, which compiles that parser into a wheel: a Dockerfile that Docker reads one
way is never read another way here.  docs/build.md says why it was preferred to the
pure-Python ``dockerfile-parse``.

What this module adds: the classic builder's checks that the parser leaves to its
callers (unknown instructions, heredocs, an instruction before ``FROM``) with Docker's
texts, and the split into the global ``ARG``s and the stages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from orlop.errors import InvalidParameterError, UnsupportedError

# What the classic builder dispatches (moby builder/dockerfile/evaluator.go).
KNOWN = frozenset({
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
    "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
    "WORKDIR",
})


@dataclass(frozen=True)
class Instruction:
    """One instruction: ``cmd`` upper-cased, ``flags`` as written (``--from=x``),
    ``args`` split as the parser splits them, ``json`` for the exec form."""

    cmd: str
    args: tuple[str, ...]
    flags: tuple[str, ...] = ()
    json: bool = False
    original: str = ""
    line: int = 0
    sub_cmd: str = ""  # ONBUILD's trigger instruction

    def flag(self, name: str) -> str | None:
        """The value of ``--name=value`` (the last one), None when absent."""
        value = None
        for f in self.flags:
            key, eq, val = f.removeprefix("--").partition("=")
            if key == name:
                value = val if eq else "true"
        return value

    def check_flags(self, allowed: tuple[str, ...]) -> None:
        for f in self.flags:
            key = f.removeprefix("--").partition("=")[0]
            if key not in allowed:
                raise InvalidParameterError(
                    f"Dockerfile parse error line {self.line}: unknown flag: {key}")


@dataclass
class Stage:
    """``FROM image [AS name]`` and the instructions up to the next ``FROM``."""

    index: int
    base: str
    name: str
    platform: str
    from_instruction: Instruction
    instructions: list[Instruction] = field(default_factory=list)


@dataclass(frozen=True)
class Dockerfile:
    meta_args: tuple[Instruction, ...]  # the ARGs before the first FROM
    stages: tuple[Stage, ...]
    escape: str = "\\"  # the ``# escape=`` directive's character


_DIRECTIVE = re.compile(r"#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")


def escape_char(text: str) -> str:
    """The escape character the leading ``# escape=`` directive sets (parser.go: only
    directives before any other line count)."""
    for line in text.splitlines():
        m = _DIRECTIVE.match(line.strip())
        if m is None:
            break
        if m.group(1).lower() == "escape" and m.group(2) in ("`", "\\"):
            return m.group(2)
    return "\\"


def parse_instructions(text: str) -> list[Instruction]:
    """Every instruction of ``text``; Docker's errors for what the classic builder
    refuses."""
    import dockerfile  # the compiled Go parser: loaded only by builds

    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as err:
        msg = str(err)
        if msg == "file with no instructions":
            raise InvalidParameterError("the Dockerfile cannot be empty") from None
        raise InvalidParameterError(f"Dockerfile parse error: {msg}") from None
    out = []
    for c in commands:
        cmd = c.cmd.upper()
        if cmd not in KNOWN:
            raise InvalidParameterError(
                f"Dockerfile parse error line {c.start_line}: unknown instruction: {cmd}")
        if c.heredocs:
            raise UnsupportedError(
                f"Dockerfile line {c.start_line}: heredocs ({c.value[0] if c.value else ''})"
                " are not supported by the classic builder (Docker's needs BuildKit for "
                "them too); write the content to a file in the context and COPY it")
        sub = (c.sub_cmd or "").upper()
        if cmd == "ONBUILD" and sub in ("ONBUILD", "FROM", "MAINTAINER"):
            raise InvalidParameterError(
                f"Dockerfile parse error line {c.start_line}: "
                + ("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed" if sub == "ONBUILD"
                   else f"{sub} isn't allowed as an ONBUILD trigger"))
        out.append(Instruction(cmd=cmd, args=tuple(c.value), flags=tuple(c.flags),
                               json=bool(c.json), original=c.original, line=c.start_line,
                               sub_cmd=sub))
    return out


def parse(text: str) -> Dockerfile:
    """The global ARGs and the stages of a Dockerfile."""
    meta: list[Instruction] = []
    stages: list[Stage] = []
    for ins in parse_instructions(text):
        if ins.cmd == "FROM":
            stages.append(_stage(len(stages), ins))
        elif not stages:
            if ins.cmd != "ARG":
                raise InvalidParameterError(
                    f"Dockerfile parse error line {ins.line}: {ins.cmd} instruction before "
                    "FROM: no build stage in current context")
            meta.append(ins)
        else:
            stages[-1].instructions.append(ins)
    if not stages:
        raise InvalidParameterError("no build stage in current context")
    return Dockerfile(tuple(meta), tuple(stages), escape_char(text))


def _stage(index: int, ins: Instruction) -> Stage:
    ins.check_flags(("platform",))
    args = ins.args
    name = ""
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not name or not (name[0].isalpha()) or \
                not all(ch.isalnum() or ch in "_.-" for ch in name):
            raise InvalidParameterError(
                f"Dockerfile parse error line {ins.line}: invalid name for build stage: "
                f'"{args[2]}", name can\'t start with a number or contain symbols')
        args = args[:1]
    if len(args) != 1 or not args[0]:
        raise InvalidParameterError(
            f"Dockerfile parse error line {ins.line}: FROM requires either one or three "
            "arguments")
    return Stage(index=index, base=args[0], name=name, platform=ins.flag("platform") or "",
                 from_instruction=ins)


__all__ = ["Dockerfile", "Instruction", "Stage", "parse", "parse_instructions"]
