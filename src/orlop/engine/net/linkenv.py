"""The pure parts of Docker's container links: moby's ``opts.ParseLink`` and the
environment a legacy link gives the linking container (moby's ``links.Link.ToEnv``).

No I/O here, so the exact names and their order are unit-tested
(tests/unit/engine/test_link_env.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from orlop.errors import InvalidParameterError


def parse_link(text: str) -> tuple[str, str]:
    """``name[:alias]`` -> (name, alias), as moby's ``ParseLink``; also the form
    dockerd shows in inspect (``/target:/this/alias``), so a HostConfig read back from
    an inspect can be sent again."""
    if not text:
        raise InvalidParameterError("empty string specified for links")
    parts = text.split(":")
    if len(parts) > 2:
        raise InvalidParameterError(f"bad format for links: {text}")
    if len(parts) == 1:
        return text, text
    if parts[0].startswith("/"):
        return parts[0][1:], parts[1].rsplit("/", 1)[-1]
    return parts[0], parts[1]


def _port_key(port: tuple[int, str]) -> tuple[int, int | str, str]:
    """moby's ``withTCPPriority``: TCP first, then by number (then protocol)."""
    num, proto = port
    return (0, num, "") if proto == "tcp" else (1, proto, str(num).zfill(5))


def _ports(exposed: Iterable[str]) -> list[tuple[int, str]]:
    out = []
    for key in exposed:
        num, _, proto = key.partition("/")
        if num.isdigit():
            out.append((int(num), (proto or "tcp").lower()))
    return sorted(out, key=_port_key)


def link_env(link_name: str, child_ip: str, child_env: Sequence[str],
             exposed_ports: Iterable[str]) -> list[str]:
    """The variables of one legacy link (``link_name``: ``/this/alias``), in moby's
    order: ``ALIAS_PORT`` (the first port), per port ``ALIAS_PORT_<n>_<PROTO>`` and its
    ``_ADDR``, ``_PORT``, ``_PROTO``, ranges of consecutive ports as ``_START``/``_END``,
    then ``ALIAS_NAME`` and ``ALIAS_ENV_<var>`` for the target's ``Config.Env`` (not its
    image's; HOME and PATH left out)."""
    alias = link_name.rsplit("/", 1)[-1].upper().replace("-", "_")
    ports = _ports(exposed_ports)
    env: list[str] = []
    start = end = (0, "")
    for i, (num, proto) in enumerate(ports):
        if i == 0:
            start = end = (num, proto)
            env.append(f"{alias}_PORT={proto}://{child_ip}:{num}")
        prefix = f"{alias}_PORT_{num}_{proto.upper()}"
        env += [f"{prefix}={proto}://{child_ip}:{num}", f"{prefix}_ADDR={child_ip}",
                f"{prefix}_PORT={num}", f"{prefix}_PROTO={proto}"]
        if num == end[0] + 1 and proto == end[1]:
            end = (num, proto)
            if i < len(ports) - 1:
                continue
        if end != start:
            prefix = f"{alias}_PORT_{start[0]}_{start[1].upper()}"
            env += [f"{prefix}_START={start[1]}://{child_ip}:{start[0]}",
                    f"{prefix}_PORT_START={start[0]}",
                    f"{prefix}_END={end[1]}://{child_ip}:{end[0]}",
                    f"{prefix}_PORT_END={end[0]}"]
        start = end = (num, proto)
    env.append(f"{alias}_NAME={link_name}")
    for item in child_env:
        name, sep, value = item.partition("=")
        if sep and name not in ("HOME", "PATH"):
            env.append(f"{alias}_ENV_{name}={value}")
    return env
