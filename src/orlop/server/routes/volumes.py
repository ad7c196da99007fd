"""``/volumes``: list, create, inspect, remove, prune (moby ``api/server/router/volume``);
and the volume data verbs Docker's API lacks, where Podman's libpod API has them:

* ``GET /libpod/volumes/{name}/export`` -- the volume's archive (``Engine.volume_export``:
  Orlop's self-describing tar), streamed as it is written; ``checksum`` = crc32|sha256;
* ``POST /libpod/volumes/{name}/import`` -- the body is an archive, fed to
  ``Engine.volume_import`` as it arrives (its staging, checksum check and in-use refusal;
  ``force`` as ``volume import --force``);
* ``POST /libpod/volumes/{name}/clone?name=DST`` -- Orlop's: a copy made on the server,
  reflinked where its filesystem can, never sent over the socket twice;
* ``GET /libpod/volumes/{name}/json`` (inspect with ``UsedBy``),
  ``POST /libpod/volumes/{name}/update`` (labels), ``POST /libpod/volumes/{name}/rename``
  and ``GET /libpod/volumes/prune`` (a dry run: a GET, so no server can take it for a
  prune) -- Orlop's;
* ``GET|HEAD|PUT /libpod/volumes/{name}/archive?path=`` (the container archive routes'
  shapes) and ``POST /libpod/volumes/{name}/copy`` -- Orlop's ``volume cp``;
* ``GET|POST /libpod/volumes/{name}/snapshots``, ``DELETE .../snapshots/{snapshot}`` and
  ``POST .../snapshots/{snapshot}/restore`` -- Orlop's ``volume snapshot``; the export
  route takes ``consistent``, ``snapshot`` and ``since`` (``volume export``'s flags).

``GET /volumes/{name}?size=1`` adds ``UsageData`` (Orlop's ``volume inspect --size``).
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any

from aiohttp import web

from orlop.errors import InvalidParameterError
from orlop.server.context import ctx_of
from orlop.server.headers import api_version
from orlop.server.pipefeed import feed
from orlop.server.wire import (
    archive_path,
    json_body,
    json_body_response,
    json_bytes,
    json_response,
    query_bool,
    query_filters,
)
from orlop.wire import gojson
from orlop.wire.fields import field_str, field_str_map
from orlop.wire.prune import volumes_report
from orlop.wire.volumes import inspect_volume as volume_inspect_json
from orlop.wire.volumes import volume_json

if TYPE_CHECKING:
    from orlop.engine import Engine
    from orlop.server.routing import Routes


async def list_volumes(request: web.Request) -> web.Response:
    """The body comes from ``ServerContext.volume_list``: built once per change of the
    database (by any process), then sent as is; never older than a fresh read."""
    filters = query_filters(request)
    ctx = ctx_of(request)
    body = await ctx.run(functools.partial(ctx.volume_list.get, filters, _list_body))
    return json_body_response(body)


def _list_body(vols: list[dict[str, Any]]) -> bytes:
    """moby's ``volume.ListResponse``, encoded (what the listing cache keeps)."""
    return json_bytes({"Volumes": vols, "Warnings": None})


async def create_volume(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    body = await json_body(request, ctx.body_limit, required=False)
    name = field_str(body, "Name") or None
    driver = field_str(body, "Driver") or "local"
    opts = body.get("DriverOpts")
    labels = body.get("Labels")
    options = field_str_map(body, "DriverOpts") if opts is not None else None
    label_map = field_str_map(body, "Labels") if labels is not None else None

    def go(e: Engine) -> dict[str, Any]:
        return volume_json(e.volumes.create(name, driver, options, label_map))

    return json_response(await ctx.call(go), status=201)


async def inspect_volume(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    size = query_bool(request, "size")

    def go(e: Engine) -> dict[str, Any]:
        vol = e.volumes.get(name)
        out = volume_json(vol, e.volumes.usage(name) if size else None)
        return e.volumes.with_plugin_fields(vol, out)

    return json_response(await ctx_of(request).call(go))


async def inspect_volume_libpod(request: web.Request) -> web.Response:
    """Orlop's ``GET /libpod/volumes/{name}/json``: Docker's object plus ``UsedBy`` (the
    containers using the volume).  Docker's ``GET /volumes/{name}`` stays byte for byte
    the object ``GET /volumes`` lists."""
    name = request.match_info["name"]
    size = query_bool(request, "size")
    return json_response(await ctx_of(request).call(
        lambda e: volume_inspect_json(e.volumes, name, size)))


async def remove_volume(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    force = query_bool(request, "force")
    await ctx_of(request).call(lambda e: e.volumes.remove(name, force=force))
    return web.Response(status=204)


async def prune_volumes(request: web.Request) -> web.Response:
    filters = query_filters(request)
    # API < 1.42 pruned every unused volume; 1.42 made named ones opt-in (filter all=true).
    old_api = tuple(int(p) for p in api_version(request).split(".")) < (1, 42)

    def go(e: Engine) -> tuple[list[str], int]:
        from orlop.engine.prune import prune_volumes

        return prune_volumes(e, old_api, filters)

    removed, reclaimed = await ctx_of(request).call(go)
    return json_response(volumes_report(removed, reclaimed))


async def prune_preview(request: web.Request) -> web.Response:
    """Orlop's ``GET /libpod/volumes/prune``: what ``POST /volumes/prune`` with the same
    filters would remove (``volume prune --dry-run``), removing nothing."""
    filters = query_filters(request)

    def go(e: Engine) -> tuple[list[str], int]:
        from orlop.engine.prune import prune_volumes

        return prune_volumes(e, False, filters, dry_run=True)

    removed, reclaimed = await ctx_of(request).call(go)
    return json_response(volumes_report(removed, reclaimed))


async def update_volume(request: web.Request) -> web.Response:
    """Orlop's ``POST /libpod/volumes/{name}/update``: ``{"LabelAdd": {k: v},
    "LabelRm": [k]}`` applied in one transaction; the volume as it is after."""
    ctx = ctx_of(request)
    name = request.match_info["name"]
    body = await json_body(request, ctx.body_limit, required=False)
    add = field_str_map(body, "LabelAdd") if body.get("LabelAdd") is not None else {}
    rm_raw = body.get("LabelRm") or []
    if not isinstance(rm_raw, list) or not all(isinstance(k, str) for k in rm_raw):
        raise InvalidParameterError("LabelRm: a list of label keys is expected")
    unknown = set(body) - {"LabelAdd", "LabelRm"}
    if unknown:
        raise InvalidParameterError(f"update {name}: unknown field {sorted(unknown)[0]}")
    vol = await ctx.call(lambda e: e.volumes.update_labels(name, add, list(rm_raw)))
    return json_response(volume_json(vol))


async def rename_volume(request: web.Request) -> web.Response:
    """Orlop's ``POST /libpod/volumes/{name}/rename?name=NEW`` (as Docker's container
    rename takes the new name)."""
    old = request.match_info["name"]
    new = request.query.get("name", "")
    if not new:
        raise InvalidParameterError("rename: the new volume's name is required (name=)")
    vol = await ctx_of(request).call(lambda e: e.volumes.rename(old, new))
    return json_response(volume_json(vol))


async def export_volume(request: web.Request) -> web.StreamResponse:
    from orlop.server.helpers import open_engine_output
    from orlop.server.streams import send_stream

    name = request.match_info["name"]
    checksum = request.query.get("checksum", "crc32")
    consistent = query_bool(request, "consistent")
    snapshot = request.query.get("snapshot") or None
    since = request.query.get("since") or None
    first, rest = await open_engine_output(
        ctx_of(request), lambda e, fd: e.volume_export(
            name, fd, checksum=checksum, consistent=consistent, snapshot=snapshot,
            since=since))
    return await send_stream(request, first, rest, {"Content-Type": "application/x-tar"})


async def import_volume(request: web.Request) -> web.Response:
    """The body goes through a pipe to the engine as it arrives (no spool: the engine
    stages the content beside the volume itself).  Should the engine stop early (a
    volume in use, a corrupt archive), the rest of the body is read and dropped, so that
    the client, still sending, gets the error rather than a reset connection."""
    import asyncio

    ctx = ctx_of(request)
    name = request.match_info["name"]
    force = query_bool(request, "force")
    loop = asyncio.get_running_loop()
    rfd, wfd = os.pipe()

    def run(e: Engine) -> None:
        with os.fdopen(rfd, "rb", buffering=1 << 20) as stream:
            e.volume_import(name, stream, force=force)

    job = loop.create_task(ctx.call(run))
    try:
        await feed(ctx, request.content.iter_chunked(1 << 20), wfd, job)
    finally:
        await asyncio.wait([job])
        job.exception()  # retrieved here: an upload error raised above takes precedence
    job.result()
    return web.Response(status=204)


async def clone_volume(request: web.Request) -> web.Response:
    src = request.match_info["name"]
    dst = request.query.get("name", "")
    if not dst:
        raise InvalidParameterError("clone: the new volume's name is required (name=)")
    vol = await ctx_of(request).call(lambda e: e.volume_clone(src, dst))
    return json_response(volume_json(vol), status=201)


# --- snapshots (Orlop's): /libpod/volumes/{name}/snapshots -------------------------------


async def list_snapshots(request: web.Request) -> web.Response:
    name = request.match_info["name"]

    def go(e: Engine) -> list[dict[str, Any]]:
        from orlop.volumes.snapshots import SnapshotStore

        return [s.to_wire() for s in SnapshotStore(e.volumes).list(name)]

    return json_response(await ctx_of(request).call(go))


async def create_snapshot(request: web.Request) -> web.Response:
    """``POST /libpod/volumes/{name}/snapshots?name=SNAP&consistent=1``: 201 and the
    snapshot (``Name``, ``ID``, ``CreatedAt``, ``Method``, ``Size``)."""
    name = request.match_info["name"]
    snap = request.query.get("name") or None
    consistent = query_bool(request, "consistent")

    def go(e: Engine) -> dict[str, Any]:
        from orlop.engine.files.volumebackup import create_snapshot as create

        return create(e, name, snap, consistent=consistent).to_wire()

    return json_response(await ctx_of(request).call(go), status=201)


async def remove_snapshot(request: web.Request) -> web.Response:
    name, snap = request.match_info["name"], request.match_info["snapshot"]

    def go(e: Engine) -> None:
        from orlop.volumes.snapshots import SnapshotStore

        SnapshotStore(e.volumes).remove(name, snap)

    await ctx_of(request).call(go)
    return web.Response(status=204)


async def restore_snapshot(request: web.Request) -> web.Response:
    """``POST /libpod/volumes/{name}/snapshots/{snapshot}/restore``: 409 while a running
    container uses the volume."""
    name, snap = request.match_info["name"], request.match_info["snapshot"]

    def go(e: Engine) -> dict[str, Any]:
        from orlop.volumes.snapshots import SnapshotStore

        return SnapshotStore(e.volumes).restore(name, snap).to_wire()

    return json_response(await ctx_of(request).call(go))


# --- volume cp (Orlop's): the container archive routes' shapes, on a volume --------------


async def _volume_stat_header(request: web.Request, name: str, path: str) -> str:
    import base64
    from datetime import UTC, datetime

    from orlop.server.monitor import go_file_mode

    def go(e: Engine) -> dict[str, Any]:
        from orlop.engine.files.volumecp import stat_path

        st, target = stat_path(e, name, path)
        clean = "/" + "/".join(p for p in path.split("/") if p not in ("", "."))
        mtime = datetime.fromtimestamp(st.st_mtime, UTC).isoformat().replace("+00:00", "Z")
        return {"name": os.path.basename(clean) or "/", "size": st.st_size,
                "mode": go_file_mode(st.st_mode), "mtime": mtime, "linkTarget": target}

    st = await ctx_of(request).call(go)
    return base64.b64encode(gojson.marshal(st).encode()).decode()


async def archive_get(request: web.Request) -> web.StreamResponse:
    """``GET|HEAD /libpod/volumes/{name}/archive?path=``: as the container archive route
    (HEAD: the ContainerPathStat header only; GET: a tar of the path with it), the path
    resolved inside the volume by fd (engine/files/volumecp.py)."""
    from orlop.server.helpers import open_engine_output
    from orlop.server.streams import send_stream

    name = request.match_info["name"]
    path = archive_path(request)
    header = await _volume_stat_header(request, name, path)
    headers = {"X-Docker-Container-Path-Stat": header, "Content-Type": "application/x-tar"}
    if request.method == "HEAD":
        return web.Response(status=200, headers=headers)

    def write(e: Engine, fd: int) -> object:
        from orlop.engine.files.volumecp import stream_out

        return stream_out(e, name, path, fd)

    first, rest = await open_engine_output(ctx_of(request), write)
    return await send_stream(request, first, rest, headers)


async def archive_put(request: web.Request) -> web.Response:
    """``PUT /libpod/volumes/{name}/archive?path=``: extract the body (a tar) into the
    directory ``path`` of the volume, owners kept as the tar says (as the container
    route: the client decides with ``-a`` what owners it writes)."""
    from orlop.server.spool import spooled_body

    ctx = ctx_of(request)
    name = request.match_info["name"]
    path = archive_path(request)

    async with spooled_body(request, ctx.config, ctx.stream_limit) as f:
        def go(e: Engine) -> object:
            from orlop.engine.files.volumecp import stream_in

            return stream_in(e, name, path, f, archive=True)

        await ctx.call(go)
    return web.Response(status=200)


async def copy_volume_path(request: web.Request) -> web.Response:
    """``POST /libpod/volumes/{name}/copy?path=SRC&volume=DST&dest=DEST&archive=``:
    ``volume cp A:SRC B:DEST`` on the server; ``{"Size": bytes of tar moved}``."""
    src_vol = request.match_info["name"]
    src = archive_path(request)
    dst_vol = request.query.get("volume", "")
    dest = request.query.get("dest", "")
    if not dst_vol or not dest:
        raise InvalidParameterError("copy: the destination volume and path are required "
                                    "(volume=, dest=)")
    archive = query_bool(request, "archive")

    def go(e: Engine) -> int:
        from orlop.engine.files.volumecp import copy_between

        return copy_between(e, src_vol, src, dst_vol, dest, archive=archive).size

    return json_response({"Size": await ctx_of(request).call(go)})


async def list_plugins(request: web.Request) -> web.Response:
    """``GET /plugins``: Docker's Plugin objects for the legacy volume plugins found
    (volumes/plugins/status.py says how each field is filled)."""
    filters = query_filters(request)

    def go(e: Engine) -> list[dict[str, Any]]:
        return [s.to_wire() for s in e.volumes.plugins(filters)]

    return json_response(await ctx_of(request).call(go))


def register(routes: Routes) -> None:
    routes.add("GET", "/plugins", list_plugins)
    routes.add("GET", "/volumes", list_volumes)
    routes.add("POST", "/volumes/create", create_volume)
    routes.add("POST", "/volumes/prune", prune_volumes)
    routes.add("GET", "/volumes/{name}", inspect_volume)
    routes.add("DELETE", "/volumes/{name}", remove_volume)
    routes.add("GET", "/libpod/volumes/{name}/export", export_volume)
    routes.add("POST", "/libpod/volumes/{name}/import", import_volume)
    routes.add("POST", "/libpod/volumes/{name}/clone", clone_volume)
    routes.add("GET", "/libpod/volumes/prune", prune_preview)
    routes.add("GET", "/libpod/volumes/{name}/json", inspect_volume_libpod)
    routes.add("POST", "/libpod/volumes/{name}/update", update_volume)
    routes.add("POST", "/libpod/volumes/{name}/rename", rename_volume)
    routes.add("GET", "/libpod/volumes/{name}/archive", archive_get)  # and HEAD
    routes.add("PUT", "/libpod/volumes/{name}/archive", archive_put)
    routes.add("POST", "/libpod/volumes/{name}/copy", copy_volume_path)
    routes.add("GET", "/libpod/volumes/{name}/snapshots", list_snapshots)
    routes.add("POST", "/libpod/volumes/{name}/snapshots", create_snapshot)
    routes.add("DELETE", "/libpod/volumes/{name}/snapshots/{snapshot}", remove_snapshot)
    routes.add("POST", "/libpod/volumes/{name}/snapshots/{snapshot}/restore",
               restore_snapshot)
