"""``container prune``, ``image prune`` and ``system prune``: local, through ``-H``, and from
the docker CLI against orlopd; one engine function decides what goes (engine/prune.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from .conftest import Server

Result = tuple[int, str, str]


def _orlop(server: Server, *args: str, remote: bool, stdin: str = "") -> Result:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "ORLOP_HOST")}
    pre = ["-H", server.host] if remote else ["--root", str(server.root)]
    res = subprocess.run([sys.executable, "-m", "orlop", *pre, *args], capture_output=True,
                         text=True, input=stdin, timeout=120, env=env, check=False)
    return res.returncode, res.stdout, res.stderr


def _ok(server: Server, *args: str, remote: bool = False) -> str:
    code, out, err = _orlop(server, *args, remote=remote)
    assert code == 0, (args, out, err)
    return out


def _cid(server: Server, name: str) -> str:
    return _ok(server, "inspect", "-f", "{{.Id}}", name).strip()


def _names(server: Server) -> list[str]:
    return sorted(_ok(server, "ps", "-a", "--format", "{{.Names}}").split())


def test_container_prune_local_and_remote_with_filters(bbd: Server) -> None:
    for name, label in (("keep", "keep=1"), ("gone1", "tier=x"), ("gone2", "tier=y")):
        _ok(bbd, "run", "--name", name, "--label", label, "--network", "none", "busybox",
            "sh", "-c", "echo data > /f")
    _ok(bbd, "run", "-d", "--name", "up", "--network", "none", "busybox", "sleep", "60")
    gone1 = _cid(bbd, "gone1")
    # No -f: Docker's prompt; "n" keeps everything.
    code, out, _ = _orlop(bbd, "container", "prune", remote=True, stdin="n\n")
    assert (code, out) == (0, "WARNING! This will remove all stopped containers.\n"
                              "Are you sure you want to continue? [y/N] ")
    assert _names(bbd) == ["gone1", "gone2", "keep", "up"]
    # Remote, with a label filter: only gone1; the writable layer's size is reported.
    code, out, err = _orlop(bbd, "container", "prune", "-f", "--filter", "label=tier=x",
                            remote=True)
    assert code == 0, err
    head, _, total = out.partition("\n\n")
    assert head == f"Deleted Containers:\n{gone1}"
    assert total.startswith("Total reclaimed space: ") and total.strip()[-1] == "B"
    assert total.strip() != "Total reclaimed space: 0B"
    assert _names(bbd) == ["gone2", "keep", "up"]
    # Local, label!: gone2 goes, keep stays, the running container is never touched.
    gone2 = _cid(bbd, "gone2")
    out = _ok(bbd, "container", "prune", "-f", "--filter", "label!=keep")
    assert out.startswith(f"Deleted Containers:\n{gone2}\n\n")
    assert _names(bbd) == ["keep", "up"]
    # until in the past: nothing is old enough.
    out = _ok(bbd, "container", "prune", "-f", "--filter", "until=1h", remote=True)
    assert out == "Total reclaimed space: 0B\n"
    # A bad filter is refused, the same text both ways, nothing removed.
    bad = [_orlop(bbd, "container", "prune", "-f", "--filter", "color=red", remote=r)
           for r in (False, True)]
    assert bad[0] == bad[1] == (1, "", "Error: Invalid filter 'color'\n")
    assert _names(bbd) == ["keep", "up"]
    _ok(bbd, "rm", "-f", "up")


def test_docker_cli_container_prune_against_orlopd(bbd: Server) -> None:
    bbd.ok("run", "--name", "aa", "--network", "none", "busybox", "true")
    bbd.ok("create", "--name", "bb", "--label", "x=1", "--network", "none", "busybox")
    cid_b = bbd.ok("inspect", "-f", "{{.Id}}", "bb").strip()
    out = bbd.ok("container", "prune", "-f", "--filter", "label=x=1")
    assert out.startswith(f"Deleted Containers:\n{cid_b}\n")
    assert bbd.ok("ps", "-a", "--format", "{{.Names}}").split() == ["aa"]
    res = bbd.docker("container", "prune", "-f", "--filter", "nope=1")
    assert res.returncode != 0 and "Invalid filter 'nope'" in res.stderr


def test_system_prune_containers_volumes_images(bbd: Server) -> None:
    # An image that becomes dangling: two commits under one tag.
    _ok(bbd, "run", "--name", "c1", "--network", "none", "busybox", "sh", "-c", "echo 1 > /v")
    _ok(bbd, "commit", "c1", "snap:1")
    first = _ok(bbd, "image", "inspect", "-f", "{{.Id}}", "snap:1").strip()
    _ok(bbd, "run", "--name", "c2", "--network", "none", "busybox", "sh", "-c", "echo 2 > /v")
    _ok(bbd, "commit", "c2", "snap:1")
    # An anonymous volume left by a removed container, and a named one.
    _ok(bbd, "run", "--name", "anon", "-v", "/data", "--network", "none", "busybox", "true")
    anon = _ok(bbd, "inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "anon").strip()
    _ok(bbd, "volume", "create", "named")
    code, out, _ = _orlop(bbd, "system", "prune", "--volumes", remote=True, stdin="no\n")
    assert out == ("WARNING! This will remove:\n"
                   "  - all stopped containers\n"
                   "  - all networks not used by at least one container\n"
                   "  - all anonymous volumes not used by at least one container\n"
                   "  - all dangling images\n"
                   "  - unused build cache\n\n"
                   "Are you sure you want to continue? [y/N] ")
    ids = sorted(_cid(bbd, n) for n in ("c1", "c2", "anon"))
    code, out, err = _orlop(bbd, "system", "prune", "-f", "--volumes", remote=True)
    assert code == 0, err
    sections = out.split("\n\n")
    assert sections[0].split("\n")[0] == "Deleted Containers:"
    assert sorted(sections[0].split("\n")[1:]) == ids
    assert sections[1] == f"Deleted Volumes:\n{anon}"
    assert sections[2].startswith("Deleted Images:\n") and f"deleted: {first}" in sections[2]
    assert sections[3].startswith("Total reclaimed space: ")
    assert _names(bbd) == []
    assert _ok(bbd, "volume", "ls", "-q").split() == ["named"]
    tags = _ok(bbd, "images", "--format", "{{.Repository}}:{{.Tag}}").split()
    assert sorted(tags) == ["busybox:latest", "snap:1"]
    # Nothing left to prune: the same report locally and remotely.
    assert _orlop(bbd, "system", "prune", "-f", remote=False) == \
        _orlop(bbd, "system", "prune", "-f", remote=True) == \
        (0, "Total reclaimed space: 0B\n", "")
