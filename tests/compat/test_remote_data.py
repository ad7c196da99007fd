"""Image, data, volume and system commands through ``-H`` give what they give in-process.

Each case runs the same ``orlop`` command line against one root twice: locally
(``--root``) and through the orlopd serving that root (``-H unix://...``), and compares
exit code, stdout and stderr.  Only what must differ between two runs is normalised
(the seconds in "N seconds ago", ids of two different images).  A fake daemon that
answers hostile archives checks that ``cp`` refuses them on the client.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import socket
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from .conftest import Server

Result = tuple[int, str, str]


def _orlop(server: Server, *args: str, remote: bool, stdin: bytes | None = None,
           host: str | None = None) -> Result:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "ORLOP_HOST")}
    pre = ["-H", host or server.host] if remote else ["--root", str(server.root)]
    res = subprocess.run([sys.executable, "-m", "orlop", *pre, *args], capture_output=True,
                         input=stdin if stdin is not None else b"", timeout=120, env=env,
                         check=False)
    return res.returncode, res.stdout.decode(errors="replace"), \
        res.stderr.decode(errors="replace")


def _raw(server: Server, *args: str, remote: bool, stdin: bytes | None = None
         ) -> tuple[int, bytes, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "ORLOP_HOST")}
    pre = ["-H", server.host] if remote else ["--root", str(server.root)]
    res = subprocess.run([sys.executable, "-m", "orlop", *pre, *args], capture_output=True,
                         input=stdin if stdin is not None else b"", timeout=120, env=env,
                         check=False)
    return res.returncode, res.stdout, res.stderr.decode(errors="replace")


def _ago(text: str) -> str:
    """Two runs are a moment apart: "2 seconds ago" vs "3 seconds ago"."""
    text = re.sub(r"(Less than a second|About a minute|\d+ (seconds?|minutes?)) ago", "T ago",
                  text)
    return re.sub(r" {2,}", "  ", text)


def both(server: Server, *args: str, stdin: bytes | None = None, norm: bool = False
         ) -> Result:
    local = _orlop(server, *args, remote=False, stdin=stdin)
    remote = _orlop(server, *args, remote=True, stdin=stdin)
    if norm:
        local = (local[0], _ago(local[1]), _ago(local[2]))
        remote = (remote[0], _ago(remote[1]), _ago(remote[2]))
    assert local == remote, (args, local, remote)
    return local


def ok(server: Server, *args: str, remote: bool = True, stdin: bytes | None = None) -> str:
    code, out, err = _orlop(server, *args, remote=remote, stdin=stdin)
    assert code == 0, (args, out, err)
    return out


def _tree(path: Path) -> list[tuple[str, str, int, int, int, str]]:
    """What a copy made: names, types, owners, modes, sizes, content / link targets."""
    out = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(dirs + files):
            p = Path(root) / name
            st = p.lstat()
            kind = "l" if p.is_symlink() else "d" if p.is_dir() else "f"
            data = os.readlink(p) if kind == "l" else p.read_text() if kind == "f" else ""
            out.append((str(p.relative_to(path)), kind, st.st_uid, st.st_gid,
                        st.st_mode & 0o7777, data))
    return out


def _members(archive: bytes) -> list[tuple[str, int, bytes]]:
    """A tar's entries (name, type, content), without times."""
    out = []
    with tarfile.open(fileobj=io.BytesIO(archive)) as tf:
        for m in tf.getmembers():
            f = tf.extractfile(m) if m.isreg() else None
            out.append((m.name, int(m.type[0]), f.read() if f else m.linkname.encode()))
    return out


# --- images ----------------------------------------------------------------------------


def test_images_tag_rmi_history_inspect_match_local(bbd: Server) -> None:
    both(bbd, "images", norm=True)
    both(bbd, "images", "-q")
    both(bbd, "images", "--no-trunc", "-q")
    both(bbd, "images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}")
    both(bbd, "images", "--format", "table {{.Repository}}\t{{.Tag}}")
    both(bbd, "image", "ls", "busy*", norm=True)
    assert both(bbd, "images", "nope", "-q") == (0, "", "")
    assert both(bbd, "images", "-f", "dangling=x")[0] == 1
    assert both(bbd, "images", "-f", "bogus=1")[2] == "Error: Invalid filter 'bogus'\n"
    # tag on one side, untag on the other: the same texts
    assert _orlop(bbd, "tag", "busybox", "t:1", remote=True)[0] == 0
    assert _orlop(bbd, "tag", "busybox", "u:1", remote=False)[0] == 0
    assert both(bbd, "images", "-q", "-f", "reference=t:*")[1].count("\n") == 1
    assert _orlop(bbd, "rmi", "t:1", remote=False) == (0, "Untagged: t:1\n", "")
    assert _orlop(bbd, "rmi", "u:1", remote=True) == (0, "Untagged: u:1\n", "")
    assert both(bbd, "rmi", "nope") == (1, "", "Error: No such image: nope\n")
    assert both(bbd, "tag", "busybox", "Bad:Name")[0] == 1
    assert both(bbd, "tag", "nope", "x:1")[2] == "Error: No such image: nope\n"
    assert both(bbd, "image", "inspect", "nope") == (1, "[]\n", "Error: No such image: nope\n")
    both(bbd, "image", "inspect", "-f", "{{.Id}} {{.RepoTags}}", "busybox")
    both(bbd, "image", "history", "busybox", norm=True)
    both(bbd, "image", "history", "-q", "--no-trunc", "busybox")
    assert both(bbd, "image", "history", "nope")[2] == "Error: No such image: nope\n"


def test_rmi_deleted_lines_and_prune_match_local(bbd: Server, tmp_path: Path) -> None:
    """The same image (saved, then loaded back) removed once each way: identical
    ``Untagged:``/``Deleted:`` lines, ids included."""
    ok(bbd, "tag", "busybox", "gone:1")
    first, archive = tmp_path / "first.tar", tmp_path / "gone.tar"
    ok(bbd, "save", "-o", str(first), "gone:1")
    # An imported image comes back from save | load under another id (its config is
    # rewritten on the way); a loaded one keeps it: load once so that it is stable.
    ok(bbd, "rmi", "gone:1")
    ok(bbd, "load", "-i", str(first))
    ok(bbd, "save", "-o", str(archive), "gone:1")
    ok(bbd, "rmi", "busybox")
    outs = []
    for remote in (False, True):
        ok(bbd, "load", "-i", str(archive), remote=not remote)
        outs.append(_orlop(bbd, "rmi", "gone:1", remote=remote))
    assert outs[0] == outs[1]
    code, out, _ = outs[0]
    assert code == 0 and out.startswith("Untagged: gone:1\nDeleted: sha256:")
    # prune -a: the same report either way (nothing left to prune the second time)
    for remote in (False, True):
        ok(bbd, "load", "-i", str(archive), remote=remote)
        ok(bbd, "tag", "gone:1", "again:1", remote=remote)
        code, out, err = _orlop(bbd, "image", "prune", "-a", "-f", remote=remote)
        assert code == 0 and err == "", err
        assert out.startswith("Deleted Images:\nuntagged: again:1\nuntagged: gone:1\n"
                              "deleted: sha256:"), out
        assert out.endswith("\n\nTotal reclaimed space: 1.99MB\n")
    assert both(bbd, "image", "prune", "-f") == (0, "Total reclaimed space: 0B\n", "")


def test_import_from_file_and_stdin_save_load_round_trip(bbd: Server, busybox_tar: Path,
                                                          tmp_path: Path) -> None:
    data = busybox_tar.read_bytes()
    for remote in (False, True):
        tag = "r" if remote else "l"
        out = ok(bbd, "import", str(busybox_tar), f"imp:{tag}f", remote=remote)
        assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", out)
        out = ok(bbd, "image", "import", "-m", "msg", "-c", "CMD [\"true\"]", "-",
                 f"imp:{tag}s", remote=remote, stdin=data)
        inspect = json.loads(ok(bbd, "image", "inspect", f"imp:{tag}s"))[0]
        assert inspect["Id"] == out.strip() and inspect["Config"]["Cmd"] == ["true"]
    assert both(bbd, "import", str(tmp_path / "nope.tar"))[2] == \
        f"Error: open {tmp_path / 'nope.tar'}: no such file or directory\n"
    # an empty stdin is an image of one empty layer (docker CLI 20.10 and 28 with
    # dockerd 20.10: exit 0 and the id)
    for remote in (False, True):
        assert re.fullmatch(r"sha256:[0-9a-f]{64}\n",
                            ok(bbd, "import", "-", "x:1", remote=remote, stdin=b""))
    assert both(bbd, "import", "http://example.invalid/x.tar")[0] == 1
    # save | load, both ways round, and -o
    code, tar_l, err = _raw(bbd, "save", "imp:lf", remote=False)
    assert code == 0, err
    code, tar_r, err = _raw(bbd, "save", "imp:lf", remote=True)
    assert code == 0, err
    assert _members(tar_l) == _members(tar_r)  # the same archive, but for its times
    ok(bbd, "rmi", "imp:lf")
    assert both(bbd, "load", stdin=tar_r) == (0, "Loaded image: imp:lf\n", "")
    out_l, out_r = tmp_path / "l.tar", tmp_path / "r.tar"
    ok(bbd, "save", "-o", str(out_l), "busybox", "imp:lf", remote=False)
    ok(bbd, "save", "-o", str(out_r), "busybox", "imp:lf", remote=True)
    assert _members(out_l.read_bytes()) == _members(out_r.read_bytes())
    assert both(bbd, "image", "load", "-i", str(out_r)) == (
        0, "Loaded image: busybox:latest\nLoaded image: imp:lf\n", "")
    assert both(bbd, "save", "nope")[:3:2] == (1, "Error: No such image: nope\n")
    assert not list(tmp_path.glob("*.tmp-*"))
    assert both(bbd, "load", stdin=b"not a tar")[0] == 1


# --- containers' data ----------------------------------------------------------------


def _container(bbd: Server, name: str, script: str) -> None:
    ok(bbd, "run", "--name", name, "--network", "none", "busybox", "sh", "-c", script,
       remote=False)


def test_export_to_file_and_pipe_commit_and_run(bbd: Server, tmp_path: Path) -> None:
    _container(bbd, "ex", "echo hi > /hello; mkdir /d; chown 5:6 /d")
    code, pipe_l, _ = _raw(bbd, "export", "ex", remote=False)
    code_r, pipe_r, _ = _raw(bbd, "export", "ex", remote=True)
    assert code == code_r == 0 and pipe_l == pipe_r
    ok(bbd, "export", "-o", str(tmp_path / "e.tar"), "ex")
    assert (tmp_path / "e.tar").read_bytes() == pipe_l
    with tarfile.open(tmp_path / "e.tar") as tf:
        assert tf.extractfile("hello").read() == b"hi\n"  # type: ignore[union-attr]
        assert (tf.getmember("d").uid, tf.getmember("d").gid) == (5, 6)
    assert both(bbd, "export", "nope") == (1, "", "Error: No such container: nope\n")
    # the docker CLI's output-path check, before any work, naming the asked path
    assert both(bbd, "export", "-o", str(tmp_path / "x" / "y.tar"), "ex") == (
        1, "", f'Error: invalid output path: directory "{tmp_path / "x"}" does not exist\n')
    assert not (tmp_path / "x").exists()
    # commit through the API, then run the new image
    out = ok(bbd, "commit", "-m", "m", "-a", "me", "-c", 'CMD ["cat", "/hello"]', "ex",
             "snap:r")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", out)
    assert both(bbd, "run", "--rm", "--network", "none", "snap:r") == (0, "hi\n", "")
    info = json.loads(ok(bbd, "image", "inspect", "snap:r"))[0]
    assert (info["Author"], info["Comment"], info["Config"]["Cmd"]) == \
        ("me", "m", ["cat", "/hello"])
    assert both(bbd, "commit", "nope") == (1, "", "Error: No such container: nope\n")


def test_cp_out_of_container_matches_local(bbd: Server, tmp_path: Path) -> None:
    _container(bbd, "src", "mkdir -p /data/sub && echo hi > /data/f && echo s > "
               "/data/sub/g && ln -s /etc/passwd /data/link && chown 123:45 /data/f && "
               "chmod 640 /data/f && ln /data/f /data/hard && ln -s /data /dlink")
    forms = [("src:/data", "DEST"), ("src:/data", "DEST/new"), ("src:/data/.", "DEST/dot"),
             ("src:/data/.", "DEST/dot2/"), ("src:/data/f", "DEST/file"),
             ("src:/data/f", "DEST/"), ("src:/data/link", "DEST/lnk"),
             ("src:/dlink", "DEST/notfollowed"), ("src:/data/f", "DEST/file"),
             ("src:/data/sub", "DEST/file"), ("src:/data/f/", "DEST/y"),
             ("src:/data/f", "DEST/missing/"), ("src:/data/f", "DEST/no/such"),
             ("nope:/data", "DEST/z"), ("src:/data/.", "DEST/mk1/"), ("src:/data", "DEST/mk2/")]
    results = {}
    for side in ("L", "R"):
        dest = tmp_path / side
        dest.mkdir()
        results[side] = [_orlop(bbd, "cp", a, b.replace("DEST", str(dest)),
                                remote=side == "R") for a, b in forms]
        _orlop(bbd, "cp", "-L", "src:/dlink", str(dest / "followed"), remote=side == "R")
    for (form, lres, rres) in zip(forms, results["L"], results["R"], strict=True):
        assert lres == (rres[0], rres[1], rres[2].replace(str(tmp_path / "R"),
                                                          str(tmp_path / "L"))), form
    assert results["R"][8][0] == 0  # a file over an existing file
    assert "cannot copy a directory" in results["R"][9][2]
    # a missing DEST/ is made from a directory (as the docker CLI does)
    assert results["R"][-2:] == [(0, "", ""), (0, "", "")]
    assert (tmp_path / "R" / "mk1" / "sub" / "g").is_file()
    assert (tmp_path / "R" / "mk2" / "sub" / "g").is_file()
    assert _tree(tmp_path / "L") == _tree(tmp_path / "R")
    assert (tmp_path / "R" / "followed" / "f").read_text() == "hi\n"
    st = (tmp_path / "R" / "data" / "f").stat()
    assert (st.st_uid, st.st_mode & 0o777) == (0, 0o640)  # no owners from the daemon
    assert (tmp_path / "R" / "data" / "hard").stat().st_ino == st.st_ino
    # `-`: the tar itself on stdout, identical
    for path in ("/data", "/data/.", "/data/f"):
        local = _raw(bbd, "cp", f"src:{path}", "-", remote=False)
        remote = _raw(bbd, "cp", f"src:{path}", "-", remote=True)
        assert local == remote and local[0] == 0
    local = _raw(bbd, "cp", "-L", "src:/dlink", "-", remote=False)
    remote = _raw(bbd, "cp", "-L", "src:/dlink", "-", remote=True)
    with tarfile.open(fileobj=io.BytesIO(local[1])) as a, \
            tarfile.open(fileobj=io.BytesIO(remote[1])) as b:
        assert sorted(a.getnames()) == sorted(b.getnames())
        assert "dlink/f" in a.getnames()


def test_cp_missing_source_text_matches_local(bbd: Server, tmp_path: Path) -> None:
    _container(bbd, "ms", "true")
    both(bbd, "cp", "ms:/nope", str(tmp_path / "x"))


def test_cp_into_container_matches_local(bbd: Server, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "dir" / "sub").mkdir(parents=True)
    (src / "dir" / "a").write_text("a")
    (src / "dir" / "sub" / "b").write_text("b")
    (src / "file").write_text("f")
    os.chown(src / "file", 1000, 1001)
    os.chmod(src / "file", 0o600)
    (src / "sl").symlink_to("nowhere")
    _container(bbd, "dst", "mkdir -p /L /R && touch /L/existing /R/existing && "
               "ln -s /L /Llink && ln -s /R /Rlink")
    forms = [(f"{src}/dir", "dst:/S/"), (f"{src}/dir", "dst:/S/newdir"),
             (f"{src}/dir/.", "dst:/S/dotdir"), (f"{src}/file", "dst:/S/"),
             (f"{src}/file", "dst:/S/renamed"), (f"{src}/sl", "dst:/S/"),
             (f"{src}/dir", "dst:/S/existing"), (f"{src}/nope", "dst:/S/"),
             (f"{src}/file/", "dst:/S/"), (f"{src}/file", "dst:/S/nodir/"),
             (f"{src}/file", "dst:/S/nodir/x"), (f"{src}/file", "dst:/S/existing/x"),
             (f"{src}/file", "dst:/Slink/vialink"), (f"{src}/file", "nope:/S/"),
             (f"{src}/dir/.", "dst:/S/mk1/"), (f"{src}/dir", "dst:/S/mk2/")]
    for a, b in forms:
        local = _orlop(bbd, "cp", a, b.replace("S", "L"), remote=False)
        remote = _orlop(bbd, "cp", a, b.replace("S", "R"), remote=True)
        assert local == (remote[0], remote[1], remote[2].replace("/R/", "/L/")), (a, b)
    for side in ("L", "R"):  # a missing /S/mk1/ is made from a directory, as dockerd does
        for mk in ("mk1", "mk2"):
            listing = _raw(bbd, "cp", f"dst:/{side}/{mk}", "-", remote=False)[1]
            with tarfile.open(fileobj=io.BytesIO(listing)) as tf:
                assert sorted(tf.getnames()) == [mk, f"{mk}/a", f"{mk}/sub", f"{mk}/sub/b"]
    ok(bbd, "cp", "-a", f"{src}/file", "dst:/L/archived", remote=False)
    ok(bbd, "cp", "-a", f"{src}/file", "dst:/R/archived", remote=True)
    # `-`: a tar from stdin
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("fromtar")
        info.size, info.uid, info.gid = 2, 7, 8
        tf.addfile(info, io.BytesIO(b"t\n"))
    for side in ("L", "R"):
        assert _orlop(bbd, "cp", "-", f"dst:/{side}", remote=side == "R",
                      stdin=buf.getvalue()) == (0, "", "")
    assert both(bbd, "cp", "-", "dst:/L/existing", stdin=buf.getvalue())[0] == 1
    assert both(bbd, "cp", "-", "dst:/nowhere", stdin=buf.getvalue()) == \
        (1, "", "Error: no such directory\n")
    trees = {}
    for side in ("L", "R"):
        out = tmp_path / f"out{side}"
        out.mkdir()
        ok(bbd, "cp", f"dst:/{side}/.", str(out), remote=False)
        trees[side] = _tree(out)
        listing = _raw(bbd, "cp", f"dst:/{side}", "-", remote=False)[1]
        with tarfile.open(fileobj=io.BytesIO(listing)) as tf:
            owners = {m.name.split("/", 1)[-1]: (m.uid, m.gid) for m in tf.getmembers()}
        assert owners["file"] == (0, 0)  # without -a: root's
        assert owners["archived"] == (1000, 1001)  # with -a: the host's owners
        assert owners["fromtar"] == (7, 8)
    assert trees["L"] == trees["R"]


# --- a hostile daemon --------------------------------------------------------------------


def _tar(entries: list[tarfile.TarInfo], data: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info in entries:
            body = data.get(info.name)
            if body is not None:
                info.size = len(body)
            tf.addfile(info, io.BytesIO(body) if body is not None else None)
    return buf.getvalue()


def _entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info


@pytest.fixture
def evil_daemon(tmp_path: Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """A unix-socket HTTP server answering ``GET .../containers/evil/archive`` with the
    tar registered for the path asked (and a directory's stat header)."""
    archives: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            from urllib.parse import parse_qs, urlparse

            url = urlparse(self.path)
            path = parse_qs(url.query).get("path", [""])[0]
            if "/containers/evil/json" in url.path:
                body = json.dumps({"Id": "e" * 64, "Name": "/evil"}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            body = archives.get(path, b"")
            st = {"name": path.rsplit("/", 1)[-1], "size": 0, "mode": (1 << 31) | 0o755,
                  "mtime": "2024-01-01T00:00:00Z", "linkTarget": ""}
            self.send_response(200 if body else 404)
            self.send_header("X-Docker-Container-Path-Stat",
                             base64.b64encode(json.dumps(st).encode()).decode())
            self.send_header("Content-Type", "application/x-tar")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    class UnixServer(ThreadingHTTPServer):
        address_family = socket.AF_UNIX

        def server_bind(self) -> None:
            self.socket.bind(self.server_address)  # type: ignore[arg-type]
            self.server_name, self.server_port = "evil", 0

    sock = tmp_path / "evil.sock"
    server = UnixServer(str(sock), Handler)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"unix://{sock}", archives
    finally:
        server.shutdown()
        server.server_close()


def test_cp_from_hostile_daemon_is_refused_on_the_client(
        orlopd: Server, evil_daemon: tuple[str, dict[str, bytes]], tmp_path: Path) -> None:
    host, archives = evil_daemon
    outside = tmp_path / "outside"
    outside.mkdir()
    archives["/through-symlink"] = _tar(
        [_entry("through-symlink", tarfile.DIRTYPE),
         _entry("through-symlink/esc", tarfile.SYMTYPE, str(outside)),
         _entry("through-symlink/esc/pwned")], {"through-symlink/esc/pwned": b"x"})
    archives["/dotdot"] = _tar([_entry("dotdot", tarfile.DIRTYPE),
                                _entry("dotdot/../../outside/pwned")],
                               {"dotdot/../../outside/pwned": b"x"})
    archives["/absolute"] = _tar([_entry("absolute", tarfile.DIRTYPE),
                                  _entry(f"{outside}/pwned")], {f"{outside}/pwned": b"x"})
    archives["/elsewhere"] = _tar([_entry("other/pwned")], {"other/pwned": b"x"})
    archives["/hardlink"] = _tar([_entry("hardlink", tarfile.DIRTYPE),
                                  _entry("hardlink/h", tarfile.LNKTYPE,
                                         "../../outside/secret")], {})
    (outside / "secret").write_text("s")
    for path, why in [("/through-symlink", "parent is not a directory"),
                      ("/dotdot", "outside of the destination"),
                      ("/absolute", "absolute names"), ("/elsewhere", "not below"),
                      ("/hardlink", "outside of the destination")]:
        dest = tmp_path / "dest" / path.strip("/")
        dest.mkdir(parents=True)
        code, _, err = _orlop(orlopd, "cp", f"evil:{path}", str(dest), remote=True,
                                host=host)
        assert code == 1 and why in err and "invalid tar entry" in err, (path, err)
        assert sorted(p.name for p in outside.iterdir()) == ["secret"], path
        assert (outside / "secret").read_text() == "s"
        assert (outside / "secret").stat().st_nlink == 1


# --- volumes ----------------------------------------------------------------------------


def test_volume_verbs_match_local(bbd: Server) -> None:
    assert both(bbd, "volume", "create", "--label", "a=b", "v1") == (0, "v1\n", "")
    both(bbd, "volume", "ls")
    both(bbd, "volume", "ls", "-q", "-f", "label=a=b")
    both(bbd, "volume", "ls", "--format", "{{.Name}} {{.Labels}}")
    both(bbd, "volume", "ls", "--format", "json")
    both(bbd, "volume", "inspect", "v1")
    both(bbd, "volume", "inspect", "--size", "-f", "{{.UsageData.Size}}", "v1")
    assert both(bbd, "volume", "inspect", "v1", "nope") [2] == "Error: No such volume: nope\n"
    assert both(bbd, "volume", "create", "bad/name")[0] == 1
    assert both(bbd, "volume", "ls", "-f", "bogus=1")[0] == 1
    assert both(bbd, "volume", "rm", "nope") == (1, "", "Error: No such volume: nope\n")
    ok(bbd, "run", "--name", "user", "--network", "none", "-v", "v1:/v", "busybox", "true")
    code, _, err = both(bbd, "volume", "rm", "v1")
    assert code == 1 and "in use" in err
    for remote in (False, True):
        ok(bbd, "volume", "create", "p1", remote=not remote)
        assert _orlop(bbd, "volume", "prune", "-f", "-a", remote=remote) == (
            0, "Deleted Volumes:\np1\n\nTotal reclaimed space: 0B\n", "")
    assert both(bbd, "volume", "prune", "-f", "--filter", "bogus=1")[0] == 1


def test_volume_export_import_clone_remote_round_trip(bbd: Server, tmp_path: Path) -> None:
    ok(bbd, "volume", "create", "--label", "k=v", "data")
    ok(bbd, "run", "--rm", "--network", "none", "-v", "data:/v", "busybox", "sh", "-c",
       "echo x > /v/a; mkdir /v/d; echo y > /v/d/b; ln -s a /v/l; chown 7:8 /v/d /v/a; "
       "chmod 700 /v/d; chown 9:9 /v")
    code, arch_l, _ = _raw(bbd, "volume", "export", "data", remote=False)
    code_r, arch_r, err = _raw(bbd, "volume", "export", "data", remote=True)
    assert code == code_r == 0, err
    assert arch_l == arch_r  # the same archive, byte for byte (checksum included)
    # export | import through the API, then compare content and ownership on disk
    assert _orlop(bbd, "volume", "import", "copy", remote=True, stdin=arch_r) == \
        (0, "copy\n", "")
    vols = bbd.root / "volumes"
    assert _tree(vols / "data" / "_data") == _tree(vols / "copy" / "_data")
    st = (vols / "copy" / "_data").stat()
    assert (st.st_uid, st.st_gid) == (9, 9)
    assert json.loads(ok(bbd, "volume", "inspect", "copy"))[0]["Labels"] == {"k": "v"}
    out = tmp_path / "data.tar"
    ok(bbd, "volume", "export", "-o", str(out), "data")
    assert out.read_bytes() == arch_l
    assert ok(bbd, "volume", "import", "-i", str(out), "copy2") == "copy2\n"
    # in use: refused the same way, and the content is kept; --force replaces it
    ok(bbd, "run", "--name", "holder", "--network", "none", "-v", "copy:/v", "busybox",
       "sh", "-c", "echo changed > /v/a")
    code, _, err = both(bbd, "volume", "import", "copy", str(out))
    assert code == 1 and "in use" in err
    assert (vols / "copy" / "_data" / "a").read_text() == "changed\n"
    assert _orlop(bbd, "volume", "import", "-f", "copy", str(out), remote=True)[0] == 0
    assert (vols / "copy" / "_data" / "a").read_text() == "x\n"
    # a corrupt archive: refused, nothing changed
    bad = bytearray(arch_l)
    bad[len(bad) // 2] ^= 0xFF
    code, _, err = both(bbd, "volume", "import", "copy2", stdin=bytes(bad))
    assert code == 1 and "corrupt" in err, err
    assert _tree(vols / "copy2" / "_data") == _tree(vols / "data" / "_data")
    # clone
    assert _orlop(bbd, "volume", "clone", "data", "cl", remote=True) == (0, "cl\n", "")
    assert _tree(vols / "cl" / "_data") == _tree(vols / "data" / "_data")
    assert both(bbd, "volume", "clone", "data", "cl") == \
        (1, "", "Error: volume clone: volume cl already exists\n")
    assert both(bbd, "volume", "clone", "nope", "cl2") == \
        (1, "", "Error: No such volume: nope\n")
    assert both(bbd, "volume", "export", "nope")[:3:2] == (1, "Error: No such volume: nope\n")
    assert both(bbd, "volume", "import", "bad/name", stdin=arch_l)[0] == 1


# --- system -------------------------------------------------------------------------------


def test_system_info_version_df_match_local(bbd: Server) -> None:
    ok(bbd, "run", "--name", "dfc", "--network", "none", "-v", "dfv:/d", "busybox", "sh", "-c",
       "dd if=/dev/zero of=/d/f bs=1k count=10 2>/dev/null", remote=False)
    both(bbd, "info")
    both(bbd, "info", "-f", "{{.Containers}} {{.Images}} {{.DockerRootDir}}")
    both(bbd, "version")
    both(bbd, "version", "-f", "{{.Client.Version}} {{.Server.Version}}")
    out = both(bbd, "system", "df")[1]
    assert "Local Volumes   1         1         10.24kB" in out  # go-units HumanSize: 4 digits
    out = both(bbd, "system", "df", "-v", norm=True)[1]
    assert "dfv" in out and "10.24kB" in out and "Exited (0)" in out
    both(bbd, "system", "df", "--format", "{{.Type}}: {{.Size}}")
    code, out, err = _orlop(bbd, "system", "service", remote=True)
    assert code == 1 and "cannot be used with -H/--host" in err, err
    code, out, err = _orlop(bbd, "version", remote=True, host="unix:///nonexistent.sock")
    assert code == 1 and out.startswith("Client:\n Version:") and "Cannot connect" in err


def test_diff_matches_docker_and_local(bbd: Server) -> None:
    """``diff``/``container diff``: added, changed and deleted paths, as ``docker diff``
    prints them, the same locally and through orlopd."""
    ok(bbd, "run", "--name", "ch", "busybox", "sh", "-c",
       "mkdir /newdir && echo x > /newdir/f && rm /bin/arch")
    out = both(bbd, "diff", "ch")[1]
    lines = out.splitlines()
    for want in ("A /newdir", "A /newdir/f", "C /bin", "D /bin/arch"):
        assert want in lines, out
    assert both(bbd, "container", "diff", "ch")[1] == out
    assert bbd.ok("diff", "ch") == out
    code, _, err = _orlop(bbd, "diff", "nosuch", remote=True)
    assert code == 1 and "No such container: nosuch" in err
    # The shortcuts and group verbs added with diff work through orlopd too.
    assert both(bbd, "history", "-q", "busybox")[0] == 0
    assert both(bbd, "container", "export", "-o", str(bbd.root.parent / "ch.tar"), "ch")[0] == 0
