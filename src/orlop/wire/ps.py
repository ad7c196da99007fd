"""``ps`` / ``GET /containers/json``: which containers, filtered how, in Docker's order.

One function lists for both faces: orlopd's route and the CLI's local backend call
:func:`list_summaries`, so ``orlop ps --filter ...`` answers the same locally and through
``-H`` (the filters used to be implemented twice, differently: a regular expression in
the CLI, a substring in the server).  The entries are :mod:`orlop.wire.summary`'s
``container_summary`` dicts, with the health suffix on Docker's ``Status`` text.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from orlop.errors import InvalidParameterError
from orlop.wire.summary import container_summary

if TYPE_CHECKING:
    from orlop.engine.engine import Engine
    from orlop.engine.models import Container

# The filters `ps` implements.  The server also accepts (and ignores) the ones Docker
# clients send that have no meaning for Orlop's containers (SERVER_ONLY_FILTERS).
PS_FILTERS = frozenset({"status", "name", "label", "volume", "id", "exited", "ancestor",
                        "before", "since", "health", "network", "publish", "expose"})
SERVER_ONLY_FILTERS = frozenset({"isolation", "is-task"})
HEALTH_VALUES = ("starting", "healthy", "unhealthy", "none")
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


def check_filters(filters: dict[str, list[str]], *, server: bool = False) -> None:
    """Docker's ``invalid filter`` errors, before anything is listed."""
    allowed = PS_FILTERS | (SERVER_ONLY_FILTERS if server else frozenset())
    for key in sorted(filters):
        if key not in allowed:
            raise InvalidParameterError(f"Invalid filter '{key}'")
    for value in filters.get("health", []):
        if value not in HEALTH_VALUES:
            raise InvalidParameterError(
                f"Unrecognised filter value for health: {value}")
    for value in filters.get("status", []):
        if value not in STATUSES:
            raise InvalidParameterError(
                f"invalid filter 'status={value}': must be one of created, restarting, "
                "running, removing, paused, exited, or dead")
    for key in ("publish", "expose"):
        for value in filters.get(key, []):
            port_filter(key, value)


def port_filter(key: str, value: str) -> set[str]:
    """``PORT[/PROTO]`` or ``START-END[/PROTO]`` -> the ``port/proto`` keys it names
    (moby's ``portOp``: tcp by default, no host address allowed)."""
    if ":" in value:
        raise InvalidParameterError(f"filter for '{key}' should not contain ':': {value}")
    port, _, proto = value.partition("/")
    start, sep, end = port.partition("-")
    try:
        first, last = int(start), int(end if sep else start)
        if not 0 <= first <= last <= 65535:
            raise ValueError(value)
    except ValueError:
        raise InvalidParameterError(
            f"error while looking up for {key} {value}: invalid port range") from None
    return {f"{p}/{(proto or 'tcp').lower()}" for p in range(first, last + 1)}


def _network_matches(values: list[str], item: dict[str, Any]) -> bool:
    """moby: a network name exactly, or a prefix of a network's id."""
    nets = (item.get("NetworkSettings") or {}).get("Networks") or {}
    return any(v in nets or any(str((ep or {}).get("NetworkID") or "").startswith(v)
                                for ep in nets.values()) for v in values)


def _ports_match(f: dict[str, list[str]], item: dict[str, Any]) -> bool:
    """moby: a container passes ``publish``/``expose`` when one of its ports is a
    published (host) port of the first or a container port of the second."""
    publish = {p for v in f.get("publish", []) for p in port_filter("publish", v)}
    expose = {p for v in f.get("expose", []) for p in port_filter("expose", v)}
    for port in item.get("Ports") or []:
        proto = port.get("Type", "tcp")
        if f"{port.get('PublicPort', 0)}/{proto}" in publish or \
                f"{port.get('PrivatePort', 0)}/{proto}" in expose:
            return True
    return False


def _name_matches(pattern: str, name: str) -> bool:
    """Docker matches ``name=`` as a regular expression (moby's ``filters.Match``)."""
    try:
        rx = re.compile(pattern)
    except re.error:
        return pattern.lstrip("/") in name
    return bool(rx.search(name) or rx.search("/" + name))


def _ancestor_matches(value: str, c: Container) -> bool:
    ref = c.image_ref if ":" in c.image_ref.rsplit("/", 1)[-1] else c.image_ref + ":latest"
    want = value if ":" in value.rsplit("/", 1)[-1] else value + ":latest"
    bare = c.image_id.removeprefix("sha256:")
    return value in (c.image_ref, c.image_id) or want == ref or (
        len(value) >= 4 and bare.startswith(value.removeprefix("sha256:")))


def matches(c: Container, item: dict[str, Any], f: dict[str, list[str]],
            created_bounds: tuple[str | None, str | None] = (None, None)) -> bool:
    """Whether container ``c`` (and its list entry ``item``) passes every filter: values
    of one key are alternatives, keys all apply (Docker's rule)."""
    if "status" in f and c.status not in f["status"]:
        return False
    if "id" in f and not any(c.id.startswith(v) for v in f["id"]):
        return False
    if "name" in f and not any(_name_matches(v, c.name) for v in f["name"]):
        return False
    if "exited" in f and not (c.status == "exited" and str(c.exit_code) in f["exited"]):
        return False
    if "ancestor" in f and not any(_ancestor_matches(v, c) for v in f["ancestor"]):
        return False
    if "network" in f and not _network_matches(f["network"], item):
        return False
    if ("publish" in f or "expose" in f) and not _ports_match(f, item):
        return False
    for want in f.get("label", []):
        k, sep, v = want.partition("=")
        if k not in c.config.labels or (sep and c.config.labels[k] != v):
            return False
    if "volume" in f:
        names = {str(m.get("Name") or "") for m in item.get("Mounts") or []} | \
            {str(m.get("Destination") or "") for m in item.get("Mounts") or []}
        if not names & set(f["volume"]):
            return False
    before, since = created_bounds
    if before is not None and not c.created < before:
        return False
    return not (since is not None and not c.created > since)


def list_summaries(e: Engine, *, all_: bool = False, filters: dict[str, list[str]] | None = None,
                   limit: int = -1, server: bool = False, size: bool = False,
                   api: tuple[int, int] | None = None) -> list[dict[str, Any]]:
    """The ``GET /containers/json`` entries, newest first.  A ``status`` or ``exited``
    filter, or a ``limit`` (``ps -n``/``-l``), looks at stopped containers too;
    ``api``: the version the client asked for (None: the current one).

    Raises:
        InvalidParameterError: an unknown filter or status.
        ContainerNotFoundError: the container of a ``before``/``since`` filter.
    """
    f = dict(filters or {})
    check_filters(f, server=server)
    bounds = (min((e.get_container(r).created for r in f.get("before", [])), default=None),
              max((e.get_container(r).created for r in f.get("since", [])), default=None))
    cs = e.list_containers(all_=all_ or "status" in f or "exited" in f or limit > 0)
    cs = sorted(cs, key=lambda c: c.created, reverse=True)
    now = time.time()
    out = []
    from orlop.engine import store
    from orlop.engine.containers import health

    with e.containers.read() as conn:  # the legacy links' names, in one query
        link_names = store.legacy_link_names(conn)
    for c in cs:
        item = container_summary(e, c, now)
        item["Names"] += link_names.get(c.id, [])
        item["Status"] += health.status_suffix(e.config, c)
        if "health" in f and health.health_status(e.config, c) not in f["health"]:
            continue
        if matches(c, item, f, bounds):
            out.append(item)
    out = out[:limit] if limit > 0 else out
    if size:  # ``ps -s``: each container's SizeRw and SizeRootFs
        from orlop.wire.inspect import container_sizes

        by_id = {c.id: c for c in cs}
        for item in out:
            item.update(container_sizes(e, by_id[item["Id"]]))
    if api is not None:  # the endpoints' fields by the version asked for
        from orlop.wire.networks import summary_networks

        for item in out:
            settings = item["NetworkSettings"]
            settings["Networks"] = summary_networks(settings["Networks"], api)
    return out
