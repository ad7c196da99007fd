"""``/containers``: create, list, inspect, start, wait, attach, logs, stop/kill/restart,
remove, prune, rename, pause/unpause, top, changes, archive, export.

Containers are the engine's: ``start`` gives them the detached monitor of ``orlop run
-d`` (sessions.py), ``logs`` reads its json-file log, stop/kill/restart/wait are the
engine's lifecycle calls.  Engine calls that fork (start, cp, export) run in a helper
process (server/monitor.py); the others in the context's worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import TYPE_CHECKING

from aiohttp import web

from orlop.errors import (
    ContainerNotFoundError,
    InvalidParameterError,
    OrlopError,
)
from orlop.server.context import ctx_of
from orlop.server.streams import (
    MULTIPLEXED_STREAM,
    RAW_STREAM,
    STDERR,
    STDOUT,
    detach_keys_of,
    finish,
    frame,
    open_stream,
    safe_write,
    send_stream,
    until_detached,
)
from orlop.server.wire import (
    archive_path,
    json_body,
    json_response,
    query_bool,
    query_filters,
    query_int,
)
from orlop.wire import gojson
from orlop.wire.create import console_size, run_options
from orlop.wire.inspect import inspect_container

if TYPE_CHECKING:
    from orlop.engine import Engine
    from orlop.engine.containers.attach import MonitorAttach
    from orlop.engine.containers.logs import Entry
    from orlop.engine.models import Container
    from orlop.server.routing import Routes

_POLL = 0.02


def _cid(request: web.Request) -> str:
    ref = request.match_info["id"]
    if "\x00" in ref or not ref:
        raise InvalidParameterError(f"invalid container reference {ref!r}")
    return ref


async def _get(request: web.Request, ref: str | None = None) -> Container:
    ref = ref or _cid(request)
    return await ctx_of(request).call(lambda e: e.get_container(ref))


# --- create / list / inspect ---------------------------------------------------------------


async def create(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    body = await json_body(request, ctx.body_limit)
    opts = run_options(body, request.query.get("name", ""), request.query.get("platform", ""))
    size = console_size(body) if opts.tty else None

    def go(e: Engine) -> Container:
        c = e.create_container(opts)
        if size is not None:
            from orlop.engine.containers.console import request_size

            request_size(e.config, c.id, *size)
        return c

    c = await ctx.call(go)
    ctx.sessions.forks.ensure()  # a start is likely to follow: have helpers ready
    return json_response({"Id": c.id, "Warnings": []}, status=201)


async def list_containers(request: web.Request) -> web.Response:
    """``wire.ps.list_summaries``: the same list and filters as ``orlop ps``."""
    from orlop.server.headers import api_version, version_tuple
    from orlop.wire.ps import list_summaries

    all_ = query_bool(request, "all")
    limit = query_int(request, "limit", -1) or -1
    filters = query_filters(request)
    size = query_bool(request, "size")
    api = version_tuple(api_version(request))
    return json_response(await ctx_of(request).call(
        lambda e: list_summaries(e, all_=all_, filters=filters, limit=limit, server=True,
                                 size=size, api=api)))


async def inspect(request: web.Request) -> web.Response:
    from orlop.server.headers import api_version, version_tuple

    ref = _cid(request)
    size = query_bool(request, "size")
    api = version_tuple(api_version(request))
    return json_response(await ctx_of(request).call(
        lambda e: inspect_container(e, ref, size, api)))


# --- start / wait ----------------------------------------------------------------------------


async def start(request: web.Request) -> web.Response:
    """Docker's start: the engine's detached monitor (as ``orlop run -d``), unless a client
    attached first and waits for the container's stdio (``docker run`` in the
    foreground), which the server then relays itself (sessions.py)."""
    ctx = ctx_of(request)
    c = await _get(request)
    if c.status in ("running", "paused") or c.id in ctx.sessions.live \
            or c.id in ctx.sessions.starting:
        return web.Response(status=304)
    if ctx.sessions.has_attached(c.id):
        await ctx.sessions.start(c)
    else:
        await ctx.sessions.start_detached(c)
    return web.Response(status=204)


async def _exists(request: web.Request, cid: str) -> Container | None:
    def go(e: Engine) -> Container | None:
        try:
            return e.get_container(cid)
        except ContainerNotFoundError:
            return None
    return await ctx_of(request).call(go)


def _running(request: web.Request, cid: str) -> bool:
    from orlop.engine.containers.runner import is_locked

    return is_locked(ctx_of(request).config.run_root, cid)


async def _unlocked(request: web.Request, cid: str) -> None:
    """Until no monitor holds the container (a flock probe: cheap, no thread needed)."""
    delay = 0.005
    while _running(request, cid):
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


async def _engine_exit_code(request: web.Request, cid: str, fallback: int) -> int:
    def go(e: Engine) -> int:
        try:
            return e.wait_container(cid)
        except ContainerNotFoundError:
            return fallback
    return await ctx_of(request).call(go)


async def _wait_exit(request: web.Request, c: Container, next_exit: bool) -> int:
    """The exit code of ``c``'s current run (or its next one with ``next_exit``)."""
    sessions = ctx_of(request).sessions
    if c.id in sessions.starting:
        await sessions.starting[c.id]
    sess = sessions.live.get(c.id)
    if sess is not None:
        await sess.done.wait()
        return sess.exit_code
    if next_exit and c.status not in ("running", "paused"):
        # Started later, by us (a session resolves the future) or anyone else (the
        # store's finish time changes).
        fut = sessions.next_exit_future(c.id)
        try:
            while not fut.done():
                cur = await _exists(request, c.id)
                if cur is None:
                    return sessions.last_exit.get(c.id, c.exit_code)
                if cur.finished_at != c.finished_at and \
                        cur.status not in ("running", "paused"):
                    return cur.exit_code
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(fut), 0.1)
            return fut.result()
        finally:
            sessions.drop_exit_future(c.id, fut)
    if c.status not in ("running", "paused", "restarting") and not _running(request, c.id):
        return c.exit_code
    from orlop.engine.containers.lifecycle import restarts

    if restarts(c):  # its monitor outlives the run: the first exit ends the wait
        while _running(request, c.id):
            cur = await _exists(request, c.id)
            if cur is None:
                break
            if cur.finished_at != c.finished_at and cur.status != "running":
                return cur.exit_code
            await asyncio.sleep(0.05)
    # Under the engine's detached monitor (ours or the orlop CLI's).
    await _unlocked(request, c.id)
    return await _engine_exit_code(request, c.id, c.exit_code)


async def _wait_removed(request: web.Request, c: Container, code: int) -> int:
    """Until ``c`` is gone (``docker run --rm`` waits so): its exit code.  Woken by its
    start and by the end of its session, which removed it (an attached ``--rm``
    container is removed by its helper before the session ends), never a poll late."""
    sessions = ctx_of(request).sessions
    while True:
        starting = sessions.starting.get(c.id)
        if starting is not None:
            await asyncio.shield(starting)
            continue
        sess = sessions.live.get(c.id)
        if sess is not None:
            await sess.done.wait()
            code = sessions.last_exit[c.id] = sess.exit_code
            if sess.removed:  # its helper saw it gone before it reported
                return code
            continue
        if _running(request, c.id):  # under the engine's detached monitor
            await _unlocked(request, c.id)
            code = await _engine_exit_code(request, c.id, code)
            sessions.last_exit[c.id] = code
            continue
        if await _exists(request, c.id) is None:
            return sessions.last_exit.get(c.id, code)
        # Created or exited: removed by someone else, or started (by us: the session's
        # end resolves the future) and then removed.
        fut = sessions.next_exit_future(c.id)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(fut), _POLL)
        finally:
            sessions.drop_exit_future(c.id, fut)


async def wait(request: web.Request) -> web.StreamResponse:
    """Docker sends the head at once (the CLI registers its wait before ``start``) and the
    body ``{"StatusCode": N, "Error": null}`` when the condition is met."""
    condition = request.query.get("condition", "not-running") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise InvalidParameterError(f"invalid condition: {condition!r}")
    c = await _get(request)
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    from orlop.server.headers import server_headers

    resp.headers.update(server_headers())
    await resp.prepare(request)
    error: dict[str, str] | None = None
    code = c.exit_code
    try:
        if condition == "removed":
            code = await _wait_removed(request, c, code)
        else:
            code = await _wait_exit(request, c, condition == "next-exit")
    except OrlopError as err:
        error = {"Message": str(err)}
    await safe_write(resp, gojson.encode({"StatusCode": code, "Error": error}))
    await finish(resp)
    return resp


# --- attach / logs ---------------------------------------------------------------------------


async def log_entries(request: web.Request, c: Container, *, history: bool, follow: bool,
                      tail: int = -1, since: float = 0.0, until: float = 0.0
                      ) -> AsyncGenerator[Entry, None]:
    """The container's json-file log (the engine's, written by its detached monitor or by
    an attached session): the past entries, then with ``follow`` the new ones until the
    container stops or the reader goes away.  Following runs in a thread of its own (the
    engine's reader polls), never in the engine pool, so that followers cannot starve it.
    """
    from orlop.engine.containers.logs import read_entries, stream_log
    from orlop.engine.containers.monitor import log_path
    from orlop.engine.containers.runner import is_locked

    ctx = ctx_of(request)
    path = log_path(ctx.config, c.id)
    if not follow:
        for e in await ctx.run(lambda: read_entries(path, tail=tail, since=since,
                                                    until=until)):
            yield e
        return
    run_root = ctx.config.run_root

    def entries(stop: threading.Event) -> Iterator[Entry]:
        # One cursor for the history and the follow (engine/containers/logs.py): the
        # follow goes on from the byte where the history ended, across rotations,
        # nothing lost or repeated.  Without history, from the end of the log as it is.
        return stream_log(path, tail=tail if history else 0, since=since, until=until,
                          follow_=True, from_end=not history,
                          still_running=lambda: not stop.is_set() and
                          is_locked(run_root, c.id))

    async for e in _followed(c.id, entries):
        yield e


async def _followed(cid: str, entries: Callable[[threading.Event], Iterator[Entry]]
                    ) -> AsyncGenerator[Entry, None]:
    """Entries a blocking follower gives (it polls the log), read in a thread of its
    own, never in the engine pool, so that followers cannot starve it; the thread stops
    when the reader goes away (the event it is handed is set).  The follower is made
    here, in the loop: it owns its log position before the thread starts."""
    loop = asyncio.get_running_loop()
    q: asyncio.Queue[Entry | None] = asyncio.Queue()
    stop = threading.Event()
    it = entries(stop)

    def put(e: Entry | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone (server shutdown)
            loop.call_soon_threadsafe(q.put_nowait, e)

    def produce() -> None:
        try:
            for e in it:
                if stop.is_set():
                    return
                put(e)
        except Exception:  # a log the engine could not read: end the stream
            pass
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()
            put(None)

    threading.Thread(target=produce, name=f"logs-{cid[:12]}", daemon=True).start()
    try:
        while True:
            item = await q.get()
            if item is None:
                break
            yield item
    finally:
        stop.set()


def _stream_no(e: Entry) -> int:
    return STDERR if e.stream == "stderr" else STDOUT


def _fifo_writer(att: MonitorAttach, source: asyncio.Queue[bytes | None]
                 ) -> asyncio.Task[None]:
    """``attach --stdin`` to a detached ``-i`` container: the client's bytes go to the
    stdin FIFO its monitor keeps open (engine/containers/attach.py)."""
    async def copy() -> None:
        loop = asyncio.get_running_loop()
        try:
            fd = await loop.run_in_executor(None, att.open_input)
        except OSError:
            return
        try:
            while (data := await source.get()) is not None:
                await loop.run_in_executor(None, os.write, fd, data)
        except OSError:
            pass
        finally:
            os.close(fd)
    return asyncio.get_running_loop().create_task(copy())


async def attach(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    c = await _get(request)
    want_stdin = query_bool(request, "stdin") and c.config.open_stdin
    want = {1: query_bool(request, "stdout"), 2: query_bool(request, "stderr")}
    if not query_bool(request, "stream") and not query_bool(request, "logs"):
        raise InvalidParameterError("at least one of stream or logs must be set")
    keys = detach_keys_of(request.query.get("detachKeys", ""))
    tty = c.config.tty
    # A running container the server does not relay (the engine's detached monitor):
    # its output is followed in its log, its input goes to its stdin FIFO.
    detached = c.status in ("running", "paused") and c.id not in ctx.sessions.live \
        and c.id not in ctx.sessions.starting
    stream = query_bool(request, "stream")
    q = ctx.sessions.subscribe(c.id) if stream and not detached else None
    writer: asyncio.Task[None] | None = None
    att: MonitorAttach | None = None
    try:
        resp, client_input = await open_stream(request, tty=tty, want_input=want_stdin,
                                               detach_keys=keys)
        if query_bool(request, "logs"):
            async for e in log_entries(request, c, history=True, follow=False):
                n = _stream_no(e)
                if want.get(n) and not await safe_write(resp, e.data if tty
                                                        else frame(n, e.data)):
                    return resp
        if detached:
            # From here on (after the history: nothing twice).
            from orlop.engine.containers.attach import MonitorAttach

            att = MonitorAttach(ctx.config, c.id)
        if client_input is not None:
            if att is not None:
                writer = _fifo_writer(att, client_input.queue)
            else:
                ctx.sessions.feed_stdin(c.id, client_input.queue)

        async def relay() -> None:
            if stream and att is not None:
                follower = att
                async for e in _followed(c.id, lambda stop: follower.output(
                        lambda: not stop.is_set())):
                    n = _stream_no(e)
                    if want.get(n) and not await safe_write(resp, e.data if tty
                                                            else frame(n, e.data)):
                        break
            elif q is not None:
                while True:
                    item = await q.get()
                    if item is None:
                        break
                    n, data = item
                    if want.get(n) and not await safe_write(resp, data if tty
                                                            else frame(n, data)):
                        break

        if client_input is None or client_input.scanner is None:
            await relay()  # no terminal input: nothing to detach with
        else:
            work = asyncio.get_running_loop().create_task(relay())
            if await until_detached(work, client_input):
                # The detach keys (Docker's moby/term escape): the stream ends, the
                # container and its stdin stay as they are.
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await work
        await finish(resp)
        return resp
    finally:
        if q is not None:
            ctx.sessions.unsubscribe(c.id, q)
        if writer is not None:
            writer.cancel()
        if att is not None:
            att.close()  # if its output was never read


def _parse_time(value: str | None) -> float:
    from orlop.engine.containers.logs import parse_since

    return parse_since(value or "")


async def logs(request: web.Request) -> web.StreamResponse:
    c = await _get(request)
    want = {1: query_bool(request, "stdout"), 2: query_bool(request, "stderr")}
    if not want[1] and not want[2]:
        raise InvalidParameterError("Bad parameters: you must choose at least one stream")
    follow = query_bool(request, "follow")
    timestamps = query_bool(request, "timestamps")
    tail_text = request.query.get("tail", "all") or "all"
    if tail_text != "all":
        try:
            tail = max(int(tail_text), -1)
        except ValueError:
            raise InvalidParameterError(f"invalid value for tail: {tail_text!r}") from None
    else:
        tail = -1
    since = _parse_time(request.query.get("since"))
    until = _parse_time(request.query.get("until"))
    from orlop.engine.containers.logs import check_readable

    check_readable(c)
    tty = c.config.tty
    from orlop.server.headers import server_headers

    resp = web.StreamResponse(status=200, headers={
        **server_headers(), "Content-Type": RAW_STREAM if tty else MULTIPLEXED_STREAM})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    entries = log_entries(request, c, history=True, follow=follow, tail=tail, since=since,
                          until=until)
    try:
        async for e in entries:
            n = _stream_no(e)
            if not want[n]:
                continue
            data = e.time.encode() + b" " + e.data if timestamps else e.data
            if not await safe_write(resp, data if tty else frame(n, data)):
                break
    finally:
        await entries.aclose()
    await finish(resp)
    return resp


# --- stop / kill / restart / remove ---------------------------------------------------------


async def stop(request: web.Request) -> web.Response:
    """``Engine.stop_container``: the stop signal, SIGKILL after ``t`` s (in a worker
    thread: it blocks until the monitor has recorded the exit)."""
    c = await _get(request)
    t = query_int(request, "t")
    sig = request.query.get("signal") or None
    if c.status not in ("running", "paused", "restarting") and not _running(request, c.id):
        return web.Response(status=304)
    await ctx_of(request).call(lambda e: e.stop_container(c.id, t, sig))
    await _settle(request, c.id)
    return web.Response(status=204)


async def _settle(request: web.Request, cid: str) -> None:
    """Until our session of ``cid`` (if any) has recorded the exit."""
    sess = ctx_of(request).sessions.live.get(cid)
    if sess is not None:
        await sess.done.wait()


async def kill(request: web.Request) -> web.Response:
    c = await _get(request)
    sig = request.query.get("signal") or "SIGKILL"
    await ctx_of(request).call(lambda e: e.signal_container(c.id, sig))
    if sig.upper().removeprefix("SIG") in ("KILL", "9"):
        await _settle(request, c.id)
        await _unlocked(request, c.id)
    return web.Response(status=204)


async def restart(request: web.Request) -> web.Response:
    """``Engine.stop_container`` then a detached start (``Engine.restart_container``
    would start it from this multi-threaded process: it forks)."""
    ctx = ctx_of(request)
    c = await _get(request)
    t = query_int(request, "t")
    sig = request.query.get("signal") or None
    await ctx.call(lambda e: e.stop_container(c.id, t, sig))
    await _settle(request, c.id)
    c = await _get(request, c.id)
    await ctx.sessions.start_detached(c)
    return web.Response(status=204)


async def remove(request: web.Request) -> web.Response:
    ref = _cid(request)
    force = query_bool(request, "force")
    volumes = query_bool(request, "v")
    ctx = ctx_of(request)
    if query_bool(request, "link"):  # ref is a link's name: /this/alias
        await ctx.call(lambda e: e.remove_link(ref))
        return web.Response(status=204)
    c = await _get(request, ref)
    await ctx.call(lambda e: e.remove_container(c.id, force=force, volumes=volumes))
    if force:
        await _settle(request, c.id)
    return web.Response(status=204)


async def prune(request: web.Request) -> web.Response:
    """``POST /containers/prune`` (wire/prune.py, which the CLI's local backend uses)."""
    from orlop.wire.prune import prune_containers

    filters = query_filters(request)
    report = await ctx_of(request).call(lambda e: prune_containers(e, filters))
    return json_response(report)


async def resize(request: web.Request) -> web.Response:
    """The size of the container's terminal (engine/containers/console.py); ``h`` and ``w``."""
    c = await _get(request)
    h, w = query_int(request, "h", 0) or 0, query_int(request, "w", 0) or 0
    if h < 0 or w < 0 or h > 65535 or w > 65535:
        raise InvalidParameterError(f"invalid terminal size {h}x{w}")

    def go(e: Engine) -> None:
        from orlop.engine.containers.console import resize as resize_console

        resize_console(e.containers, e.config, c, h, w)

    await ctx_of(request).call(go)
    return web.Response(status=200)


# --- rename / pause / top / changes ----------------------------------------------------------


async def rename(request: web.Request) -> web.Response:
    ref = _cid(request)
    name = request.query.get("name", "")
    if not name:
        raise InvalidParameterError("name is required")
    await ctx_of(request).call(lambda e: e.rename_container(ref, name))
    return web.Response(status=204)


async def pause(request: web.Request) -> web.Response:
    ref = _cid(request)
    paused = request.path.endswith("/pause")
    await ctx_of(request).call(lambda e: e.pause_container(ref, paused))
    return web.Response(status=204)


async def top(request: web.Request) -> web.Response:
    ref = _cid(request)
    ps_args = (request.query.get("ps_args") or "").split()
    header, rows = await ctx_of(request).call(lambda e: e.top_container(ref, ps_args))
    return json_response({"Titles": header, "Processes": rows})


async def changes(request: web.Request) -> web.Response:
    ref = _cid(request)
    changes = await ctx_of(request).call(lambda e: e.container_changes(ref))
    return json_response([{"Path": ch.path, "Kind": ch.kind} for ch in changes])


# --- archive / export ------------------------------------------------------------------------

STAT_HEADER = "X-Docker-Container-Path-Stat"


async def _stat_header(request: web.Request, ref: str, path: str) -> str:
    import base64

    from orlop.server import helpers

    st = await helpers.call(ctx_of(request), "stat", ref, path=path)
    return base64.b64encode(gojson.marshal(st).encode()).decode()


async def archive_get(request: web.Request) -> web.StreamResponse:
    """HEAD: the path's stat header only; GET: a tar of the path with it.  Both resolve
    the path inside the container's root in a helper process (engine/files/view.py)."""
    from orlop.server import helpers

    c = await _get(request)
    path = archive_path(request)
    # Looked up by the ref the client gave (Docker names the container that way in
    # "Could not find the file ... in container REF"); `_get` has checked it exists.
    header = await _stat_header(request, request.match_info["id"], path)
    if request.method == "HEAD":
        return web.Response(status=200, headers={STAT_HEADER: header,
                                                 "Content-Type": "application/x-tar"})
    first, rest, _h = await helpers.open_output(ctx_of(request), "archive-get", c.id,
                                               path=path)
    return await send_stream(request, first, rest, {STAT_HEADER: header,
                                                    "Content-Type": "application/x-tar"})


async def archive_put(request: web.Request) -> web.Response:
    """Extract the body (a tar) into the directory ``path`` (``Engine.copy_in``)."""
    from orlop.server import helpers
    from orlop.server.spool import spooled_body

    ctx = ctx_of(request)
    c = await _get(request)
    path = archive_path(request)
    async with spooled_body(request, ctx.config, ctx.stream_limit) as f:
        await helpers.call(ctx, "archive-put", c.id, path=path, stdin=f)
    return web.Response(status=200)


async def export(request: web.Request) -> web.StreamResponse:
    from orlop.server import helpers

    c = await _get(request)
    first, rest, _h = await helpers.open_output(ctx_of(request), "export", c.id)
    return await send_stream(request, first, rest, {"Content-Type": "application/x-tar"})


def register(routes: Routes) -> None:
    routes.add("POST", "/containers/create", create)
    routes.add("GET", "/containers/json", list_containers)
    routes.add("POST", "/containers/prune", prune)
    routes.add("GET", "/containers/{id}/json", inspect)
    routes.add("POST", "/containers/{id}/start", start)
    routes.add("POST", "/containers/{id}/wait", wait)
    routes.add("POST", "/containers/{id}/attach", attach)
    routes.add("GET", "/containers/{id}/logs", logs)
    routes.add("POST", "/containers/{id}/stop", stop)
    routes.add("POST", "/containers/{id}/kill", kill)
    routes.add("POST", "/containers/{id}/restart", restart)
    routes.add("POST", "/containers/{id}/resize", resize)
    routes.add("DELETE", "/containers/{id:.+}", remove)  # .+: a link's name has a "/"
    routes.add("POST", "/containers/{id}/rename", rename)
    routes.add("POST", "/containers/{id}/pause", pause)
    routes.add("POST", "/containers/{id}/unpause", pause)
    routes.add("GET", "/containers/{id}/top", top)
    routes.add("GET", "/containers/{id}/changes", changes)
    routes.add("GET", "/containers/{id}/export", export)
    routes.add("GET", "/containers/{id}/archive", archive_get)  # and HEAD
    routes.add("PUT", "/containers/{id}/archive", archive_put)
    # GET /containers/{id}/stats and POST /containers/{id}/update: routes/stats.py
