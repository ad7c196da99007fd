"""Containers started through orlopd are the engine's own: the same detached monitor,
json-file log, stop/kill/wait as ``orlop run -d``; exec, cp, export, commit, save/load,
rename, pause, top through the real docker CLI and docker-py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from .conftest import Server


def orlop(server: Server, *args: str, input: str | None = None,
          host: bool = False) -> subprocess.CompletedProcess[str]:
    """The orlop CLI on the server's root (in-process engine), or through the server."""
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "ORLOP_HOST")}
    pre = ["-H", server.host] if host else ["--root", str(server.root)]
    return subprocess.run([sys.executable, "-m", "orlop", *pre, *args], input=input,
                          capture_output=True, text=True, timeout=60, env=env, check=False)


def _until(fn: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not fn():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_logs_of_orlop_run_d_container_through_docker_logs(bbd: Server) -> None:
    res = orlop(bbd, "run", "-d", "--name", "cli", "busybox", "sh", "-c",
                "echo out; echo err >&2; sleep 0.2; echo late")
    assert res.returncode == 0, res.stderr
    assert bbd.ok("wait", "cli").strip() == "0"
    res = bbd.docker("logs", "cli")
    assert (res.stdout, res.stderr) == ("out\nlate\n", "err\n")
    assert bbd.ok("logs", "--tail", "1", "cli") == "late\n"
    stamped = bbd.ok("logs", "-t", "cli").splitlines()
    assert stamped[0].endswith(" out") and stamped[0][:4].isdigit()


def test_orlop_logs_shows_container_started_by_docker_run_d(bbd: Server) -> None:
    bbd.ok("run", "-d", "--name", "api", "busybox", "sh", "-c", "echo from-api; sleep 30")
    _until(lambda: "from-api" in orlop(bbd, "logs", "api").stdout)
    ps = orlop(bbd, "ps", "--format", "{{.Names}} {{.Status}}")
    assert ps.stdout.startswith("api Up"), ps.stdout
    # The engine's own stop works on it: the detached monitor, not the server, runs it.
    assert orlop(bbd, "stop", "-t", "1", "api").returncode == 0
    assert bbd.ok("inspect", "-f", "{{.State.Status}}", "api").strip() == "exited"


def test_logs_follow_ends_when_container_exits(bbd: Server) -> None:
    bbd.ok("run", "-d", "--name", "fol", "busybox", "sh", "-c",
           "for i in 1 2 3; do echo $i; sleep 0.2; done")
    res = bbd.docker("logs", "-f", "fol", timeout=20)
    assert (res.returncode, res.stdout) == (0, "1\n2\n3\n")


def test_restart_and_kill_signal_of_detached_container(bbd: Server) -> None:
    bbd.ok("run", "-d", "--name", "rr", "busybox", "sh", "-c",
           "echo up; trap 'echo usr1' USR1; while true; do sleep 0.1; done")
    _until(lambda: "up" in bbd.ok("logs", "rr"))
    bbd.ok("kill", "-s", "USR1", "rr")
    _until(lambda: "usr1" in bbd.ok("logs", "rr"))
    bbd.ok("restart", "-t", "1", "rr")
    _until(lambda: bbd.ok("logs", "rr").count("up") == 2)
    assert bbd.ok("inspect", "-f", "{{.State.Running}}", "rr").strip() == "true"
    bbd.ok("rm", "-f", "rr")


def test_exec_output_exit_code_stdin_and_tty(bbd: Server) -> None:
    bbd.ok("run", "-d", "--name", "ex", "busybox", "sleep", "30")
    res = bbd.docker("exec", "ex", "sh", "-c", "echo hi; echo there >&2; exit 5")
    assert (res.returncode, res.stdout, res.stderr) == (5, "hi\n", "there\n")
    res = bbd.docker("exec", "-i", "ex", "sh", "-c", "cat; echo done", input="in\n")
    assert (res.returncode, res.stdout) == (0, "in\ndone\n"), res.stderr
    res = bbd.docker("exec", "-e", "X=1", "-w", "/tmp", "ex", "sh", "-c", "echo $X; pwd")
    assert res.stdout == "1\n/tmp\n"
    # A tty without a terminal on our side: docker-py (below) drives the tty case.
    bbd.ok("exec", "-d", "ex", "touch", "/tmp/detached")
    _until(lambda: bbd.docker("exec", "ex", "test", "-f", "/tmp/detached").returncode == 0)
    bbd.ok("rm", "-f", "ex")
    res = bbd.docker("exec", "ex", "true")
    assert res.returncode != 0


def test_exec_run_with_docker_py(client: Any) -> None:
    c = client.containers.run("busybox", ["sleep", "30"], detach=True)
    code, out = c.exec_run(["sh", "-c", "echo a; exit 3"])
    assert (code, out) == (3, b"a\n")
    code, out = c.exec_run(["sh", "-c", "test -t 0 && test -t 1 && echo tty"], tty=True)
    assert code == 0 and out.strip() == b"tty"
    code, (o, e) = c.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True)
    assert (code, o, e) == (0, b"o\n", b"e\n")
    c.remove(force=True)


def test_cp_both_ways_and_archive_stat(bbd: Server) -> None:
    bbd.ok("run", "-d", "--name", "cpc", "-v", "cpv:/data", "busybox", "sh", "-c",
           "mkdir -p /srv/d; echo inner > /srv/d/f; ln -s d /srv/l; echo v > /data/v; "
           "sleep 30")
    _until(lambda: bbd.docker("exec", "cpc", "test", "-L", "/srv/l").returncode == 0)
    out = bbd.dir / "out"
    bbd.ok("cp", "cpc:/srv/d", str(out))
    assert (out / "f").read_text() == "inner\n"
    bbd.ok("cp", "cpc:/data/v", str(bbd.dir / "v.txt"))
    assert (bbd.dir / "v.txt").read_text() == "v\n"
    src = bbd.dir / "up"
    src.mkdir()
    (src / "a.txt").write_text("uploaded\n")
    bbd.ok("cp", str(src), "cpc:/srv/up")  # a new directory
    bbd.ok("cp", str(src / "a.txt"), "cpc:/data/")  # into a volume
    res = bbd.docker("exec", "cpc", "cat", "/srv/up/a.txt", "/data/a.txt")
    assert res.stdout == "uploaded\nuploaded\n"
    # docker cp to stdout: a tar; a missing path is Docker's 404 text.
    res = subprocess.run(["docker", "cp", "cpc:/srv/d/f", "-"], capture_output=True,
                         env={**os.environ, "DOCKER_HOST": bbd.host,
                              "DOCKER_CONFIG": str(bbd.dir / "cfg")}, check=True)
    assert b"inner\n" in res.stdout and res.stdout[257:262] == b"ustar"
    res = bbd.docker("cp", "cpc:/no/such", str(bbd.dir / "x"))
    assert res.returncode == 1 and "Could not find the file /no/such" in res.stderr
    # The stat header carries Go's FileMode (ModeSymlink for /srv/l).
    status, headers, _ = bbd.raw("HEAD", "/v1.45/containers/cpc/archive?path=/srv/l")
    import base64

    st = json.loads(base64.b64decode(headers["X-Docker-Container-Path-Stat"]))
    assert status == 200 and st["name"] == "l" and st["mode"] & (1 << 27)
    assert st["linkTarget"] == "/srv/d"
    bbd.ok("rm", "-f", "cpc")


def test_cp_with_docker_py_put_and_get_archive(client: Any) -> None:
    import io
    import tarfile

    c = client.containers.create("busybox", ["true"], name="pyc")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo("hello.txt")
        info.size = 3
        t.addfile(info, io.BytesIO(b"hi\n"))
    assert c.put_archive("/tmp", buf.getvalue())
    stream, st = c.get_archive("/tmp/hello.txt")
    data = b"".join(stream)
    assert st["name"] == "hello.txt" and st["size"] == 3
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        f = t.extractfile("hello.txt")
        assert f is not None and f.read() == b"hi\n"
    # diff (changes): the added file and its changed parent
    assert {"Path": "/tmp/hello.txt", "Kind": 1} in c.diff()
    c.remove()


def test_commit_save_load_and_export(bbd: Server) -> None:
    bbd.ok("run", "--name", "base", "busybox", "sh", "-c", "echo committed > /etc/mark")
    bbd.ok("commit", "-c", "ENV MARK=1", "-m", "msg", "base", "marked:v1")
    res = bbd.docker("run", "--rm", "marked:v1", "sh", "-c", "cat /etc/mark; echo $MARK")
    assert res.stdout == "committed\n1\n", res.stderr
    tar = bbd.dir / "marked.tar"
    bbd.ok("save", "-o", str(tar), "marked:v1")
    bbd.ok("rmi", "marked:v1")
    out = bbd.ok("load", "-i", str(tar))
    assert "Loaded image: marked:v1" in out
    res = bbd.docker("run", "--rm", "marked:v1", "cat", "/etc/mark")
    assert res.stdout == "committed\n"
    # docker save | docker load through a pipe
    env = {**os.environ, "DOCKER_HOST": bbd.host, "DOCKER_CONFIG": str(bbd.dir / "cfg")}
    bbd.ok("rmi", "marked:v1")
    pipe = subprocess.run("docker save busybox:latest | docker load", shell=True,
                          capture_output=True, text=True, env=env, check=False)
    assert pipe.returncode == 0 and "Loaded image: busybox:latest" in pipe.stdout
    exported = bbd.dir / "fs.tar"
    bbd.ok("export", "-o", str(exported), "base")
    import tarfile

    with tarfile.open(exported) as t:
        names = t.getnames()
        f = t.extractfile("etc/mark")
        assert f is not None and f.read() == b"committed\n"
    assert "bin/sh" in names


def test_rename_pause_unpause_top(bbd: Server) -> None:
    bbd.ok("run", "-d", "--name", "old", "busybox", "sh", "-c",
           "while true; do date > /tmp/t; sleep 0.05; done")
    bbd.ok("rename", "old", "new")
    assert bbd.ok("inspect", "-f", "{{.Name}}", "new").strip() == "/new"
    bbd.ok("pause", "new")
    assert bbd.ok("inspect", "-f", "{{.State.Status}}", "new").strip() == "paused"
    bbd.ok("unpause", "new")
    assert bbd.ok("inspect", "-f", "{{.State.Status}}", "new").strip() == "running"
    top = bbd.ok("top", "new")
    assert "PID" in top.splitlines()[0] and "while true" in top
    assert "sh -c" in bbd.ok("top", "new", "-o", "pid,args")
    bbd.ok("rm", "-f", "new")
