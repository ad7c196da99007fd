"""Registry routes: ``POST /images/create?fromImage=`` (pull), ``POST
/images/{name}/push``, ``POST /auth``, ``GET /distribution/{name}/json``.

Pull and push answer with Docker's JSON message stream (``{"status": ..., "id": ...,
"progressDetail": {...}, "progress": "[==>  ]"}`` per line).  As in dockerd, the HTTP
status is only decided by the first message: an error before it (unknown manifest,
pull access denied) is a plain error response (404 ...); an error after it is the
stream's last line, ``{"errorDetail": {"message": ...}, "error": ...}``.  Credentials
come from ``X-Registry-Auth`` only (dockerd never reads a config.json).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from orlop.errors import InvalidParameterError
from orlop.server.context import ctx_of
from orlop.server.jsonlines import JSONLines
from orlop.server.wire import json_response, read_body

if TYPE_CHECKING:
    from orlop.distribution.progress import Progress
    from orlop.engine import Engine
    from orlop.server.routing import Routes


class _JSONProgress:
    """Progress calls from the worker thread, queued for the event loop as messages."""

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 queue: asyncio.Queue[dict[str, Any]]) -> None:
        self.loop = loop
        self.queue = queue

    def _put(self, msg: dict[str, Any]) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, msg)

    def message(self, text: str, id: str = "") -> None:
        self._put({"status": text, **({"id": id} if id else {})})

    def layer(self, layer_id: str, status: str, current: int = 0, total: int = 0) -> None:
        from orlop.distribution.progress import progress_bar

        msg: dict[str, Any] = {"status": status, "progressDetail": {}, "id": layer_id}
        if total:
            msg["progressDetail"] = {"current": current, "total": total}
            msg["progress"] = progress_bar(current, total)
        self._put(msg)


async def _stream(request: web.Request,
                  work: Callable[[Engine, Progress], dict[str, Any] | None]
                  ) -> web.StreamResponse:
    ctx = ctx_of(request)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    progress = _JSONProgress(loop, queue)
    task = asyncio.ensure_future(ctx.call(lambda e: work(e, progress)))
    out = JSONLines(request)
    await out.relay(task, queue)
    err = task.exception()
    if err is not None:
        await out.fail(err, {"message": str(err)})
    else:
        aux = task.result()
        if aux is not None:
            await out.send({"progressDetail": {}, "aux": aux})
    return await out.finish()


def _creds(request: web.Request) -> Any:
    from orlop.engine.registry import credentials_from_header

    return credentials_from_header(request.headers.get("X-Registry-Auth", ""))


async def pull(request: web.Request) -> web.StreamResponse:
    """``POST /images/create?fromImage=busybox&tag=latest&platform=linux/amd64``."""
    from orlop.engine.registry import pull as engine_pull

    q = request.query
    name = q.get("fromImage", "")
    if not name:
        raise InvalidParameterError("fromImage or fromSrc must be given")
    tag = q.get("tag", "")
    if tag.startswith("sha256:"):
        ref = f"{name}@{tag}"
    else:
        ref = name if not tag or "@" in name else f"{name}:{tag}"
    platform = q.get("platform", "")
    creds = _creds(request)

    def work(e: Engine, progress: Progress) -> None:
        engine_pull(e, ref, platform=platform, progress=progress, creds=creds)
        return None

    return await _stream(request, work)


async def push(request: web.Request) -> web.StreamResponse:
    """``POST /images/{name}/push?tag=``."""
    from orlop.engine.registry import push as engine_push

    name = request.match_info["name"]
    tag = request.query.get("tag", "")
    ref = f"{name}:{tag}" if tag else name
    creds = _creds(request)

    def work(e: Engine, progress: Progress) -> dict[str, Any]:
        return engine_push(e, ref, progress=progress, creds=creds)

    return await _stream(request, work)


async def auth(request: web.Request) -> web.Response:
    """``POST /auth``: check credentials against the registry (nothing is stored)."""
    from orlop.engine.registry import login

    ctx = ctx_of(request)
    try:
        body = json.loads(await read_body(request, ctx.body_limit) or b"{}")
    except ValueError:
        raise InvalidParameterError("invalid JSON body") from None
    if not isinstance(body, dict):
        raise InvalidParameterError("invalid JSON body")
    server = str(body.get("serveraddress") or "")
    user, password = str(body.get("username") or ""), str(body.get("password") or "")
    await ctx.run(lambda: login(server, user, password))
    return json_response({"Status": "Login Succeeded", "IdentityToken": ""})


async def distribution_inspect(request: web.Request) -> web.Response:
    from orlop.engine.registry import distribution_inspect as inspect

    name = request.match_info["name"]
    creds = _creds(request)
    return json_response(await ctx_of(request).run(lambda: inspect(name, creds)))


async def volume_push(request: web.Request) -> web.StreamResponse:
    """``POST /libpod/volumes/{name}/push?reference=``: the volume as an OCI artifact."""
    from orlop.engine.registry import volume_push as engine_push

    name = request.match_info["name"]
    ref = request.query.get("reference", "")
    if not ref:
        raise InvalidParameterError("reference is required")
    creds = _creds(request)

    def work(e: Engine, progress: Progress) -> dict[str, Any]:
        return engine_push(e, name, ref, progress=progress, creds=creds)

    return await _stream(request, work)


async def volume_pull(request: web.Request) -> web.StreamResponse:
    """``POST /libpod/volumes/pull?reference=&name=&force=``."""
    from orlop.engine.registry import volume_pull as engine_pull
    from orlop.server.wire import query_bool

    ref = request.query.get("reference", "")
    if not ref:
        raise InvalidParameterError("reference is required")
    name = request.query.get("name", "")
    force = query_bool(request, "force")
    creds = _creds(request)

    def work(e: Engine, progress: Progress) -> dict[str, Any]:
        return engine_pull(e, ref, name, force=force, progress=progress, creds=creds)

    return await _stream(request, work)


def register(routes: Routes) -> None:
    routes.add("POST", "/libpod/volumes/pull", volume_pull)
    routes.add("POST", "/libpod/volumes/{name}/push", volume_push)
    routes.add("POST", "/auth", auth)
    routes.add("GET", "/distribution/{name:.+}/json", distribution_inspect)
