"""The dashboard's actions: forms posted (create, remove, prune, clone, upload, import,
push, pull, snapshot create/restore/remove) and downloads (export, a file or folder as a
tar).

Every one is the engine operation the API route of the same verb calls
(server/routes/volumes.py): ``VolumeService.create``/``remove``, ``prune_volumes``,
``Engine.volume_clone``/``volume_export``/``volume_import``, ``create_snapshot`` and
``SnapshotStore.restore``/``remove``, and volumecp's
``stream_out``/``stream_in`` for files (paths resolved inside the volume by fd).  What is
added here is only the browser's side: a CSRF token checked first, the form decoded,
a redirect after success (so a reload does not post again) and an HTML error page.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import tarfile
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from typing import IO, TYPE_CHECKING

from aiohttp import BodyPartReader, MultipartReader, web

from orlop.errors import ConflictError, InvalidParameterError, VolumeInUseError
from orlop.server.dashboard.appctx import ctx_of
from orlop.server.dashboard.html import Markup, join, q, tag, url
from orlop.server.dashboard.pages import BASE, error_page, html_errors
from orlop.server.dashboard.security import CSRF_FIELD, HEADERS, check_csrf
from orlop.server.errors import PayloadTooLargeError
from orlop.server.pipefeed import feed

if TYPE_CHECKING:
    from orlop.engine import Engine
    from orlop.server.context import ServerContext
    from orlop.volumes.snapshots import Snapshot
    from orlop.volumes.store import VolumeUser


def done(where: str, message: str) -> web.Response:
    """303 to the page to show next, the outcome as a notice on it."""
    sep = "&" if "?" in where else "?"
    return web.Response(status=303, headers={"Location": where + sep + "done=" + q(message)})


def key_values(text: str, what: str) -> dict[str, str]:
    """``key=value`` lines (a textarea) as a map; a bare ``key`` has an empty value."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        k, _, v = line.partition("=")
        if not k.strip():
            raise InvalidParameterError(f"{what}: {line!r} has no key")
        out[k.strip()] = v.strip()
    return out


async def form(request: web.Request) -> dict[str, str]:
    """An url-encoded form (bounded by the app's body limit), its CSRF token checked."""
    data = await request.post()
    fields = {k: v for k, v in data.items() if isinstance(v, str)}
    await check_csrf(request, fields.get(CSRF_FIELD))
    return fields


async def multipart(request: web.Request) -> MultipartReader:
    """A multipart form read part by part (files are not held in memory); the CSRF token
    is its first field (every form puts it first) or the ``X-CSRF-Token`` header (the
    page's script sends both)."""
    reader = await request.multipart()
    sent = request.headers.get("X-CSRF-Token")
    if sent is None:
        part = await reader.next()
        if isinstance(part, BodyPartReader) and part.name == CSRF_FIELD:
            sent = (await part.read(decode=True)).decode("utf-8", "replace")
    await check_csrf(request, sent)
    return reader


async def fields_until_file(reader: MultipartReader, file_field: str
                            ) -> tuple[dict[str, str], BodyPartReader | None]:
    fields: dict[str, str] = {}
    while True:
        part = await reader.next()
        if part is None:
            return fields, None
        if not isinstance(part, BodyPartReader):
            raise InvalidParameterError("nested multipart bodies are not accepted")
        if part.name == file_field:
            return fields, part
        if part.name and part.name != CSRF_FIELD:
            fields[part.name] = (await part.read(decode=True)).decode("utf-8", "replace")


# --- create, remove, prune, clone ------------------------------------------------------


@html_errors
async def create(request: web.Request) -> web.Response:
    f = await form(request)
    name = f.get("name", "").strip() or None
    driver = f.get("driver", "").strip() or "local"
    labels = key_values(f.get("labels", ""), "labels")
    options = key_values(f.get("options", ""), "driver options") or None
    vol = await ctx_of(request).call(
        lambda e: e.volumes.create(name, driver, options, labels))
    return done(f"{BASE}/volumes/{q(vol.name)}", f"Volume {vol.name} created")


@html_errors
async def remove(request: web.Request) -> web.Response:
    await form(request)
    name = request.match_info["name"]
    ctx = ctx_of(request)
    try:
        await ctx.call(lambda e: e.volumes.remove(name))
    except VolumeInUseError as exc:
        users = await ctx.call(lambda e: e.volumes.users(name))
        return error_page(request, 409, f"Volume {name} is in use by these containers: "
                          "remove them first (the volume was not removed).",
                          users_list(users) if users else tag("p", str(exc)),
                          back=f"{BASE}/volumes/{q(name)}")
    return done(BASE + "/", f"Volume {name} removed")


def users_list(users: list[VolumeUser]) -> Markup:
    """The containers an in-use refusal names, linked to the containers page."""
    return tag("ul", join(tag("li", join([
        tag("a", u.name, href=url(f"{BASE}/containers", q=u.name)),
        f" ({'running' if u.running else 'stopped'}) uses it at {u.destination}"]))
        for u in users), id="in-use-by")


@html_errors
async def prune(request: web.Request) -> web.Response:
    f = await form(request)
    all_ = f.get("all", "") == "1"

    def go(e: Engine) -> tuple[list[str], int]:
        from orlop.engine.prune import prune_volumes

        return prune_volumes(e, all_, {"all": ["true"]} if all_ else None)

    from orlop.units import human_size

    names, reclaimed = await ctx_of(request).call(go)
    return done(BASE + "/", f"Pruned {len(names)} volume(s), "
                f"{human_size(float(reclaimed))} reclaimed")


@html_errors
async def clone(request: web.Request) -> web.Response:
    f = await form(request)
    src = request.match_info["name"]
    dst = f.get("target", "").strip()
    if not dst:
        raise InvalidParameterError("clone: the new volume's name is required")
    await ctx_of(request).call(lambda e: e.volume_clone(src, dst))
    return done(f"{BASE}/volumes/{q(dst)}", f"Volume {src} cloned as {dst}")


# --- snapshots: the API's /libpod/volumes/{name}/snapshots routes' operations ------------


@html_errors
async def snapshot_create(request: web.Request) -> web.Response:
    """``volume snapshot create [--consistent] VOLUME [NAME]``: the engine names it when
    no name is given, and refuses a name that is not one plain component."""
    f = await form(request)
    name = request.match_info["name"]
    snap = f.get("name", "").strip() or None
    consistent = f.get("consistent", "") == "1"

    def go(e: Engine) -> Snapshot:
        from orlop.engine.files.volumebackup import create_snapshot

        return create_snapshot(e, name, snap, consistent=consistent)

    made = await ctx_of(request).call(go)
    return done(f"{BASE}/volumes/{q(name)}", f"Snapshot {made.name} of {name} created "
                f"({made.method})")


@html_errors
async def snapshot_restore(request: web.Request) -> web.Response:
    """``volume snapshot restore``: refused while a running container uses the volume;
    the refusal page shows the engine's error and those containers."""
    await form(request)
    name, snap = request.match_info["name"], request.match_info["snapshot"]
    ctx = ctx_of(request)

    def go(e: Engine) -> Snapshot:
        from orlop.volumes.snapshots import SnapshotStore

        return SnapshotStore(e.volumes).restore(name, snap)

    try:
        await ctx.call(go)
    except ConflictError as exc:
        users = [u for u in await ctx.call(lambda e: e.volumes.users(name)) if u.running]
        return error_page(request, 409, f"Volume {name} is in use: stop these containers "
                          "first (nothing was restored).",
                          join([tag("p", str(exc)), users_list(users) if users else ""]),
                          back=f"{BASE}/volumes/{q(name)}")
    return done(f"{BASE}/volumes/{q(name)}", f"Volume {name} restored from snapshot {snap}")


@html_errors
async def snapshot_remove(request: web.Request) -> web.Response:
    await form(request)
    name, snap = request.match_info["name"], request.match_info["snapshot"]

    def go(e: Engine) -> None:
        from orlop.volumes.snapshots import SnapshotStore

        SnapshotStore(e.volumes).remove(name, snap)

    await ctx_of(request).call(go)
    return done(f"{BASE}/volumes/{q(name)}", f"Snapshot {snap} of {name} removed")


# --- registries: volume push / pull (engine/registry.py, as the API's libpod routes) ------
# The dashboard has no login: a registry that needs credentials is reached with
# `orlop volume push/pull` (docs/dashboard.md).


@html_errors
async def push(request: web.Request) -> web.Response:
    f = await form(request)
    name = request.match_info["name"]
    ref = f.get("reference", "").strip()
    if not ref:
        raise InvalidParameterError("push: a reference (registry/repository:tag) is required")

    def go(e: Engine) -> dict[str, object]:
        from orlop.engine.registry import volume_push

        return volume_push(e, name, ref)

    out = await ctx_of(request).call(go)
    return done(f"{BASE}/volumes/{q(name)}", f"Pushed {name} to {ref} ({out['Digest']})")


@html_errors
async def pull(request: web.Request) -> web.Response:
    f = await form(request)
    ref = f.get("reference", "").strip()
    if not ref:
        raise InvalidParameterError("pull: a reference (registry/repository:tag) is required")
    name = f.get("name", "").strip()
    force = f.get("force", "") == "1"

    def go(e: Engine) -> dict[str, object]:
        from orlop.engine.registry import volume_pull

        return volume_pull(e, ref, name, force=force)

    out = await ctx_of(request).call(go)
    got = str(out["Name"])
    return done(f"{BASE}/volumes/{q(got)}", f"Pulled {ref} into volume {got}")


# --- downloads ---------------------------------------------------------------------------


def _attachment(filename: str) -> str:
    """A Content-Disposition naming the download; the name reduced to safe characters
    (the exact name is in the tar, not in a header)."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_"
                   for c in filename).strip("._") or "download"
    return f'attachment; filename="{safe}"'


async def _send(request: web.Request, fn: Callable[[Engine, int], object],
                filename: str) -> web.StreamResponse:
    """A tar an engine call writes, streamed as a download.  The engine's error before
    the first byte is still an error page (open_engine_output raises it); a browser that
    goes away closes the stream, which stops the writer (EPIPE)."""
    from orlop.server.helpers import open_engine_output

    first, rest = await open_engine_output(ctx_of(request), fn)
    resp = web.StreamResponse(status=200, headers={
        **HEADERS, "Content-Type": "application/x-tar",
        "Content-Disposition": _attachment(filename)})
    resp.enable_chunked_encoding()
    try:
        await resp.prepare(request)
        await resp.write(first)
        async for chunk in rest:
            await resp.write(chunk)
        await resp.write_eof()
    except (ConnectionError, RuntimeError):
        pass  # the browser went away (or cancelled the download)
    finally:
        await rest.aclose()
    return resp


@html_errors
async def export(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    return await _send(request, lambda e, fd: e.volume_export(name, fd), f"{name}.tar")


@html_errors
async def download(request: web.Request) -> web.StreamResponse:
    """A file or a folder of the volume as a tar (entries named after its base name;
    symlinks kept as symlinks, never followed: volumecp.stream_out)."""
    from orlop.engine.files.volumebrowse import clean_path

    name = request.match_info["name"]
    path = clean_path(request.query.get("path", "/"))

    def write(e: Engine, fd: int) -> object:
        from orlop.engine.files.volumecp import stream_out

        return stream_out(e, name, path if path != "/" else "/.", fd)

    return await _send(request, write, f"{path.rsplit('/', 1)[-1] or name}.tar")


# --- uploads --------------------------------------------------------------------------------


def plain_name(name: str) -> str:
    """An uploaded file's name, which must be one path component: browsers send the base
    name only; anything else (``../x``, ``a/b``, ``..``) is refused, not repaired."""
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        raise InvalidParameterError(f"upload: {name!r} is not a plain file name")
    return name


async def _spool(part: BodyPartReader, ctx: ServerContext, budget: int) -> tuple[IO[bytes],
                                                                                   int]:
    os.makedirs(ctx.config.tmp_dir, mode=0o700, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix="orlopd-dashboard-", dir=ctx.config.tmp_dir)
    os.unlink(path)  # anonymous: nothing left behind whatever happens
    f = os.fdopen(fd, "w+b")
    total = 0
    try:
        while chunk := await part.read_chunk(1 << 20):
            total += len(chunk)
            if total > budget:
                raise PayloadTooLargeError(f"upload too large: the limit is {budget} bytes")
            await ctx.run(functools.partial(f.write, chunk))
    except BaseException:
        f.close()
        raise
    f.seek(0)
    return f, total


@html_errors
async def upload(request: web.Request) -> web.Response:
    """Files posted into a folder of the volume: spooled, put in one tar and extracted
    by volumecp.stream_in (the folder resolved inside the volume; an existing file of the
    same name is replaced, as ``volume cp`` does)."""
    from orlop.engine.files.volumebrowse import clean_path

    ctx = ctx_of(request)
    name = request.match_info["name"]
    folder = clean_path(request.query.get("path", "/"))
    reader = await multipart(request)
    files: list[tuple[str, IO[bytes], int]] = []
    budget = ctx.stream_limit
    try:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.filename is None:
                continue
            if part.filename == "":
                continue  # an empty file input
            fname = plain_name(part.filename)
            f, n = await _spool(part, ctx, budget)
            files.append((fname, f, n))
            budget -= n
        if not files:
            raise InvalidParameterError("upload: no file was sent")

        def go(e: Engine) -> object:
            from orlop.engine.files.volumecp import stream_in

            with tempfile.TemporaryFile(dir=ctx.config.tmp_dir) as tar_f:
                now = time.time()
                with tarfile.open(fileobj=tar_f, mode="w", format=tarfile.PAX_FORMAT) as t:
                    for fname, f, n in files:
                        info = tarfile.TarInfo(fname)
                        info.size, info.mode, info.mtime = n, 0o644, now
                        t.addfile(info, f)
                tar_f.seek(0)
                return stream_in(e, name, folder, tar_f)

        await ctx.call(go)
    finally:
        for _n, f, _s in files:
            f.close()
    names = ", ".join(n for n, _f, _s in files)
    return done(f"{BASE}/volumes/{q(name)}?path={q(folder)}",
                f"Uploaded {len(files)} file(s) into {folder}: {names}")


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(1 << 20):
        yield chunk


@html_errors
async def import_(request: web.Request) -> web.Response:
    """A volume archive uploaded into a volume (created if missing): the file part goes
    through a pipe to ``Engine.volume_import`` as it arrives, as the API's import does."""
    ctx = ctx_of(request)
    reader = await multipart(request)
    fields, part = await fields_until_file(reader, "archive")
    name = fields.get("name", "").strip()
    if not name:
        raise InvalidParameterError("import: the volume's name is required")
    if part is None:
        raise InvalidParameterError("import: no archive was sent")
    force = fields.get("force", "") == "1"
    rfd, wfd = os.pipe()

    def run(e: Engine) -> object:
        with os.fdopen(rfd, "rb", buffering=1 << 20) as stream:
            return e.volume_import(name, stream, force=force)

    job: asyncio.Task[object] = asyncio.get_running_loop().create_task(ctx.call(run))
    try:
        await feed(ctx, _chunks(part), wfd, job, what="upload")
    finally:
        await asyncio.wait([job])
        with contextlib.suppress(BaseException):
            job.exception()
    job.result()
    return done(f"{BASE}/volumes/{q(name)}", f"Imported into volume {name}")


__all__ = ["clone", "create", "download", "export", "import_", "key_values", "plain_name",
           "prune", "pull", "push", "remove", "snapshot_create", "snapshot_remove",
           "snapshot_restore", "upload", "users_list"]
