"""``/networks``: bookkeeping only, so that docker-compose (which creates
``<project>_default``) works.  Orlop has no bridge networking yet: every container gets a
network namespace with loopback only (``none``) or the host's (``host``), whatever
network it names.  Networks are recorded in ``<root>/orlopd-networks.json``.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from orlop.errors import ConflictError, InvalidParameterError, NotFoundError
from orlop.server.context import ctx_of
from orlop.server.wire import field_str, field_str_map, json_body, json_response, query_filters

if TYPE_CHECKING:
    from orlop.server.app import Routes

_LOCK = threading.Lock()
_BUILTIN = {"none": "null", "host": "host", "bridge": "bridge"}


def _builtin(name: str) -> dict[str, Any]:
    return _network(name, _BUILTIN[name], {}, ident=(name.encode().hex() * 64)[:64])


def _network(name: str, driver: str, labels: dict[str, str], ident: str = "",
             created: str = "") -> dict[str, Any]:
    from orlop.engine.timefmt import now_rfc3339

    return {"Name": name, "Id": ident or secrets.token_hex(32),
            "Created": created or now_rfc3339(), "Scope": "local", "Driver": driver,
            "EnableIPv6": False, "IPAM": {"Driver": "default", "Options": None, "Config": []},
            "Internal": False, "Attachable": False, "Ingress": False,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": {},
            "Options": {}, "Labels": labels}


def _path(request: web.Request) -> Path:
    return ctx_of(request).config.root / "orlopd-networks.json"


def _load(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = []
    return [_builtin(n) for n in _BUILTIN] + [d for d in data if isinstance(d, dict)]


def _save(path: Path, nets: list[dict[str, Any]]) -> None:
    user = [n for n in nets if n["Name"] not in _BUILTIN]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(user))
    os.replace(tmp, path)


def _find(nets: list[dict[str, Any]], ref: str) -> dict[str, Any]:
    for n in nets:
        if ref in (n["Name"], n["Id"]):
            return n
    matches = [n for n in nets if n["Id"].startswith(ref)] if ref else []
    if len(matches) == 1:
        return matches[0]
    raise NotFoundError(f"network {ref} not found")


async def list_networks(request: web.Request) -> web.Response:
    filters = query_filters(request)
    path = _path(request)

    def go() -> list[dict[str, Any]]:
        out = []
        for n in _load(path):
            if "name" in filters and not any(v in n["Name"] for v in filters["name"]):
                continue
            if "id" in filters and not any(n["Id"].startswith(v) for v in filters["id"]):
                continue
            ok = True
            for spec in filters.get("label", []):
                k, eq, v = spec.partition("=")
                if k not in n["Labels"] or (eq and n["Labels"][k] != v):
                    ok = False
            if ok:
                out.append(n)
        return out

    return json_response(await ctx_of(request).run(go))


async def inspect_network(request: web.Request) -> web.Response:
    ref = request.match_info["id"]
    path = _path(request)
    return json_response(await ctx_of(request).run(lambda: _find(_load(path), ref)))


async def create_network(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    body = await json_body(request, ctx.body_limit)
    name = field_str(body, "Name")
    if not name or "/" in name or "\x00" in name:
        raise InvalidParameterError(f"invalid network name {name!r}")
    driver = field_str(body, "Driver") or "bridge"
    labels = field_str_map(body, "Labels")
    path = _path(request)

    def go() -> dict[str, Any]:
        with _LOCK:
            nets = _load(path)
            if any(n["Name"] == name for n in nets):
                raise ConflictError(f"network with name {name} already exists")
            net = _network(name, driver, labels)
            _save(path, [*nets, net])
            return {"Id": net["Id"], "Warning": ""}

    return json_response(await ctx.run(go), status=201)


async def remove_network(request: web.Request) -> web.Response:
    ref = request.match_info["id"]
    path = _path(request)

    def go() -> None:
        with _LOCK:
            nets = _load(path)
            net = _find(nets, ref)
            if net["Name"] in _BUILTIN:
                raise InvalidParameterError(f"{net['Name']} is a pre-defined network and "
                                            "cannot be removed")
            _save(path, [n for n in nets if n is not net])

    await ctx_of(request).run(go)
    return web.Response(status=204)


async def connect(request: web.Request) -> web.Response:
    ref = request.match_info["id"]
    path = _path(request)
    await ctx_of(request).run(lambda: _find(_load(path), ref))
    return web.Response(status=200)


async def prune(request: web.Request) -> web.Response:
    path = _path(request)

    def go() -> list[str]:
        with _LOCK:
            nets = _load(path)
            gone = [n["Name"] for n in nets if n["Name"] not in _BUILTIN]
            _save(path, [])
            return gone

    return json_response({"NetworksDeleted": await ctx_of(request).run(go)})


def register(routes: Routes) -> None:
    routes.add("GET", "/networks", list_networks)
    routes.add("POST", "/networks/create", create_network)
    routes.add("POST", "/networks/prune", prune)
    routes.add("GET", "/networks/{id}", inspect_network)
    routes.add("DELETE", "/networks/{id}", remove_network)
    routes.add("POST", "/networks/{id}/connect", connect)
    routes.add("POST", "/networks/{id}/disconnect", connect)
