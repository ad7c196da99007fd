"""``/images``: list, inspect, tag, remove, prune, import (``create?fromSrc=-``),
history, save (``get``), load; and ``/commit``.  List, history, remove and prune are
wire/images.py's, which the CLI's local backend calls as well."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from orlop.errors import InvalidParameterError, UnsupportedError
from orlop.server.context import ctx_of, engine_json
from orlop.server.spool import spooled_body
from orlop.server.wire import json_response, query_bool, query_filters
from orlop.wire import gojson

if TYPE_CHECKING:
    from orlop.server.routing import Routes


async def list_images(request: web.Request) -> web.Response:
    from orlop.wire.images import list_images as engine_list

    filters = query_filters(request)
    all_images = query_bool(request, "all")
    return json_response(await ctx_of(request).call(
        lambda e: engine_list(e, filters, all_images)))


async def inspect_image(request: web.Request) -> web.Response:
    from orlop.wire.images import inspect_image as go

    return await engine_json(request, go, request.match_info["name"])


async def image_history(request: web.Request) -> web.Response:
    from orlop.wire.images import image_history as engine_history

    return await engine_json(request, engine_history, request.match_info["name"])


async def prune_images(request: web.Request) -> web.Response:
    """``POST /images/prune`` (``filters={"dangling":["false"]}``: ``prune -a``)."""
    from orlop.wire.images import prune_images as engine_prune

    return await engine_json(request, engine_prune, query_filters(request))


async def tag_image(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    repo = request.query.get("repo", "")
    tag = request.query.get("tag", "")
    if not repo:
        raise InvalidParameterError("repository name must have at least one component")
    target = f"{repo}:{tag}" if tag else repo
    await ctx_of(request).call(lambda e: e.images.tag(name, target))
    return web.Response(status=201)


async def remove_image(request: web.Request) -> web.Response:
    from orlop.wire.images import remove_image as engine_remove

    name = request.match_info["name"]
    force = query_bool(request, "force")
    noprune = query_bool(request, "noprune")
    return json_response(await ctx_of(request).call(
        lambda e: engine_remove(e, name, force=force, noprune=noprune)))


async def create_image(request: web.Request) -> web.StreamResponse:
    """``fromSrc=-``: import the body as a one-layer image; ``fromImage``: a pull
    (routes/distribution.py)."""
    ctx = ctx_of(request)
    q = request.query
    if q.get("fromSrc") is not None:
        if q["fromSrc"] != "-":
            raise UnsupportedError("importing from a URL is not supported: stream the "
                                   "tarball (fromSrc=-)")
        repo, tag = q.get("repo", ""), q.get("tag", "")
        ref = (f"{repo}:{tag}" if tag else repo) or None
        changes = q.getall("changes", [])
        message = q.get("message", "")
        async with spooled_body(request, ctx.config, ctx.stream_limit) as f:
            image = await ctx.call(lambda e: e.images.import_tar(f, ref, changes, message))
        return web.Response(body=gojson.encode({"status": image.id}, b"\r\n"),
                            content_type="application/json")
    from orlop.server.routes.distribution import pull

    return await pull(request)


async def commit(request: web.Request) -> web.Response:
    """``POST /commit?container=&repo=&tag=&comment=&author=&changes=``: the body (a
    container config to merge) is read as every JSON body is, and not used: ``changes``
    carries the docker CLI's ``--change`` lines, which the engine applies."""
    from orlop.server.wire import json_body

    ctx = ctx_of(request)
    await json_body(request, ctx.body_limit, required=False)  # the CLI sends null
    q = request.query
    ref = q.get("container", "")
    if not ref:
        raise InvalidParameterError("container is required")
    repo, tag = q.get("repo", ""), q.get("tag", "")
    target = (f"{repo}:{tag}" if tag else repo) or None
    changes = q.getall("changes", [])
    author, comment = q.get("author", ""), q.get("comment", "")
    image = await ctx.call(lambda e: e.commit(ref, target, changes=changes, author=author,
                                              message=comment))
    return json_response({"Id": image.id}, status=201)


async def save(request: web.Request) -> web.StreamResponse:
    """``GET /images/get?names=...`` and ``/images/{name}/get``: ``Engine.save_images``
    (Docker archive + OCI layout) streamed as it is written."""
    from orlop.server.helpers import open_engine_output
    from orlop.server.streams import send_stream

    name = request.match_info.get("name")
    refs = [name] if name else request.query.getall("names", [])
    if not refs:
        raise InvalidParameterError("no image names given")
    first, rest = await open_engine_output(ctx_of(request),
                                           lambda e, fd: e.save_images(refs, fd))
    return await send_stream(request, first, rest, {"Content-Type": "application/x-tar"})


async def load(request: web.Request) -> web.Response:
    """``POST /images/load``: the body, spooled, to ``Engine.load_images``; Docker's
    JSON message stream of ``Loaded image: ...`` lines, after dockerd's ``Loading layer``
    progress messages for each layer stored unless ``quiet`` (which the docker CLI sends
    when its output is not a terminal; the lines are sent either way, as dockerd does).
    The body is spooled first, so the progress messages come once the layers are stored,
    in the one response."""
    from orlop.errors import OrlopError

    ctx = ctx_of(request)
    quiet = query_bool(request, "quiet")
    messages: list[dict[str, object]] = []

    def layer(layer_id: str, current: int, total: int) -> None:
        from orlop.distribution.progress import progress_bar

        messages.append({"status": "Loading layer",
                         "progressDetail": {"current": current, "total": total},
                         "progress": progress_bar(current, total), "id": layer_id})

    async with spooled_body(request, ctx.config, ctx.stream_limit) as f:
        try:
            lines = await ctx.call(lambda e: e.load_images(f, None if quiet else layer))
        except (OrlopError, OSError) as err:
            # moby's postImagesLoad: the headers are sent, a failure is the stream's
            # last message (200 and an errorDetail, which docker-py's images.load
            # raises as ImageLoadError and the docker CLI prints).
            text = str(err)
            message = {"errorDetail": {"message": text}, "error": text}
            return web.Response(body=gojson.encode(message, b"\r\n"),
                                content_type="application/json")
    messages += [{"stream": line + "\n"} for line in lines]
    body = b"".join(gojson.encode(m, b"\r\n") for m in messages)
    return web.Response(body=body, content_type="application/json")


async def unsupported(request: web.Request) -> web.Response:
    raise UnsupportedError(f"{request.method} {request.path} is not supported by this "
                           "Orlop version")


def register(routes: Routes) -> None:
    from orlop.server.routes import distribution

    distribution.register(routes)
    routes.add("GET", "/images/json", list_images)
    routes.add("POST", "/images/create", create_image)
    routes.add("GET", "/images/get", save)
    routes.add("POST", "/images/load", load)
    routes.add("POST", "/images/prune", prune_images)
    routes.add("POST", "/commit", commit)
    routes.add("GET", "/images/{name:.+}/json", inspect_image)
    routes.add("GET", "/images/{name:.+}/history", image_history)
    routes.add("GET", "/images/{name:.+}/get", save)
    routes.add("POST", "/images/{name:.+}/tag", tag_image)
    routes.add("POST", "/images/{name:.+}/push", distribution.push)
    routes.add("DELETE", "/images/{name:.+}", remove_image)
