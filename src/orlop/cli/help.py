"""``--help`` in the docker CLI's layout: Usage, the one-line description, Aliases,
Options (sorted, each with its type word and description, wrapped as pflag wraps them),
Examples; the group and top-level listings.

Texts come from the registry (cli/registry.py) and from the options' ``help=`` where
the command's parser declares them; nothing here imports more than argparse.
"""

from __future__ import annotations

import argparse

from orlop.cli.registry import COMMON, INDEX, MANAGEMENT, Command, members, top_level


def usage_name(invoked: str) -> str:
    """The name shown on the Usage line: a top-level name as typed, otherwise the
    canonical name (``container list`` shows ``container ls``, as cobra does)."""
    cmd = INDEX[invoked]
    return invoked if " " not in invoked else cmd.name


def _type_word(action: argparse.Action) -> str:
    """pflag's value type: ``string``, ``int``, ``list``...; none for a switch.  A
    ``metavar`` gives Docker's word where it differs (``filter``, ``map``, ``bytes``)."""
    if action.nargs == 0 or _optional_bool(action):
        return ""
    if isinstance(action.metavar, str):
        return action.metavar
    if isinstance(action, argparse._AppendAction):
        return "list"
    if action.type is int:
        return "int"
    if action.type is float:
        return "float"
    return "string"


def _optional_bool(action: argparse.Action) -> bool:
    """A boolean flag that also takes ``=false`` (``--pause``, ``-H``): a switch in pflag."""
    return action.nargs == "?" and action.const == "true"


def _default_note(action: argparse.Action) -> str:
    default = action.default
    if _optional_bool(action):
        return f" (default {default})"
    if action.nargs == 0 or default in (None, "", [], False, argparse.SUPPRESS) \
            or "(default" in (action.help or ""):
        return ""
    if isinstance(default, str):
        return f' (default "{default}")'
    return f" (default {default})"


def option_rows(parser: argparse.ArgumentParser) -> list[tuple[str, str]]:
    """(``-a, --all``-style flag text, description) for every visible option, sorted by
    long name as pflag sorts them; the help flag itself is not listed (as in Docker)."""
    rows: list[tuple[str, str, str]] = []
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS \
                or "--help" in action.option_strings:
            continue
        short = next((o for o in action.option_strings if not o.startswith("--")), "")
        long = next((o for o in action.option_strings if o.startswith("--")), "")
        flag = (f"{short}, " if short else "    ") + long if long else short
        word = _type_word(action)
        text = f"  {flag} {word}" if word else f"  {flag}"
        rows.append(((long or short).lstrip("-"), text, (action.help or "")
                     + _default_note(action)))
    return [(text, desc) for _key, text, desc in sorted(rows)]


def _format_options(rows: list[tuple[str, str]]) -> list[str]:
    col = max(len(text) for text, _ in rows) + 3
    width = max(24, 72 - col)  # where pflag wraps when there is no terminal (80 columns)
    import textwrap  # here: only help text wraps (~0.7 ms of every other verb)

    out = []
    for text, desc in rows:
        lines: list[str] = []
        for para in desc.split("\n"):
            lines += textwrap.wrap(para, width, break_on_hyphens=False) or [""]
        out.append(text.ljust(col) + lines[0])
        out += [" " * col + line for line in lines[1:]]
    return out


def command_help(invoked: str, parser: argparse.ArgumentParser | None) -> str:
    cmd = INDEX[invoked]
    name = usage_name(invoked)
    usage = cmd.usage.split("\n")
    lines = [f"Usage:  orlop {name} {usage[0]}".rstrip()]
    lines += [f"\torlop {name} {u}" for u in usage[1:]]
    lines += ["", cmd.long or cmd.summary]
    if len(cmd.names) > 1:
        lines += ["", "Aliases:", "  " + ", ".join(f"orlop {n}" for n in cmd.names)]
    rows = option_rows(parser) if parser is not None else []
    if rows:
        lines += ["", "Options:", *_format_options(rows)]
    if cmd.examples:
        import textwrap

        lines += ["", "Examples:", textwrap.indent(cmd.examples.strip("\n"), "  ")]
    return "\n".join(lines)


def _listing(cmds: list[tuple[str, str]]) -> list[str]:
    return [f"  {n:<11} {s}" for n, s in cmds]


def group_help(group_name: str) -> str:
    cmd = INDEX[group_name]
    subs = [(c.name.split(" ", 1)[1], c.summary) for c in members(cmd.name)]
    return "\n".join([f"Usage:  orlop {cmd.name} COMMAND", "", cmd.summary, "", "Commands:",
                      *_listing(subs), "",
                      f"Run 'orlop {cmd.name} COMMAND --help' for more information on a "
                      "command."])


# Docker's order of its "Common Commands" (the others are listed alphabetically).
_COMMON_ORDER = ("run", "exec", "ps", "build", "pull", "push", "images", "login", "logout",
                 "search", "version", "info")


def top_help(description: str, global_options: list[str]) -> str:
    """``orlop --help``: the commands grouped as ``docker --help`` groups them."""
    names = top_level()

    def section(cmd: Command) -> str:
        return cmd.section if cmd.section in (COMMON, MANAGEMENT) else ""

    common = sorted((n for n, c in names.items() if section(c) == COMMON and not c.group),
                    key=lambda n: (_COMMON_ORDER.index(n) if n in _COMMON_ORDER else 99, n))
    management = sorted(n for n, c in names.items() if c.group)
    rest = sorted(n for n in names if n not in common and n not in management)
    lines = ["Usage:  orlop [OPTIONS] COMMAND", "", description, "", "Common Commands:",
             *_listing([(n, names[n].summary) for n in common]), "", "Management Commands:",
             *_listing([(n, names[n].summary) for n in management]), "", "Commands:",
             *_listing([(n, names[n].summary) for n in rest]), "", "Global Options:",
             *global_options, "",
             "Run 'orlop COMMAND --help' for more information on a command."]
    return "\n".join(lines)
