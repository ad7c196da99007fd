"""``POST /build`` (the classic builder) and ``POST /build/prune``.

The body (the context as a tar, or a bare Dockerfile) is spooled to an anonymous file,
then built in a worker thread by orlop.build; its messages (``{"stream": ...}``,
``{"aux": {"ID": ...}}``) are written to the response as they come, one JSON object a
line, and a failure after the first message becomes Docker's
``{"errorDetail": {"code": N, "message": ...}, "error": ...}`` line (before it, an HTTP
error), which is what the docker CLI, docker-py and docker-compose read.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import TYPE_CHECKING, Any

from aiohttp import web

from orlop.errors import InvalidParameterError, SystemFailureError
from orlop.server.context import ctx_of
from orlop.server.jsonlines import JSONLines
from orlop.server.wire import json_response

if TYPE_CHECKING:
    from orlop.build.options import BuildOptions
    from orlop.server.routing import Routes


def _json_map(request: web.Request, key: str) -> dict[str, Any]:
    raw = request.query.get(key, "")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise InvalidParameterError(f"invalid {key} parameter: {raw}") from None
    if not isinstance(value, dict):
        raise InvalidParameterError(f"invalid {key} parameter: {raw}")
    return value


def _flag(request: web.Request, key: str, default: bool = False) -> bool:
    raw = request.query.get(key)
    if raw is None or raw == "":
        return default
    return raw.lower() in ("1", "true", "yes")


# Query parameters of POST /build that Orlop's builder does not apply, with the value
# that means "not asked for" (the docker CLI sends most of them on every build).  Any
# other value is refused rather than ignored.
_UNSUPPORTED = {
    "memory": "0", "memswap": "0", "cpushares": "0", "cpusetcpus": "", "cpusetmems": "",
    "cpuperiod": "0", "cpuquota": "0", "ulimits": "[]", "squash": "false", "outputs": "",
    "cgroupparent": "", "securityopt": "",
}


def _refuse_unsupported(request: web.Request) -> None:
    for key, neutral in _UNSUPPORTED.items():
        for raw in request.query.getall(key, []):  # securityopt is repeated
            if raw in ("", neutral, "null") or (neutral == "false" and raw == "0"):
                continue
            raise InvalidParameterError(f"build parameter {key}={raw} is not supported by "
                                        "Orlop's builder")


def _cache_from(request: web.Request) -> tuple[str, ...]:
    """``cachefrom``: a JSON list of image names."""
    raw = request.query.get("cachefrom", "")
    if not raw:
        return ()
    try:
        value = json.loads(raw)
    except ValueError:
        raise InvalidParameterError(f"invalid cachefrom parameter: {raw}") from None
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidParameterError(f"invalid cachefrom parameter: {raw}")
    return tuple(value)


def _shm_size(request: web.Request) -> int:
    raw = request.query.get("shmsize", "")
    try:
        value = int(raw or 0)
    except ValueError:
        raise InvalidParameterError(f"invalid shmsize parameter: {raw}") from None
    if value < 0:
        raise InvalidParameterError("SHM size can not be less than 0")
    return value


def options(request: web.Request) -> BuildOptions:
    """Docker's query parameters (API 1.41 ``POST /build``)."""
    from orlop.build.options import BuildOptions, check_isolation

    _refuse_unsupported(request)
    q = request.query
    check_isolation(q.get("isolation", ""))
    args = _json_map(request, "buildargs")
    labels = _json_map(request, "labels")
    return BuildOptions(
        dockerfile=q.get("dockerfile", "") or "Dockerfile",
        tags=tuple(q.getall("t", [])), target=q.get("target", ""),
        build_args={str(k): (None if v is None else str(v)) for k, v in args.items()},
        labels={str(k): str(v) for k, v in labels.items()},
        no_cache=_flag(request, "nocache"), pull=_flag(request, "pull"),
        quiet=_flag(request, "q"), network=q.get("networkmode", "") or "",
        platform=q.get("platform", ""), remove=_flag(request, "rm", True),
        force_rm=_flag(request, "forcerm"),
        extra_hosts=tuple(h for h in q.getall("extrahosts", []) if h),
        shm_size=_shm_size(request), cache_from=_cache_from(request))


async def build(request: web.Request) -> web.StreamResponse:
    from orlop.build import builder
    from orlop.build.context import from_tar
    from orlop.server.spool import spooled_body

    ctx = ctx_of(request)
    opts = options(request)
    remote = request.query.get("remote", "")
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    # Set when the client has gone: the build stops at its next message, as dockerd's
    # stops with the request's context (a RUN step's container is removed with it).
    gone = threading.Event()

    def emit(msg: dict[str, Any]) -> None:
        if gone.is_set():
            raise SystemFailureError("build cancelled: the client closed the connection")
        loop.call_soon_threadsafe(queue.put_nowait, msg)

    out = JSONLines(request)

    async with spooled_body(request, ctx.config, ctx.stream_limit) as body:
        def work(engine: Any) -> str:
            with from_tar(engine, body, opts.dockerfile, remote) as context:
                return builder.build(engine, context, opts, emit)

        task = asyncio.ensure_future(ctx.call(work))
        try:
            await out.relay(task, queue)
        except (ConnectionError, asyncio.CancelledError):
            gone.set()
            # Nobody reads its end now: retrieve it so that asyncio does not log it.
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            raise
    err = task.exception()
    if err is not None:
        code = int(getattr(err, "exit_code", 1) or 1)
        await out.fail(err, {"code": code, "message": str(err)})
    return await out.finish()


async def prune(request: web.Request) -> web.Response:
    """``POST /build/prune``: the build cache (the untagged step images no container
    uses); what ``docker system prune`` and ``docker builder prune`` call."""
    from orlop.build.cache import prune as prune_cache
    from orlop.wire.prune import build_cache_report

    ctx = ctx_of(request)
    all_ = _flag(request, "all")
    deleted, reclaimed = await ctx.call(lambda e: prune_cache(e, all_=all_))
    return json_response(build_cache_report(deleted, reclaimed))


def register(routes: Routes) -> None:
    routes.add("POST", "/build", build)
    routes.add("POST", "/build/prune", prune)
