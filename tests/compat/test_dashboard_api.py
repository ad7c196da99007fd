"""The dashboard's pages and actions over orlopd's socket, one request at a time: every
action the pages use, the security gate (CSRF, Origin, CSP), hostile file names and
symlinks that point out of a volume, and ``orlop dashboard``'s loopback port (token,
Host check).  The browser tests (test_dashboard_browser.py) drive the same pages
through Chromium."""

from __future__ import annotations

import html
import io
import json
import re
import tarfile
import urllib.parse
from collections.abc import Iterator

import pytest

from registry_util import Registry  # its fixture, `registry`, comes from conftest.py

from .dashboard_util import Client, Stage, staged_server, start_dashboard, stop_dashboard, tar_of

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def stage() -> Iterator[Stage]:
    yield from staged_server()


def q(s: str) -> str:
    return urllib.parse.quote(s, safe="")


def fill(c: Client, vol: str, entries: list[tuple[str, bytes | str]]) -> None:
    """Content put into a volume through the API's own archive route (volume cp)."""
    if c.api("GET", f"/volumes/{vol}").status == 404:
        assert c.api("POST", "/volumes/create", {"Name": vol}).status == 201
    r = c.request("PUT", f"/libpod/volumes/{vol}/archive?path=/", tar_of(entries),
                  {"Content-Type": "application/x-tar"})
    assert r.status == 200, r.text


def names_in(tar_bytes: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as t:
        return {m.name: m for m in t.getmembers()}


# --- pages -------------------------------------------------------------------------------


def test_volumes_page_lists_users_totals_and_security_headers(stage: Stage) -> None:
    c = stage.client
    fill(c, "listed", [("a.txt", b"x" * 3000)])
    r = c.get("/dashboard/")
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    page = r.text
    row = re.search(r'<tr data-name="used">.*?</tr>', page, re.S)
    assert row and "user1" in row.group(0) and "/srv/data" in row.group(0)
    assert " ro" in row.group(0) and "stopped" in row.group(0)
    listed = re.search(r'<tr data-name="listed">.*?</tr>', page, re.S)
    assert listed and "dangling" in listed.group(0) and 'data-bytes="3000"' in listed.group(0)
    assert re.search(r"<b>\d+</b> volumes", page) and "reclaimable" in page
    assert "<script>" not in page.replace('<script src="/dashboard/static/dashboard.js" '
                                          'defer></script>', "")
    # No asset from anywhere else: every src/href is this dashboard's.
    for ref in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert ref.startswith("/dashboard") or ref == "data:,", ref  # data:, = no favicon


def test_filter_and_sort(stage: Stage) -> None:
    c = stage.client
    fill(c, "sort-big", [("f", b"y" * 50_000)])
    fill(c, "sort-small", [("f", b"y")])
    page = c.get("/dashboard/?q=sort-&sort=size&desc=1").text
    names = re.findall(r'<tr data-name="([^"]+)">', page)
    assert names == ["sort-big", "sort-small"]
    page = c.get("/dashboard/?show=in-use").text
    assert re.findall(r'<tr data-name="([^"]+)">', page) == ["used"]


def test_static_assets_served_by_orlopd(stage: Stage) -> None:
    c = stage.client
    js = c.get("/dashboard/static/dashboard.js")
    assert js.status == 200 and "XMLHttpRequest" in js.text
    assert js.headers["content-type"].startswith("text/javascript")
    assert c.get("/dashboard/static/dashboard.css").status == 200
    assert c.get("/dashboard/static/..%2Fhtml.py").status == 404
    assert c.get("/dashboard/static/nope.js").status == 404


def test_containers_and_images_pages_link_volumes(stage: Stage) -> None:
    c = stage.client
    page = c.get("/dashboard/containers").text
    row = re.search(r'<tr data-name="user1">.*?</tr>', page, re.S)
    assert row and 'href="/dashboard/volumes/used"' in row.group(0)
    assert "(ro)" in row.group(0)
    page = c.get("/dashboard/images").text
    assert "busybox:latest" in page and "user1" in page


# --- hostile names and symlinks ---------------------------------------------------------


def test_hostile_names_are_escaped_and_symlinks_not_followed(stage: Stage) -> None:
    c = stage.client
    fill(c, "hostile", [
        ("<script>alert(1)", b"<img src=x onerror=alert(2)>\n"),
        ("quote\"s'", b"q"), ("new\nline", b"n"), ("a&b", b"amp"),
        ("dir", "/"), ("dir/inner.txt", b"inner"),
        ("etc", "->/etc"), ("shadow", "->/etc/shadow"), ("up", "->../../../../.."),
    ])
    page = c.get("/dashboard/volumes/hostile").text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)" in page
    assert "quote&quot;s&#x27;" in page and "a&amp;b" in page
    assert "new\\nline" in page  # shown escaped, one line
    assert "-&gt; /etc/shadow" in page  # a symlink shows its target text
    for name in ("<script>alert(1)", "new\nline", "quote\"s'"):
        assert html.escape(f"path=%2F{q(name)}") in page  # links carry the exact bytes
    # The preview of the file named <script>: its content escaped too.
    r = c.get("/dashboard/volumes/hostile/file?path=" + q("/<script>alert(1)"))
    assert r.status == 200
    assert "&lt;img src=x onerror=alert(2)&gt;" in r.text and "<img src=x" not in r.text
    r = c.get("/dashboard/volumes/hostile/file?path=" + q("/new\nline"))
    assert r.status == 200 and '<pre id="preview">n</pre>' in r.text
    # Symlinks pointing out: never entered, never read.
    for path in ("/etc", "/up", "/etc/", "/up/etc"):
        r = c.get(f"/dashboard/volumes/hostile?path={q(path)}")
        assert r.status in (400, 404), (path, r.status)
        assert "passwd" not in r.text
    r = c.get("/dashboard/volumes/hostile/file?path=/shadow")
    assert r.status == 400 and "root:" not in r.text
    r = c.get("/dashboard/volumes/hostile/file?path=" + q("/up/etc/passwd"))
    assert r.status in (400, 404) and "root:" not in r.text
    # ".." is refused outright.
    r = c.get("/dashboard/volumes/hostile?path=" + q("/dir/../../.."))
    assert r.status == 400 and "passwd" not in r.text
    # A symlink downloads as a symlink entry, not as what it points at.
    r = c.get("/dashboard/volumes/hostile/download?path=/etc")
    assert r.status == 200
    members = names_in(r.body)
    assert members["etc"].issym() and members["etc"].linkname == "/etc"
    assert len(members) == 1
    r = c.get("/dashboard/volumes/hostile/download?path=/")
    members = names_in(r.body)
    assert "./<script>alert(1)" in members or "<script>alert(1)" in members
    assert not any(m.endswith("passwd") for m in members)
    assert r.headers["content-disposition"].startswith("attachment;")


def test_upload_names(stage: Stage) -> None:
    c = stage.client
    fill(c, "up", [("folder", "/"), ("out", "->/tmp")])
    ok = c.post_files("/dashboard/volumes/up/upload?path=/folder", {},
                      [("file", "<script>x", b"one"), ("file", "sp ace", b"two")])
    assert ok.status == 303, ok.text
    assert ok.headers["location"].startswith("/dashboard/volumes/up?path=%2Ffolder")
    listing = c.get("/dashboard/volumes/up?path=/folder").text
    assert "&lt;script&gt;x" in listing and "sp ace" in listing
    tar_bytes = c.get("/libpod/volumes/up/archive?path=/folder/" + q("<script>x"))
    assert tar_bytes.status == 200
    # Bigger than orlopd's 1 MiB limit for JSON bodies: multipart is streamed, not buffered.
    big = bytes(range(256)) * (12 << 10)
    r = c.post_files("/dashboard/volumes/up/upload?path=/folder", {}, [("file", "big", big)])
    assert r.status == 303, r.text
    assert names_in(c.get("/dashboard/volumes/up/download?path=/folder/big").body
                    )["big"].size == len(big)
    for bad in ("../x", "a/b", ".."):
        r = c.post_files("/dashboard/volumes/up/upload?path=/", {},
                         [("file", bad, b"evil")])
        assert r.status == 400, (bad, r.status)
    # Into a symlink that points out of the volume: resolved inside it or refused, never
    # written on the host.
    r = c.post_files("/dashboard/volumes/up/upload?path=/out", {},
                     [("file", "escaped-by-dashboard", b"x")])
    assert r.status in (303, 400, 404)
    import os

    assert not os.path.exists("/tmp/escaped-by-dashboard")
    r = c.post_files("/dashboard/volumes/up/upload?path=" + q("/../.."), {},
                     [("file", "f", b"x")])
    assert r.status == 400


# --- the gate: CSRF, Origin ----------------------------------------------------------------


def test_csrf_and_origin(stage: Stage) -> None:
    c = stage.client
    token = c.csrf()
    assert c.post_form("/dashboard/volumes", {"name": "nocsrf"}, csrf=None).status == 403
    assert c.post_form("/dashboard/volumes", {"name": "badcsrf"}, csrf="0" * 64).status == 403
    r = c.post_form("/dashboard/volumes", {"name": "evil"}, csrf=token,
                    Origin="http://evil.example")
    assert r.status == 403
    r = c.post_form("/dashboard/volumes", {"name": "evil2"}, csrf=token,
                    **{"Sec-Fetch-Site": "cross-site"})
    assert r.status == 403
    # A token is bound to the Host it was served for (one loopback launch).
    other = Client(stage.server.socket, host="127.0.0.1:9")
    assert other.post_form("/dashboard/volumes", {"name": "moved"}, csrf=token).status == 403
    assert c.post_files("/dashboard/volumes/used/upload", {}, [("file", "f", b"x")],
                        csrf=None).status == 403
    for name in ("nocsrf", "badcsrf", "evil", "evil2", "moved"):
        assert c.api("GET", f"/volumes/{name}").status == 404
    # Same origin passes; the API itself still refuses any browser origin.
    r = c.post_form("/dashboard/volumes", {"name": "sameorigin"}, csrf=token,
                    Origin="http://localhost")
    assert r.status == 303
    assert c.get("/volumes", Origin="http://localhost").status == 403


# --- actions -------------------------------------------------------------------------------


def test_create_with_labels_and_options_then_remove(stage: Stage) -> None:
    c = stage.client
    r = c.post_form("/dashboard/volumes", {
        "name": "made", "driver": "local", "labels": "team=data\nbare\n",
        "options": "type=tmpfs\ndevice=tmpfs\no=size=4m"})
    assert r.status == 303 and r.headers["location"].startswith("/dashboard/volumes/made")
    v = c.api("GET", "/volumes/made").body
    assert b'"team":"data"' in v and b'"bare":""' in v and b'"type":"tmpfs"' in v
    r = c.post_form("/dashboard/volumes", {"name": "bad/name"})
    assert r.status == 400 and "text/html" in r.headers["content-type"]
    r = c.post_form("/dashboard/volumes/made/remove", {})
    assert r.status == 303
    assert c.api("GET", "/volumes/made").status == 404


def test_remove_in_use_is_refused_with_users_named(stage: Stage) -> None:
    c = stage.client
    r = c.post_form("/dashboard/volumes/used/remove", {})
    assert r.status == 409
    assert 'id="in-use-by"' in r.text and "user1" in r.text and "/srv/data" in r.text
    assert c.api("GET", "/volumes/used").status == 200


def test_prune_dry_run_then_prune(stage: Stage) -> None:
    c = stage.client
    fill(c, "prune-me", [("f", b"12345")])
    page = c.get("/dashboard/prune?all=1").text
    assert "prune-me" in page and "used" not in re.findall(r'id="prune-list">(.*?)</ul>',
                                                           page, re.S)[0]
    assert c.api("GET", "/volumes/prune-me").status == 200  # the dry run removed nothing
    r = c.post_form("/dashboard/prune", {"all": "1"})
    assert r.status == 303 and "Pruned" in urllib.parse.unquote(r.headers["location"])
    assert c.api("GET", "/volumes/prune-me").status == 404
    assert c.api("GET", "/volumes/used").status == 200


def test_export_import_clone_round_trip(stage: Stage) -> None:
    c = stage.client
    fill(c, "source", [("d", "/"), ("d/data.bin", bytes(range(256)) * 40),
                       ("link", "->d/data.bin")])
    exp = c.get("/dashboard/volumes/source/export")
    assert exp.status == 200 and exp.headers["content-type"] == "application/x-tar"
    assert 'filename="source.tar"' in exp.headers["content-disposition"]
    r = c.post_files("/dashboard/import", {"name": "restored"},
                     [("archive", "source.tar", exp.body)])
    assert r.status == 303, r.text
    back = c.get("/libpod/volumes/restored/archive?path=/d/data.bin")
    assert names_in(back.body)["data.bin"].size == 256 * 40
    page = c.get("/dashboard/volumes/restored").text
    assert "-&gt; d/data.bin" in page
    # Import refuses an in-use volume without force, as the API does.
    r = c.post_files("/dashboard/import", {"name": "used"},
                     [("archive", "source.tar", exp.body)])
    assert r.status == 409
    r = c.post_files("/dashboard/import", {"name": "garbage"},
                     [("archive", "x.tar", b"not a tar" * 100)])
    assert r.status == 400
    # Clone.
    r = c.post_form("/dashboard/volumes/source/clone", {"target": "copy"})
    assert r.status == 303
    assert "data.bin" in c.get("/dashboard/volumes/copy?path=/d").text
    assert c.post_form("/dashboard/volumes/source/clone", {"target": "copy"}).status == 409


def test_push_then_pull_through_a_registry(stage: Stage, registry: Registry) -> None:
    c = stage.client
    fill(c, "to-push", [("pushed.txt", b"travelled\n")])
    ref = f"{registry.host}/dash/vol:1"
    r = c.post_form("/dashboard/volumes/to-push/push", {"reference": ref})
    assert r.status == 303, r.text
    assert "Pushed to-push" in urllib.parse.unquote(r.headers["location"])
    r = c.post_form("/dashboard/pull", {"reference": ref, "name": "pulled"})
    assert r.status == 303, r.text
    assert r.headers["location"].startswith("/dashboard/volumes/pulled")
    assert "travelled" in c.get("/dashboard/volumes/pulled/file?path=/pushed.txt").text
    r = c.post_form("/dashboard/pull", {"reference": ref, "name": "pulled"})
    assert r.status == 409  # exists: refused without force
    assert c.post_form("/dashboard/pull", {"reference": ref, "name": "pulled",
                                           "force": "1"}).status == 303
    assert c.post_form("/dashboard/pull", {"reference": ""}).status == 400


def test_running_user_is_shown_running(stage: Stage) -> None:
    c = stage.client
    r = c.api("POST", "/containers/create?name=runner", {
        "Image": "busybox:latest", "Cmd": ["sleep", "30"],
        "HostConfig": {"Binds": ["live:/live"]}})
    assert r.status == 201, r.text
    try:
        assert c.api("POST", "/containers/runner/start").status == 204
        page = c.get("/dashboard/").text
        row = re.search(r'<tr data-name="live">.*?</tr>', page, re.S)
        assert row and "runner" in row.group(0) and "running" in row.group(0)
        assert " ro" not in row.group(0)
        page = c.get("/dashboard/volumes/live").text
        assert "read-write" in page and ">running<" in page
        assert c.post_form("/dashboard/volumes/live/remove", {}).status == 409
    finally:
        c.api("DELETE", "/containers/runner?force=1")
    assert c.api("GET", "/volumes/live").status == 200


# --- snapshots ---------------------------------------------------------------------------------


def snapshots_of(c: Client, vol: str) -> list[str]:
    """The snapshot names the API lists (the same SnapshotStore the pages use)."""
    r = c.api("GET", f"/libpod/volumes/{vol}/snapshots")
    assert r.status == 200, r.text
    return [s["Name"] for s in json.loads(r.body)]


def content(c: Client, vol: str, path: str) -> bytes:
    r = c.get(f"/libpod/volumes/{vol}/archive?path={q(path)}")
    assert r.status == 200, r.text
    with tarfile.open(fileobj=io.BytesIO(r.body)) as t:
        f = t.extractfile(path.rsplit("/", 1)[-1])
        assert f is not None
        return f.read()


def test_snapshot_create_list_restore_remove(stage: Stage) -> None:
    c = stage.client
    fill(c, "snapvol", [("a.txt", b"first\n")])
    page = c.get("/dashboard/volumes/snapvol").text
    assert 'id="snapshots"' in page and "no snapshot yet" in page
    assert 'action="/dashboard/volumes/snapvol/snapshots"' in page
    assert 'name="consistent"' in page
    # Create: named, then unnamed and consistent (the engine names it).
    r = c.post_form("/dashboard/volumes/snapvol/snapshots", {"name": "s1"})
    assert r.status == 303, r.text
    assert r.headers["location"].startswith("/dashboard/volumes/snapvol?")
    assert "Snapshot s1 of snapvol created" in urllib.parse.unquote(r.headers["location"])
    r = c.post_form("/dashboard/volumes/snapvol/snapshots", {"name": "", "consistent": "1"})
    assert r.status == 303, r.text
    names = snapshots_of(c, "snapvol")
    assert names[0] == "s1" and len(names) == 2 and names[1].startswith("snap-")
    assert c.post_form("/dashboard/volumes/snapvol/snapshots", {"name": "s1"}).status == 409
    # List: the columns of `volume snapshot ls` (name, created, size, method).
    page = c.get("/dashboard/volumes/snapvol").text
    row = re.search(r'<tr data-name="s1">.*?</tr>', page, re.S)
    assert row, page
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</td>", row.group(0))
    assert 'data-bytes="6"' in row.group(0)
    assert re.search(r"<td>(reflink|copy)</td>", row.group(0))
    assert 'action="/dashboard/volumes/snapvol/snapshots/s1/restore"' in row.group(0)
    assert 'action="/dashboard/volumes/snapvol/snapshots/s1/remove"' in row.group(0)
    assert "data-confirm=" in row.group(0) and "data-busy" in row.group(0)
    fill(c, "snapvol", [("a.txt", b"second\n")])
    # Restore, refused while a running container uses the volume: its name is shown.
    r = c.api("POST", "/containers/create?name=snapper", {
        "Image": "busybox:latest", "Cmd": ["sleep", "30"],
        "HostConfig": {"Binds": ["snapvol:/d"]}})
    assert r.status == 201, r.text
    try:
        assert c.api("POST", "/containers/snapper/start").status == 204
        r = c.post_form("/dashboard/volumes/snapvol/snapshots/s1/restore", {})
        assert r.status == 409 and "text/html" in r.headers["content-type"]
        assert 'id="in-use-by"' in r.text and "snapper" in r.text
        assert "volume is in use - [snapper]" in r.text  # the engine's own error
        assert content(c, "snapvol", "/a.txt") == b"second\n"
    finally:
        c.api("DELETE", "/containers/snapper?force=1")
    # Restore.
    r = c.post_form("/dashboard/volumes/snapvol/snapshots/s1/restore", {})
    assert r.status == 303, r.text
    assert "restored from snapshot s1" in urllib.parse.unquote(r.headers["location"])
    assert content(c, "snapvol", "/a.txt") == b"first\n"
    # Remove; then a second removal is the engine's 404.
    r = c.post_form("/dashboard/volumes/snapvol/snapshots/s1/remove", {})
    assert r.status == 303, r.text
    assert "s1" not in snapshots_of(c, "snapvol")
    assert c.post_form("/dashboard/volumes/snapvol/snapshots/s1/remove", {}).status == 404
    # Every snapshot action checks the CSRF token, like the other forms.
    for path in ("snapshots", f"snapshots/{names[1]}/restore", f"snapshots/{names[1]}/remove"):
        r = c.post_form(f"/dashboard/volumes/snapvol/{path}", {"name": "x1"}, csrf=None)
        assert r.status == 403, path
    assert snapshots_of(c, "snapvol") == [names[1]]


def test_snapshot_hostile_names_refused_and_escaped(stage: Stage) -> None:
    c = stage.client
    fill(c, "snaphostile", [("f", b"x")])
    for bad in ("<script>alert(1)</script>", "../../etc", "a/b", ".hidden", "x"):
        r = c.post_form("/dashboard/volumes/snaphostile/snapshots", {"name": bad})
        assert r.status == 400, (bad, r.status)
        assert "text/html" in r.headers["content-type"]
        assert "<script>alert" not in r.text
    r = c.post_form("/dashboard/volumes/snaphostile/snapshots",
                    {"name": "<script>alert(1)</script>"})
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert snapshots_of(c, "snaphostile") == []
    # In the URL: not a snapshot (the engine's 404), the name escaped on the error page.
    for verb in ("restore", "remove"):
        r = c.post_form("/dashboard/volumes/snaphostile/snapshots/"
                        f"{q('<img src=x onerror=alert(1)>')}/{verb}", {})
        assert r.status == 404, (verb, r.status)
        assert "<img src=x" not in r.text and "&lt;img src=x" in r.text
    assert content(c, "snaphostile", "/f") == b"x"


def test_snapshots_of_a_mounted_volume_are_explained(stage: Stage) -> None:
    c = stage.client
    assert c.api("POST", "/volumes/create", {"Name": "snaptmpfs", "Driver": "local",
                 "DriverOpts": {"type": "tmpfs", "device": "tmpfs"}}).status == 201
    r = c.get("/dashboard/volumes/snaptmpfs")
    assert r.status == 200
    assert re.search(r'<p class="muted" id="snapshots">No snapshots: .*mounted from elsewhere',
                     r.text)
    assert 'id="snapshot-submit"' not in r.text
    r = c.post_form("/dashboard/volumes/snaptmpfs/snapshots", {"name": "s1"})
    assert r.status >= 400 and "mounted from elsewhere" in r.text


# --- orlop dashboard: the loopback port ------------------------------------------------------


def test_loopback_port_token_and_host(stage: Stage) -> None:
    import http.client

    proc, url = start_dashboard(stage.server)
    try:
        u = urllib.parse.urlsplit(url)
        assert u.hostname == "127.0.0.1" and u.path == "/dashboard/"
        token = urllib.parse.parse_qs(u.query)["token"][0]
        assert len(token) >= 40

        def get(path: str, headers: dict[str, str] | None = None,
                method: str = "GET", body: bytes | None = None
                ) -> http.client.HTTPResponse:
            conn = http.client.HTTPConnection(u.hostname or "", u.port, timeout=30)
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            r.read()
            return r

        assert get("/dashboard/").status == 403  # no token, no cookie
        assert get("/dashboard/?token=wrong").status == 403
        first = get(f"/dashboard/?token={token}")
        assert first.status == 303 and first.getheader("Location") == "/dashboard/"
        cookie = first.getheader("Set-Cookie") or ""
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        jar = cookie.split(";")[0]
        assert get("/dashboard/", {"Cookie": jar}).status == 200
        # Only the dashboard is forwarded, and only to this port's name (DNS rebinding).
        assert get("/volumes", {"Cookie": jar}).status == 404
        assert get("/_ping", {"Cookie": jar}).status == 404
        assert get("/dashboard/", {"Cookie": jar, "Host": f"evil.example:{u.port}"}
                   ).status == 403
        # A POST goes through with its body (orlopd checks CSRF and Origin).
        conn = http.client.HTTPConnection(u.hostname or "", u.port, timeout=30)
        conn.request("GET", "/dashboard/", headers={"Cookie": jar})
        page = conn.getresponse().read().decode()
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        assert csrf
        body = urllib.parse.urlencode({"csrf": csrf.group(1), "name": "via-port"}).encode()
        r = get("/dashboard/volumes", {"Cookie": jar, "Origin": f"http://127.0.0.1:{u.port}",
                                       "Content-Type": "application/x-www-form-urlencoded"},
                "POST", body)
        assert r.status == 303
        assert stage.client.api("GET", "/volumes/via-port").status == 200
        r = get("/dashboard/volumes", {"Cookie": jar, "Origin": "http://127.0.0.1:1",
                                       "Content-Type": "application/x-www-form-urlencoded"},
                "POST", body)
        assert r.status == 403
    finally:
        stop_dashboard(proc)
