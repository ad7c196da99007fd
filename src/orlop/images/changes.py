"""Dockerfile instructions applied to an image config: ``import -c`` / ``commit -c``.

Docker parses each ``--change`` as a one-line Dockerfile and accepts only the
instructions that change the config (moby builder/dockerfile ``BuildFromConfig``,
``validCommitCommands``); anything else is refused with Docker's text
``<cmd> is not a valid change command``.
"""

from __future__ import annotations

import copy
import json
import posixpath
import re
import shlex
import signal
from collections.abc import Callable, Sequence

from orlop.errors import InvalidParameterError

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any

# The container config of an image, in the order and with the empty values Docker's
# JSON has (moby api/types/container.Config).
EMPTY_CONTAINER_CONFIG: dict[str, Any] = {
    "Hostname": "",
    "Domainname": "",
    "User": "",
    "AttachStdin": False,
    "AttachStdout": False,
    "AttachStderr": False,
    "Tty": False,
    "OpenStdin": False,
    "StdinOnce": False,
    "Env": None,
    "Cmd": None,
    "Image": "",
    "Volumes": None,
    "WorkingDir": "",
    "Entrypoint": None,
    "OnBuild": None,
    "Labels": None,
}

VALID_CHANGE_COMMANDS = frozenset({
    "cmd", "entrypoint", "env", "expose", "label", "onbuild", "stopsignal", "user", "volume",
    "workdir",
})
_PORT = re.compile(r"(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?\Z", re.IGNORECASE)


def empty_container_config() -> dict[str, Any]:
    """A fresh copy of the empty config (callers mutate it)."""
    return copy.deepcopy(EMPTY_CONTAINER_CONFIG)


def _json_array(rest: str) -> list[str] | None:
    """The exec form ``["a", "b"]``, or None when ``rest`` is not a JSON string array
    (then Docker falls back to the shell form, as here)."""
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def _words(instruction: str, rest: str) -> list[str]:
    try:
        return shlex.split(rest, posix=True)
    except ValueError as err:
        raise InvalidParameterError(
            f"dockerfile parse error line 1: {instruction}: {err}") from err


def _name_values(instruction: str, rest: str) -> list[tuple[str, str]]:
    """``K=V K2="v 2"``, or the legacy ``K V with spaces`` form (one pair)."""
    words = _words(instruction, rest)
    if not words:
        raise InvalidParameterError(f"{instruction} requires at least one argument")
    if "=" not in words[0]:
        first, _, value = rest.strip().partition(" ")
        if not value.strip():
            raise InvalidParameterError(
                f"{instruction} must have two arguments")
        return [(first, value.strip())]
    out = []
    for word in words:
        key, eq, value = word.partition("=")
        if not eq:
            raise InvalidParameterError(
                f"Syntax error - can't find = in \"{word}\". Must be of the form: name=value")
        if not key:
            raise InvalidParameterError(f"{instruction} names can not be blank")
        out.append((key, value))
    return out


def _check_signal(value: str) -> None:
    """Docker's signal.ParseSignal: a number, or a name with or without ``SIG``."""
    if value.isdigit():
        if 0 < int(value) < 65:
            return
    else:
        name = value.upper()
        if not name.startswith("SIG"):
            name = "SIG" + name
        if hasattr(signal, name) or re.fullmatch(r"SIGRTM(?:IN|AX)(?:[+-]\d+)?", name):
            return
    raise InvalidParameterError(f"Invalid signal: {value}")


def apply_changes(config: dict[str, Any], changes: Sequence[str]) -> dict[str, Any]:
    """Return a copy of the container ``config`` with the Dockerfile ``changes`` applied."""
    out = copy.deepcopy(config)
    state = {"cmd_set": False}
    for change in changes:
        for line in change.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            _apply_one(out, line, state)
    return out


def _apply_one(config: dict[str, Any], line: str, state: dict[str, bool]) -> None:
    keyword, _, rest = line.partition(" ")
    cmd = keyword.lower()
    if cmd not in VALID_CHANGE_COMMANDS:
        raise InvalidParameterError(f"{cmd} is not a valid change command")
    _CHANGES[cmd](config, keyword.upper(), rest.strip(), state)


def _change_exec(config: dict[str, Any], upper: str, rest: str, state: dict[str, bool]) -> None:
    exec_form = _json_array(rest)
    # Shell form, as Docker: the line is run by /bin/sh -c.
    value = exec_form if exec_form is not None else (["/bin/sh", "-c", rest] if rest else [])
    if upper == "CMD":
        config["Cmd"] = value
        state["cmd_set"] = True
        return
    config["Entrypoint"] = value
    if not state["cmd_set"]:
        # Docker: a new ENTRYPOINT drops the CMD inherited from the base config,
        # unless a CMD was given in the same set of changes.
        config["Cmd"] = None


def _change_env(config: dict[str, Any], upper: str, rest: str, _state: dict[str, bool]) -> None:
    config["Env"] = merge_env(config.get("Env") or [],
                              [f"{key}={val}" for key, val in _name_values(upper, rest)])


def merge_env(base: Sequence[str], extra: Sequence[str]) -> list[str]:
    """``base`` with ``extra`` on top, a later ``KEY=...`` replacing an earlier one in
    place (moby's ENV, in the builder and in ``--change``)."""
    out: list[str] = list(base)
    for item in extra:
        key = item.partition("=")[0]
        for i, existing in enumerate(out):
            if existing.partition("=")[0] == key:
                out[i] = item
                break
        else:
            out.append(item)
    return out


def _change_label(config: dict[str, Any], upper: str, rest: str,
                  _state: dict[str, bool]) -> None:
    labels = dict(config.get("Labels") or {})
    for key, val in _name_values(upper, rest):
        labels[key] = val
    config["Labels"] = labels


def _change_workdir(config: dict[str, Any], _upper: str, rest: str,
                    _state: dict[str, bool]) -> None:
    if not rest:
        raise InvalidParameterError("WORKDIR requires exactly one argument")
    # Relative to the previous WORKDIR, and always absolute (Docker joins with "/").
    config["WorkingDir"] = posixpath.normpath(
        posixpath.join("/", config.get("WorkingDir") or "/", rest))


def _change_user(config: dict[str, Any], _upper: str, rest: str,
                 _state: dict[str, bool]) -> None:
    if not rest:
        raise InvalidParameterError("USER requires exactly one argument")
    config["User"] = rest


def _change_volume(config: dict[str, Any], upper: str, rest: str,
                   _state: dict[str, bool]) -> None:
    paths = _json_array(rest)
    if paths is None:
        paths = _words(upper, rest)
    if not paths:
        raise InvalidParameterError("VOLUME requires at least one argument")
    volumes = dict(config.get("Volumes") or {})
    for path in paths:
        if not path.strip():
            raise InvalidParameterError("VOLUME specified can not be an empty string")
        volumes[path] = {}
    config["Volumes"] = volumes


def _change_expose(config: dict[str, Any], upper: str, rest: str,
                   _state: dict[str, bool]) -> None:
    ports = dict(config.get("ExposedPorts") or {})
    for word in _words(upper, rest):
        m = _PORT.match(word)
        if m is None:
            raise InvalidParameterError(f"Invalid containerPort: {word}")
        lo, hi, proto = int(m.group(1)), int(m.group(2) or m.group(1)), m.group(3) or "tcp"
        if not (0 < lo <= hi <= 65535):
            raise InvalidParameterError(f"Invalid containerPort: {word}")
        for port in range(lo, hi + 1):
            ports[f"{port}/{proto.lower()}"] = {}
    _set_after(config, "ExposedPorts", ports, after="AttachStderr")


def _change_stopsignal(config: dict[str, Any], _upper: str, rest: str,
                       _state: dict[str, bool]) -> None:
    if not rest:
        raise InvalidParameterError("STOPSIGNAL requires exactly one argument")
    _check_signal(rest)
    _set_after(config, "StopSignal", rest, after="Labels")


def _change_onbuild(config: dict[str, Any], _upper: str, rest: str,
                    _state: dict[str, bool]) -> None:
    if not rest:
        raise InvalidParameterError("ONBUILD requires at least one argument")
    config["OnBuild"] = [*(config.get("OnBuild") or []), rest]


_CHANGES: dict[str, Callable[[dict[str, Any], str, str, dict[str, bool]], None]] = {
    "cmd": _change_exec, "entrypoint": _change_exec, "env": _change_env,
    "label": _change_label, "workdir": _change_workdir, "user": _change_user,
    "volume": _change_volume, "expose": _change_expose, "stopsignal": _change_stopsignal,
    "onbuild": _change_onbuild,
}


def _set_after(config: dict[str, Any], key: str, value: Any, *, after: str) -> None:
    """Set an omitempty key at the place Docker's JSON puts it."""
    if key in config or after not in config:
        config[key] = value
        return
    items = list(config.items())
    i = [k for k, _ in items].index(after) + 1
    items.insert(i, (key, value))
    config.clear()
    config.update(items)
