"""The dashboard's pages (GET): every volume, one volume with its files, a file preview,
the prune dry run, and the read-only containers and images lists.

Each handler makes one engine call in a worker thread (``ServerContext.call``) and turns
its typed result into HTML here; sorting and filtering are query parameters, so every
page works without JavaScript and can be bookmarked.
"""

from __future__ import annotations

import logging
import stat
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from aiohttp import web

from orlop import __version__
from orlop.errors import OrlopError
from orlop.server.dashboard.appctx import ctx_of
from orlop.server.dashboard.data import (
    ContainerRow,
    Totals,
    VolumeRow,
    container_rows,
    image_rows,
    snapshot_rows,
    volume_row,
    volume_rows,
)
from orlop.server.dashboard.html import Markup, esc, join, plain, q, render, size, tag, url, when
from orlop.server.dashboard.security import SECRET
from orlop.server.errors import status_for

if TYPE_CHECKING:
    from orlop.engine import Engine
    from orlop.engine.files.volumebrowse import Entry, Head, Listing
    from orlop.volumes.snapshots import Snapshot
    from orlop.volumes.store import VolumeUser

log = logging.getLogger("orlopd")

PREVIEW_LIMIT = 64 << 10  # bytes of a file shown as text
BASE = "/dashboard"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def vol_url(name: str, path: str = "", sub: str = "") -> Markup:
    return url(f"{BASE}/volumes/{q(name)}{sub}", path=path if path not in ("", "/") else "")


def csrf(request: web.Request) -> str:
    return request.app[SECRET].token_for(request)


def page(request: web.Request, title: str, body: Markup, *, nav: str = "volumes",
         status: int = 200, heading: object = None) -> web.Response:
    notice = request.query.get("done", "")
    html_text = render(
        "layout.html", title=title, heading=title if heading is None else heading,
        body=body, version=__version__,
        notice=tag("p", notice, class_="notice", id="notice") if notice else Markup(""),
        nav_volumes="here" if nav == "volumes" else "",
        nav_containers="here" if nav == "containers" else "",
        nav_images="here" if nav == "images" else "")
    return web.Response(status=status, text=html_text, content_type="text/html",
                        charset="utf-8")


def error_page(request: web.Request, status: int, message: str,
               details: Markup | None = None, back: str = BASE + "/") -> web.Response:
    body = render("error.html", message=message, details=details or Markup(""),
                  back=Markup(esc(back)))
    return page(request, f"Error {status}", body, status=status)


def html_errors(fn: Handler) -> Handler:
    """Engine errors (and refusals) as an HTML page with the API's status code."""
    @wraps(fn)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await fn(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return error_page(request, exc.status, exc.reason)
        except OrlopError as exc:
            return error_page(request, status_for(exc), str(exc))
        except OSError as exc:  # the engine's own failures (logged by nobody else)
            log.exception("%s %s failed", request.method, request.path)
            return error_page(request, 500, str(exc))
    return wrapper


# --- the volumes list -------------------------------------------------------------------

SORTS = {"name": "Name", "driver": "Driver", "size": "Size", "created": "Created",
         "users": "Users"}
SHOWS = {"all": "all", "in-use": "in use", "dangling": "dangling", "named": "named",
         "anonymous": "anonymous"}


def _matches(r: VolumeRow, q: str, show: str) -> bool:
    if q and q.lower() not in r.name.lower() and not any(
            q.lower() in f"{k}={v}".lower() for k, v in r.labels.items()):
        return False
    return {"all": True, "in-use": not r.dangling, "dangling": r.dangling,
            "named": not r.anonymous, "anonymous": r.anonymous}.get(show, True)


def _sort_key(sort: str) -> Callable[[VolumeRow], Any]:
    return {"name": lambda r: r.name, "driver": lambda r: (r.driver, r.name),
            "size": lambda r: (r.size, r.name), "created": lambda r: (r.created, r.name),
            "users": lambda r: (len(r.users), r.name)}.get(sort, lambda r: r.name)


def users_cell(users: list[VolumeUser]) -> Markup:
    if not users:
        return tag("span", "none (dangling)", class_="muted")
    return join(tag("div", join([
        tag("a", u.name, href=url(f"{BASE}/containers", q=u.name)),
        tag("span", " running" if u.running else " stopped",
            class_="ok" if u.running else "muted"),
        f" at {u.destination}", tag("span", " ro", class_="ro") if not u.rw else ""]))
        for u in users)


def labels_cell(labels: dict[str, str]) -> Markup:
    return join(tag("span", f"{k}={v}" if v else k, class_="label")
                for k, v in sorted(labels.items())) or tag("span", "-", class_="muted")


def _options(choices: dict[str, str], chosen: str) -> Markup:
    return join(tag("option", label, value=key, selected=key == chosen)
                for key, label in choices.items())


@html_errors
async def volumes_page(request: web.Request) -> web.Response:
    rows = await ctx_of(request).call(volume_rows)
    find = request.query.get("q", "")
    show = request.query.get("show", "all")
    sort = request.query.get("sort", "name")
    desc = request.query.get("desc", "") == "1"
    shown = sorted((r for r in rows if _matches(r, find, show)), key=_sort_key(sort),
                   reverse=desc)
    totals = Totals.of(rows)
    headers = join(tag("th", tag("a", label, href=url(
        BASE + "/", q=find, show=show if show != "all" else "", sort=key,
        desc="1" if key == sort and not desc else "")), class_="sorted" if key == sort
        else None) for key, label in SORTS.items())
    headers = Markup(headers + tag("th", "Labels") + tag("th", "Kind"))
    body_rows = join(tag("tr", join([
        tag("td", tag("a", r.name, href=vol_url(r.name), class_="vol")),
        tag("td", r.driver), tag("td", size(r.size), class_="num", data_bytes=str(r.size)),
        tag("td", r.created), tag("td", users_cell(r.users)), tag("td", labels_cell(r.labels)),
        tag("td", ("anonymous" if r.anonymous else "named")
            + (" · dangling" if r.dangling else ""))]), data_name=r.name)
        for r in shown) or tag("tr", tag("td", "no volume", colspan="7", class_="muted"))
    body = render("volumes.html", count=str(totals.count), total_size=size(totals.size),
                  in_use=str(totals.in_use), dangling=str(totals.dangling),
                  reclaimable=size(totals.reclaimable), q=find,
                  show_options=_options(SHOWS, show), sort_options=_options(SORTS, sort),
                  desc_checked=Markup("checked") if desc else Markup(""), headers=headers,
                  rows=body_rows, csrf=csrf(request))
    return page(request, "Volumes", body)


# --- one volume ---------------------------------------------------------------------------


def crumbs(name: str, path: str) -> Markup:
    parts = [p for p in path.split("/") if p]
    out = [tag("a", name, href=vol_url(name))]
    for i, p in enumerate(parts):
        out.append(Markup(" / "))
        out.append(tag("a", p, href=vol_url(name, "/" + "/".join(parts[:i + 1]))))
    return join(out)


def _owner(uid: int, gid: int) -> str:
    return f"{uid}:{gid}"


def _entry_row(name: str, folder: str, e: Entry) -> Markup:
    path = folder.rstrip("/") + "/" + e.name
    if e.kind == "dir":
        link = tag("a", e.name + "/", href=vol_url(name, path), class_="dir")
    elif e.kind == "file":
        link = tag("a", e.name, href=vol_url(name, path, "/file"), class_="file")
    else:
        link = tag("span", e.name, class_=e.kind)
    if e.link_target:
        link = Markup(link + tag("span", f" -> {e.link_target}", class_="target"))
    return tag("tr", join([
        tag("td", link), tag("td", e.kind),
        tag("td", size(e.size) if e.kind != "dir" else "", class_="num"),
        tag("td", _owner(e.uid, e.gid)), tag("td", stat.filemode(e.mode), class_="mode"),
        tag("td", when(e.mtime)),
        tag("td", tag("a", "download", href=vol_url(name, path, "/download")))]),
        data_name=e.name)


def snap_url(name: str, snap: str = "", verb: str = "") -> str:
    """``/dashboard/volumes/NAME/snapshots[/SNAP/VERB]``, each part percent-encoded."""
    return f"{BASE}/volumes/{q(name)}/snapshots" + (f"/{q(snap)}/{verb}" if snap else "")


def _created(stamp: str) -> str:
    """A snapshot's ``CreatedAt`` (RFC 3339, UTC) to the second."""
    return stamp[:19].replace("T", " ") + " UTC" if len(stamp) >= 19 else stamp


def _snapshot_row(request: web.Request, name: str, s: Snapshot) -> Markup:
    # (tag() takes the element's name as `name`: the hidden field is written out.)
    token = Markup(f'<input type="hidden" name="csrf" value="{esc(csrf(request))}">')
    restore = tag("form", join([token, tag("button", "Restore", type="submit",
                                           class_="restore")]),
                  method="post", action=snap_url(name, s.name, "restore"), class_="inline",
                  data_busy=True, data_confirm=f"Replace the content of volume {name} by "
                  f"snapshot {s.name}? Changes made since it was taken are lost.")
    remove = tag("form", join([token, tag("button", "Remove", type="submit",
                                          class_="danger remove")]),
                 method="post", action=snap_url(name, s.name, "remove"), class_="inline",
                 data_confirm=f"Remove snapshot {s.name}?")
    return tag("tr", join([
        tag("td", tag("code", s.name)), tag("td", _created(s.created_at)),
        tag("td", size(s.size), class_="num", data_bytes=str(s.size)),
        tag("td", s.method + (" (disk image)" if s.kind == "image" else "")),
        tag("td", join([restore, remove]))]), data_name=s.name)


def snapshots_section(request: web.Request, name: str, snaps: list[Snapshot] | str) -> Markup:
    """The volume's snapshots as ``volume snapshot ls`` shows them (name, created, size,
    method), each with Restore and Remove, and the form that takes one; or, for a volume
    that cannot have snapshots, the engine's reason."""
    if isinstance(snaps, str):
        return join([tag("h2", "Snapshots", id="snapshots-heading"),
                     tag("p", f"No snapshots: {snaps}", class_="muted", id="snapshots")])
    table = tag("table", join([
        tag("thead", tag("tr", join(tag("th", h, class_="num" if h == "Size" else None)
                                    for h in ("Snapshot", "Created", "Size", "Method", "")))),
        tag("tbody", join(_snapshot_row(request, name, s) for s in snaps)
            or tag("tr", tag("td", "no snapshot yet", colspan="5", class_="muted")))]),
        class_="list", id="snapshots")
    return render("snapshots.html", table=table, create_action=snap_url(name),
                  csrf=csrf(request))


@html_errors
async def volume_page(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    path = request.query.get("path", "/")

    def go(e: Engine) -> tuple[VolumeRow, Listing, list[Snapshot] | str]:
        from orlop.engine.files.volumebrowse import list_dir

        return volume_row(e, name), list_dir(e, name, path), snapshot_rows(e, name)

    row, listing, snaps = await ctx_of(request).call(go)
    users = (tag("table", join([
        tag("thead", tag("tr", join(tag("th", h) for h in
                                    ("Container", "State", "Mounted at", "Access")))),
        tag("tbody", join(tag("tr", join([
            tag("td", tag("a", u.name, href=url(f"{BASE}/containers", q=u.name))),
            tag("td", "running" if u.running else "stopped"), tag("td", u.destination),
            tag("td", "read-write" if u.rw else "read-only")]))
            for u in row.users))]), class_="list", id="users") if row.users
        else tag("p", "No container uses this volume (dangling).", class_="muted",
                 id="users"))
    entries = join(_entry_row(name, listing.path, e) for e in listing.entries) or tag(
        "tr", tag("td", "empty folder", colspan="7", class_="muted"))
    here = listing.path
    body = render(
        "volume.html", driver=row.driver, created=row.created, size=size(row.size),
        kind=("anonymous" if row.anonymous else "named")
        + (", dangling" if row.dangling else ""),
        labels=labels_cell(row.labels), options=labels_cell(row.options), users=users,
        crumbs=crumbs(name, here), entries=entries,
        truncated=tag("p", "Only the first entries are shown.", class_="muted")
        if listing.truncated else Markup(""),
        download_folder=vol_url(name, here, "/download"),
        upload_action=vol_url(name, here, "/upload"), here=here,
        export_href=vol_url(name, sub="/export"), clone_action=vol_url(name, sub="/clone"),
        remove_action=vol_url(name, sub="/remove"), push_action=vol_url(name, sub="/push"),
        snapshots=snapshots_section(request, name, snaps), csrf=csrf(request),
        # Where more verbs of a volume go when the engine has them: one form each,
        # posting to a route of actions.py (snapshots have their own section above).
        extra_actions=Markup(""))
    return page(request, f"Volume {name}", body, heading=join(["Volume ", tag("code", name)]))


@html_errors
async def file_page(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    path = request.query.get("path", "")

    def go(e: Engine) -> Head:
        from orlop.engine.files.volumebrowse import read_head

        return read_head(e, name, path, PREVIEW_LIMIT)

    head = await ctx_of(request).call(go)
    try:
        shown = None if b"\0" in head.data else head.data.decode("utf-8")
    except UnicodeDecodeError as err:
        # A multi-byte character cut by the limit is still text.
        shown = (head.data[:err.start].decode("utf-8")
                 if len(head.data) == PREVIEW_LIMIT and err.start > len(head.data) - 4
                 else None)
    if shown is None:
        content = tag("p", "Binary content: not shown.", class_="muted", id="preview")
    else:
        content = tag("pre", plain(shown), id="preview")
    summary = f"{size(head.size)}" + (f", the first {size(PREVIEW_LIMIT)} shown"
                                      if head.size > PREVIEW_LIMIT and shown else "")
    body = render("preview.html", crumbs=crumbs(name, head.path), summary=summary,
                  download=vol_url(name, head.path, "/download"), content=content)
    return page(request, f"{name}: {head.path}",
                body, heading=join([tag("code", name), ": ", tag("code", head.path)]))


# --- prune (dry run) ------------------------------------------------------------------------


@html_errors
async def prune_page(request: web.Request) -> web.Response:
    all_ = request.query.get("all", "") == "1"

    def go(e: Engine) -> tuple[list[str], int]:
        from orlop.engine.prune import prune_volumes

        return prune_volumes(e, all_, {"all": ["true"]} if all_ else None, dry_run=True)

    names, reclaim = await ctx_of(request).call(go)
    table = tag("ul", join(tag("li", tag("a", n, href=vol_url(n))) for n in names),
                id="prune-list") if names else Markup("")
    summary = (f"{len(names)} volume(s) would be removed, {size(reclaim)} reclaimed."
               if names else "Nothing to prune: every volume is in use"
               + ("." if all_ else ", or named (tick 'named volumes too')."))
    body = render("prune.html", summary=summary, table=table, csrf=csrf(request),
                  all="1" if all_ else "", disabled=Markup("" if names else "disabled"))
    return page(request, "Prune volumes (dry run)", body)


# --- containers and images ------------------------------------------------------------------


def _mounts_cell(c: ContainerRow) -> Markup:
    items = []
    for m in c.mounts:
        what = tag("a", m.name, href=vol_url(m.name)) if m.type == "volume" else esc(m.type)
        items.append(tag("div", join([what, f" at {m.destination}",
                                      "" if m.rw else " (ro)"])))
    return join(items) or tag("span", "-", class_="muted")


@html_errors
async def containers_page(request: web.Request) -> web.Response:
    rows = await ctx_of(request).call(container_rows)
    find = request.query.get("q", "")
    shown = [r for r in rows if not find or find in r.name or r.id.startswith(find)]
    table = tag("table", join([
        tag("thead", tag("tr", join(tag("th", h) for h in
                                    ("Name", "ID", "Image", "State", "Volumes and mounts")))),
        tag("tbody", join(tag("tr", join([
            tag("td", r.name), tag("td", tag("code", r.id[:12])), tag("td", r.image),
            tag("td", r.status), tag("td", _mounts_cell(r))]), data_name=r.name)
            for r in shown) or tag("tr", tag("td", "no container", colspan="5")))]),
        class_="list", id="containers")
    return page(request, "Containers", table, nav="containers")


@html_errors
async def images_page(request: web.Request) -> web.Response:
    rows = await ctx_of(request).call(image_rows)
    table = tag("table", join([
        tag("thead", tag("tr", join(tag("th", h) for h in
                                    ("Tags", "ID", "Size", "Created", "Containers")))),
        tag("tbody", join(tag("tr", join([
            tag("td", ", ".join(r.tags) or "<none>"), tag("td", tag("code", r.id[7:19])),
            tag("td", size(r.size), class_="num"), tag("td", r.created),
            tag("td", join(tag("div", tag("a", c.name, href=url(f"{BASE}/containers",
                                                                q=c.name)))
                           for c in r.containers) or "-")]))
            for r in rows) or tag("tr", tag("td", "no image", colspan="5")))]),
        class_="list", id="images")
    return page(request, "Images", table, nav="images")


__all__ = ["containers_page", "error_page", "file_page", "html_errors", "images_page",
           "page", "prune_page", "snap_url", "snapshots_section", "volume_page", "volumes_page"]
