"""Every container command through orlopd (``orlop -H unix://SOCK ...``) gives what the
local command gives against the same root: exit code, stdout and stderr.

Each case runs the local command, then the remote one.  Commands that make a container
name it with ``{m}``, which becomes ``xloc`` locally and ``xrem`` remotely; the outputs
are compared with those names, ids and times normalised (and nothing else).
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from testsupport import until

from .conftest import Server

Result = tuple[int, str, str]
_MODES = {False: "xloc", True: "xrem"}


def orlop(server: Server, *args: str, remote: bool, input: str | None = None,
          cwd: Path | None = None, timeout: float = 60) -> Result:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "ORLOP_HOST")}
    pre = ["-H", server.host] if remote else ["--root", str(server.root)]
    argv = [a.replace("{m}", _MODES[remote]) for a in args]
    res = subprocess.run([sys.executable, "-m", "orlop", *pre, *argv], capture_output=True,
                         text=True, timeout=timeout, env=env, check=False, input=input,
                         stdin=None if input is not None else subprocess.DEVNULL,
                         cwd=cwd or server.dir)
    return res.returncode, res.stdout, res.stderr


def norm(text: str) -> str:
    """What must differ between two runs: names, ids, times, durations."""
    text = text.replace("xloc", "NAME").replace("xrem", "NAME")
    text = re.sub(r"[0-9a-f]{64}", "ID", text)
    text = re.sub(r"\b[0-9a-f]{12}\b", "SID", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", "TIME", text)
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \w+", "TIME", text)
    text = re.sub(r"(Less than a second|About a minute|\d+ (seconds?|minutes?)) ago",
                  "AGO", text)
    text = re.sub(r"Up (Less than a second|About a minute|\d+ (seconds?|minutes?))", "Up T",
                  text)
    return re.sub(r" {2,}", "  ", text)


def both(server: Server, *args: str, input: str | None = None, cwd: Path | None = None,
         normalise: Callable[[str], str] = norm) -> Result:
    """The local result, normalised (after asserting that the remote one is the same)."""
    local = orlop(server, *args, remote=False, input=input, cwd=cwd)
    remote = orlop(server, *args, remote=True, input=input, cwd=cwd)
    lo = (local[0], normalise(local[1]), normalise(local[2]))
    re_ = (remote[0], normalise(remote[1]), normalise(remote[2]))
    assert lo == re_, f"{args}\nlocal:  {local}\nremote: {remote}"
    return lo


def in_pty(server: Server, *args: str, remote: bool, rows: int = 33, cols: int = 101,
           typed: bytes = b"", timeout: float = 30) -> tuple[int, bytes]:
    """``orlop ...`` with a terminal of ``rows`` x ``cols`` as stdin/stdout/stderr;
    ``typed`` is typed once the container has printed something."""
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "ORLOP_HOST")}
    pre = ["-H", server.host] if remote else ["--root", str(server.root)]
    argv = [sys.executable, "-m", "orlop", *pre,
            *[a.replace("{m}", _MODES[remote]) for a in args]]
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.chdir(server.dir)
        os.execve(argv[0], argv, env)
    import fcntl
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if fd in ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    break
                if not data:
                    break
                out += data
                if typed and b"READY" in out:
                    os.write(fd, typed)
                    typed = b""
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out


@pytest.fixture
def srv(bbd: Server) -> Iterator[Server]:
    """busybox's orlopd; every container removed before the root goes."""
    yield bbd
    code, out, _ = orlop(bbd, "ps", "-aq", "--no-trunc", remote=False)
    if code == 0 and out.split():
        orlop(bbd, "rm", "-f", *out.split(), remote=False, timeout=90)


def _until(pred: Callable[[], bool], timeout: float = 15) -> bool:
    return until(pred, timeout)


def _inspect(server: Server, ref: str, remote: bool = False) -> dict:  # type: ignore[type-arg]
    code, out, err = orlop(server, "inspect", ref, remote=remote)
    assert code == 0, err
    return json.loads(out)[0]  # type: ignore[no-any-return]


# --- run -------------------------------------------------------------------------------


def test_run_exit_codes_and_streams_match(srv: Server) -> None:
    assert both(srv, "run", "--rm", "busybox", "sh", "-c",
                "echo o; echo e >&2; exit 3") == (3, "o\n", "e\n")
    code, _, err = both(srv, "run", "--rm", "--pull", "never", "nope")  # never docker.io
    assert code == 125 and "No such image: nope" in err
    assert both(srv, "run", "--rm", "busybox", "nonexist")[0] == 127
    assert both(srv, "run", "--rm", "busybox", "/etc")[0] == 126
    assert both(srv, "run", "--rm", "--network", "nosuchnet", "busybox", "true")[0] == 125
    assert both(srv, "run", "--rm", "--restart", "bogus", "busybox", "true")[0] == 125
    assert both(srv, "run", "--rm", "--restart", "always:3", "busybox", "true")[0] == 125
    assert both(srv, "run", "--rm", "--restart", "on-failure:x", "busybox", "true")[0] == 125
    assert both(srv, "run", "-a", "bogus", "busybox", "true")[0] == 125
    assert both(srv, "run", "--rm", "--mount", "type=bind,target=/x", "busybox",
                "true")[0] == 125
    assert both(srv, "run", "--rm", "-v", "/a:/x", "--tmpfs", "/x", "busybox",
                "true")[0] == 125
    assert both(srv, "run", "--rm", "--privileged", "busybox", "true")[0] == 125
    assert both(srv, "run", "--rm", "-m", "1k", "busybox", "true")[0] == 125
    # -a: only the streams asked for
    assert both(srv, "run", "--rm", "-a", "stderr", "busybox", "sh", "-c",
                "echo o; echo e >&2") == (0, "", "e\n")
    assert both(srv, "run", "--rm", "--entrypoint", "echo", "busybox", "a", "b") == \
        (0, "a b\n", "")
    assert orlop(srv, "ps", "-aq", remote=False) == (0, "", "")  # --rm removed them all


def test_run_stdin_piped(srv: Server) -> None:
    assert both(srv, "run", "-i", "--rm", "busybox", "cat", input="hi\n") == (0, "hi\n", "")
    assert both(srv, "run", "-i", "--rm", "busybox", "sh", "-c", "wc -l; exit 2",
                input="a\nb\nc\n") == (2, "3\n", "")
    # without -i the container's stdin is empty
    assert both(srv, "run", "--rm", "busybox", "cat", input="ignored\n") == (0, "", "")


@pytest.mark.parametrize("remote", [False, True])
def test_run_tty_under_a_pty(srv: Server, remote: bool) -> None:
    code, out = in_pty(srv, "run", "--rm", "-t", "busybox", "sh", "-c",
                       "tty; stty size; exit 3", remote=remote, rows=33, cols=101)
    assert code == 3
    assert out.replace(b"\r", b"") == b"/dev/pts/0\n33 101\n"
    code, out = in_pty(srv, "run", "--rm", "-it", "busybox", "sh", "-c",
                       "echo READY; read x; echo got:$x; exit 4", remote=remote,
                       typed=b"hello\r")
    assert code == 4, out
    assert b"got:hello" in out


def test_run_tty_resize_reaches_a_running_container(srv: Server) -> None:
    """POST /containers/{id}/resize sets the size of a running container's terminal."""
    assert orlop(srv, "run", "-dt", "--name", "{m}", "busybox", "sh", "-c",
                 "sleep 60", remote=True)[0] == 0
    import http.client
    import socket

    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(srv.socket))
            self.sock = s

    c = Conn("localhost")
    c.request("POST", "/containers/xrem/resize?h=40&w=120")
    assert c.getresponse().status == 200
    c.close()
    code, out, _ = orlop(srv, "exec", "xrem", "sh", "-c", "stty size < /proc/1/fd/0",
                         remote=False)
    assert (code, out) == (0, "40 120\n")
    c = Conn("localhost")
    c.request("POST", "/containers/nope/resize?h=1&w=1")
    assert c.getresponse().status == 404
    c.close()


def test_run_mounts_match(srv: Server) -> None:
    work = srv.dir / "work"
    (work / "rel").mkdir(parents=True)
    (work / "rel" / "f").write_text("from-host\n")
    assert orlop(srv, "volume", "create", "shared", remote=False)[0] == 0
    show = "cat /b/f /m/f; ls /v; grep -E ' /(t|mt) ' /proc/mounts | cut -d' ' -f2-4"
    args = ["run", "--rm", "-v", "./rel:/b", "-v", "shared:/v", "-v", "/anon",
            "--mount", "type=bind,src=./rel,dst=/m,readonly",
            "--mount", "type=volume,src=mv{m},dst=/mv", "--mount",
            "type=tmpfs,dst=/mt,tmpfs-size=1m", "--tmpfs", "/t:size=2m,mode=1777",
            "busybox", "sh", "-c", show]
    code, out, err = both(srv, *args, cwd=work)
    assert code == 0, err
    assert out.startswith("from-host\nfrom-host\n")
    assert "/t tmpfs rw,nosuid,nodev,noexec,relatime,size=2048k" in out or "/t tmpfs" in out
    # --volumes-from, and what the containers record (inspect)
    for remote in (False, True):
        code, _, err = orlop(srv, "create", "--name", "src{m}", "-v", "./rel:/b:ro",
                             "-v", "vf{m}:/data", "busybox", "true", remote=remote, cwd=work)
        assert code == 0, err
    code, out, err = both(srv, "run", "--rm", "--volumes-from", "src{m}:ro", "busybox",
                          "sh", "-c", "cat /b/f; touch /data/x || echo ro")
    assert (code, out) == (0, "from-host\nro\n"), err
    for remote in (False, True):
        code, _, err = orlop(srv, "create", "--name", "m{m}", "-v", "./rel:/b",
                             "-v", "/anon", "--mount", "type=volume,src=mv{m},dst=/mv",
                             "--tmpfs", "/t:size=2m", "--volumes-from", "src{m}",
                             "busybox", "true", remote=remote, cwd=work)
        assert code == 0, err
    local, remote_ = (_inspect(srv, f"m{m}") for m in ("xloc", "xrem"))
    for key in ("Mounts",):
        assert norm(json.dumps(local[key], sort_keys=True)) == \
            norm(json.dumps(remote_[key], sort_keys=True))
    assert norm(json.dumps(local["HostConfig"], sort_keys=True)) == \
        norm(json.dumps(remote_["HostConfig"], sort_keys=True))


def test_run_flags_recorded_alike(srv: Server) -> None:
    """Every run/create flag reaches the container the same way: their inspect agrees."""
    env_file = srv.dir / "env"
    env_file.write_text("# comment\nFROM_FILE=1\n\nOTHER=two\n")
    args = ["create", "--name", "{m}", "-e", "A=1", "--env-file", str(env_file),
            "-w", "/tmp", "-u", "1000:1000", "-h", "box", "-l", "k=v", "--label", "x",
            "--read-only", "-i", "-t", "-m", "64m", "--pids-limit", "50", "--cpus", "0.5",
            "--cap-add", "SYS_TIME", "--cap-drop", "NET_RAW", "--restart", "on-failure:2",
            "--stop-signal", "SIGUSR1", "--stop-timeout", "3", "--log-opt", "max-size=1m",
            "--entrypoint", "", "--network", "host", "busybox", "sh", "-c", "exit 0"]
    if os.path.exists("/usr/bin/tini-static") or os.path.exists("/usr/bin/docker-init"):
        args.insert(1, "--init")
    for remote in (False, True):
        code, out, err = orlop(srv, *args, remote=remote)
        assert code == 0, err
        assert re.fullmatch(r"[0-9a-f]{64}\n", out)
    local, remote_ = (_inspect(srv, n) for n in ("xloc", "xrem"))
    for key in ("Config", "HostConfig", "Path", "Args", "State", "Mounts", "Image"):
        assert norm(json.dumps(local[key], sort_keys=True)) == \
            norm(json.dumps(remote_[key], sort_keys=True)), key
    assert local["Config"]["Env"][:3] == ["A=1", "FROM_FILE=1", "OTHER=two"] or \
        "FROM_FILE=1" in local["Config"]["Env"]


def test_run_detached_and_create_start(srv: Server) -> None:
    for remote in (False, True):
        code, out, err = orlop(srv, "run", "-d", "--name", "d{m}", "busybox", "sh", "-c",
                               "echo out; echo err >&2; exit 3", remote=remote)
        assert code == 0 and re.fullmatch(r"[0-9a-f]{64}\n", out), err
    assert both(srv, "wait", "d{m}") == (0, "3\n", "")
    assert both(srv, "logs", "d{m}") == (0, "out\n", "err\n")
    # create + start -a (exit code and streams), start -ai with stdin
    for remote in (False, True):
        assert orlop(srv, "create", "--name", "c{m}", "busybox", "sh", "-c",
                     "echo o; echo e >&2; exit 5", remote=remote)[0] == 0
        assert orlop(srv, "create", "-i", "--name", "i{m}", "busybox", "cat",
                     remote=remote)[0] == 0
    assert both(srv, "start", "-a", "c{m}") == (5, "o\n", "e\n")
    assert both(srv, "start", "-ai", "i{m}", input="typed\n") == (0, "typed\n", "")
    assert both(srv, "start", "c{m}", "nope") == (
        1, "cNAME\n", "Error response from daemon: No such container: nope\n"
        "Error: failed to start containers: nope\n")
    assert both(srv, "wait", "c{m}") == (0, "5\n", "")
    # --rm with -d: gone once it exits
    for remote in (False, True):
        assert orlop(srv, "run", "-d", "--rm", "--name", "r{m}", "busybox", "true",
                     remote=remote)[0] == 0
    assert _until(lambda: orlop(srv, "ps", "-aq", "--filter", "name=^r", remote=False)[1]
                  == "")


def test_lifecycle_verbs_match(srv: Server) -> None:
    for remote in (False, True):
        assert orlop(srv, "run", "-d", "--name", "l{m}", "busybox", "sh", "-c",
                     "trap 'exit 7' TERM; while true; do sleep 1000 & wait $!; done",
                     remote=remote)[0] == 0
    top = both(srv, "top", "l{m}", normalise=lambda s: re.sub(r"\d+", "N", norm(s)))
    assert top[0] == 0 and "sh -c trap 'exit N' TERM; while true; do sleep N & wait" in top[1]
    top = both(srv, "top", "l{m}", "-o", "pid,comm",
               normalise=lambda s: re.sub(r"\d+", "N", norm(s)))
    assert top[1].split() == ["PID", "COMMAND", "N", "sh", "N", "sleep"]
    assert both(srv, "pause", "l{m}") == (0, "lNAME\n", "")
    code, out, _ = both(srv, "ps", "--filter", "status=paused", "--format",
                        "{{.Names}} {{.State}} {{.Status}}")
    assert out.splitlines() == ["lNAME paused Up T (Paused)"] * 1 or \
        sorted(out.splitlines()) == ["lNAME paused Up T (Paused)"] * 2
    assert both(srv, "unpause", "l{m}") == (0, "lNAME\n", "")
    assert both(srv, "rename", "l{m}", "n{m}") == (0, "", "")
    assert both(srv, "restart", "-t", "5", "n{m}") == (0, "nNAME\n", "")
    assert both(srv, "stop", "n{m}") == (0, "nNAME\n", "")
    assert both(srv, "wait", "n{m}") == (0, "7\n", "")
    assert both(srv, "start", "n{m}") == (0, "nNAME\n", "")
    assert both(srv, "kill", "-s", "TERM", "n{m}") == (0, "nNAME\n", "")
    assert both(srv, "wait", "n{m}") == (0, "7\n", "")
    code, _, err = both(srv, "kill", "n{m}")
    assert code == 1 and "is not running" in err
    # missing containers: Docker's texts, the same both ways
    for verb in (["stop"], ["kill"], ["restart"], ["wait"], ["pause"], ["unpause"],
                 ["rm"], ["rename", "nope", "other"], ["top"], ["logs"], ["attach"],
                 ["inspect"], ["container", "inspect"], ["start"],
                 ["exec"], ["inspect", "--type", "container"]):
        argv = [*verb, "nope"] if verb[0] != "rename" else verb
        if verb == ["exec"]:
            argv = ["exec", "nope", "true"]
        code, _, err = both(srv, *argv)
        assert code != 0 and "nope" in err, (verb, err)
    assert both(srv, "rm", "n{m}") == (0, "nNAME\n", "")


def test_ps_filters_and_formats_match(srv: Server) -> None:
    for remote in (False, True):
        assert orlop(srv, "run", "-d", "--name", "p1{m}", "-l", "tier=web", "-v",
                     "pv{m}:/data", "busybox", "sleep", "60", remote=remote)[0] == 0
        assert orlop(srv, "run", "--name", "p2{m}", "-l", "tier=db", "busybox", "sh", "-c",
                     "exit 4", remote=remote)[0] == 4
        assert orlop(srv, "create", "--name", "p3{m}", "busybox", "true",
                     remote=remote)[0] == 0
    cases = [
        ["ps"], ["ps", "-a"], ["ps", "-a", "--no-trunc"], ["ps", "-q"], ["ps", "-aq"],
        ["ps", "-a", "--filter", "status=exited"], ["ps", "-a", "-f", "exited=4"],
        ["ps", "-a", "-f", "label=tier=web"], ["ps", "-a", "-f", "label=tier"],
        ["ps", "-a", "-f", "name=p2"], ["ps", "-a", "-f", "name=^p3"],
        ["ps", "-a", "-f", "status=created", "-f", "status=running"],
        ["ps", "-a", "-f", "ancestor=busybox"], ["ps", "-a", "-f", "volume=/data"],
        ["ps", "-a", "--format", "{{.Names}}\t{{.Image}}\t{{.Command}}\t{{.State}}"],
        ["ps", "-a", "--format", "table {{.Names}}\t{{.Status}}\t{{.Labels}}"],
        ["ps", "-a", "--format", "{{.Label \"tier\"}}"],
        ["ps", "-a", "--format", "{{json .Labels}} {{.Mounts}} {{.LocalVolumes}}"],
        ["ps", "-n", "2"], ["ps", "-l", "-q"], ["ps", "-a", "--format", "json"],
        ["ps", "--filter", "bogus=1"], ["ps", "--filter", "status=nope"],
        ["ps", "--filter", "novalue"], ["container", "ls", "-a"], ["container", "list"],
    ]
    for argv in cases:
        both(srv, *argv)
    _, out, _ = both(srv, "ps", "-a", "--format", "{{.Names}}")
    assert sorted(out.split()) == sorted(f"p{i}NAME" for i in (1, 2, 3) for _ in "lr")


def test_logs_match(srv: Server) -> None:
    assert orlop(srv, "run", "-d", "--name", "lg", "busybox", "sh", "-c",
                 "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done",
                 remote=False)[0] == 0
    assert orlop(srv, "wait", "lg", remote=False)[1] == "0\n"
    for argv in (["logs", "lg"], ["logs", "--tail", "2", "lg"], ["logs", "-n", "0", "lg"],
                 ["logs", "-t", "lg"], ["logs", "-t", "--tail", "1", "lg"],
                 ["logs", "--since", "1970-01-01T00:00:00Z", "lg"],
                 ["logs", "--until", "1970-01-01T00:00:00Z", "lg"],
                 ["logs", "--tail", "x", "lg"], ["logs", "--since", "garbage", "lg"],
                 ["logs", "-f", "lg"], ["container", "logs", "--tail", "1", "lg"]):
        both(srv, *argv)
    _, out, err = both(srv, "logs", "-t", "lg", normalise=lambda s: s)
    assert re.fullmatch(r"(\S+Z out\d\n){5}", out) and re.fullmatch(r"(\S+Z err\d\n){5}", err)
    _, out, err = both(srv, "logs", "--tail", "3", "lg")
    assert len((out + err).splitlines()) == 3
    # -f follows a running container until it ends
    for remote in (False, True):
        assert orlop(srv, "run", "-d", "--name", "f{m}", "busybox", "sh", "-c",
                     "echo a; sleep 1; echo b", remote=remote)[0] == 0
    assert both(srv, "logs", "-f", "f{m}") == (0, "a\nb\n", "")


def test_exec_matches(srv: Server) -> None:
    for remote in (False, True):
        assert orlop(srv, "run", "-d", "--name", "e{m}", "busybox", "sleep", "60",
                     remote=remote)[0] == 0
    assert both(srv, "exec", "e{m}", "sh", "-c", "echo o; echo e >&2; exit 3") == \
        (3, "o\n", "e\n")
    assert both(srv, "exec", "-i", "e{m}", "cat", input="piped\n") == (0, "piped\n", "")
    assert both(srv, "exec", "e{m}", "cat", input="ignored\n") == (0, "", "")
    assert both(srv, "exec", "-e", "X=1", "-w", "/tmp", "-u", "1000", "e{m}", "sh", "-c",
                "echo $X; pwd; id -u") == (0, "1\n/tmp\n1000\n", "")
    assert both(srv, "exec", "-d", "e{m}", "sh", "-c", "echo x > /tmp/d") == (0, "", "")
    assert _until(lambda: orlop(srv, "exec", "e{m}", "cat", "/tmp/d",
                                remote=True)[1] == "x\n")
    assert both(srv, "exec", "e{m}", "nonexist")[0] == 126  # dockerd 20.10 to 27
    assert both(srv, "exec", "e{m}")[0] != 0  # no command: usage error
    assert both(srv, "container", "exec", "e{m}", "true") == (0, "", "")
    assert both(srv, "stop", "-t", "0", "e{m}")[0] == 0
    code, _, err = both(srv, "exec", "e{m}", "true")
    assert code != 0 and "is not running" in err


@pytest.mark.parametrize("remote", [False, True])
def test_exec_tty_under_a_pty(srv: Server, remote: bool) -> None:
    assert orlop(srv, "run", "-d", "--name", "t{m}", "busybox", "sleep", "60",
                 remote=remote)[0] == 0
    code, out = in_pty(srv, "exec", "-t", "t{m}", "sh", "-c", "tty; exit 2",
                       remote=remote)
    assert code == 2 and re.fullmatch(rb"/dev/pts/\d+\r?\n", out.replace(b"\r\r", b"\r"))
    code, out = in_pty(srv, "exec", "-it", "t{m}", "sh", "-c",
                       "echo READY; read x; echo got:$x", remote=remote, typed=b"yo\r")
    assert code == 0 and b"got:yo" in out, out


def test_attach_matches(srv: Server) -> None:
    for remote in (False, True):
        assert orlop(srv, "run", "-d", "-i", "--name", "a{m}", "busybox", "sh", "-c",
                     "read x; echo got:$x; exit 6", remote=remote)[0] == 0
    assert both(srv, "attach", "a{m}", input="line\n") == (0 + 6, "got:line\n", "")
    code, _, err = both(srv, "attach", "a{m}")
    assert code != 0 and "You cannot attach to a stopped container" in err


def test_inspect_every_kind_matches(srv: Server) -> None:
    assert orlop(srv, "volume", "create", "iv", remote=False)[0] == 0
    assert orlop(srv, "create", "--name", "ic", "-v", "iv:/d", "busybox", "true",
                 remote=False)[0] == 0
    for argv in (["inspect", "ic"], ["inspect", "busybox"], ["inspect", "iv"],
                 ["inspect", "ic", "busybox", "iv"], ["inspect", "--type", "image", "busybox"],
                 ["inspect", "--type", "volume", "iv"], ["inspect", "-f", "{{.Name}}", "ic"],
                 ["inspect", "-f", "{{.State.Status}} {{json .Config.Cmd}}", "ic"],
                 ["inspect", "nope"], ["inspect", "ic", "nope"],
                 ["inspect", "--type", "volume", "ic"], ["container", "inspect", "ic"],
                 ["container", "inspect", "busybox"]):
        both(srv, *argv)
    assert both(srv, "inspect", "ic", "nope")[2] == "Error: No such object: nope\n"


def test_rm_matches(srv: Server) -> None:
    for remote in (False, True):
        assert orlop(srv, "run", "-d", "--name", "x{m}", "-v", "/anon", "busybox", "sleep",
                     "60", remote=remote)[0] == 0
    code, _, err = both(srv, "rm", "x{m}")
    assert code == 1 and "You cannot remove a running container" in err
    assert both(srv, "rm", "-fv", "x{m}", "nope") == (
        1, "xNAME\n", "Error: No such container: nope\n")
    assert orlop(srv, "volume", "ls", "-q", remote=False) == (0, "", "")


def test_new_run_flags_match_through_orlopd(srv: Server) -> None:
    """--isolation, --memory-swap, --memory-swappiness (their HostConfig fields), --cidfile
    (and HostConfig.ContainerIDFile) and --label-file the same with -H as locally; the
    same fields from the docker CLI 28."""
    (srv.dir / "labels").write_text("a=1\n  b=2 \nbare\n")
    flags = ("--network", "none", "--isolation", "default", "-m", "64m", "--memory-swap",
             "-1", "--label-file", "labels", "busybox", "true")
    fmt = ("{{.HostConfig.Isolation}} {{.HostConfig.MemorySwap}} {{json .Config.Labels}} "
           "{{.HostConfig.ContainerIDFile}}")
    for remote in (False, True):
        cidfile = srv.dir / f"cid-{remote}"
        code, out, err = orlop(srv, "create", "--cidfile", cidfile.name, *flags,
                               remote=remote)
        assert code == 0, err
        assert cidfile.read_text() == out.strip()
        code, out, err = orlop(srv, "inspect", "-f", fmt, cidfile.read_text(), remote=remote)
        assert out == f'default -1 {{"a":"1","b":"2 "}} {cidfile.name}\n', err
        code, out, err = orlop(srv, "create", "--memory-swappiness", "101", "busybox",
                               "true", remote=remote)
        assert code == 125 and "Valid memory swappiness range is 0-100" in err
        code, out, err = orlop(srv, "create", "--isolation", "hyperv", "busybox", "true",
                               remote=remote)
        assert code == 125 and 'Invalid isolation: "hyperv"' in err
    srv.ok("create", "--name", "dk", "--cidfile", "dkcid", *flags)
    assert srv.ok("inspect", "-f", fmt, "dk") == 'default -1 {"a":"1","b":"2 "} dkcid\n'
