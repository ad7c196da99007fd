"""The README's "Using it" block, run as written, line by line, on a private root.

Only what would touch the host is changed: orlopd's socket and the two TCP ports move to
this test's directory and to free ports, `$ORLOP_ROOT` and `$HOME` (for
~/.docker/{ca,cert,key}.pem) point into it, and `orlop`/`orlopd` are this checkout's. A
line ending in `&` is started in the background and waited for (its sockets and ports,
or the address it prints); every other line must exit 0. A few lines' output is checked
too, so the block is not only runnable but says what it shows.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import Orlop
from testsupport import make_pki

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("no_leftover_containers")]

README = Path(__file__).resolve().parents[2] / "README.md"
_BACKGROUND = re.compile(r"(?<!&)&\s*(#.*)?$")

# Output a line must show (a substring of its stdout), keyed by a piece of the line.
EXPECTED = {
    "busybox cat /data/f": "hi\n",
    "curl -fsS": "hello\n",
    "docker volume ls": "restored",
    "run --rm busybox echo hi": "hi\n",
    "--tlsverify volume ls": "restored",
    "snapshot ls data": "before",
}


def readme_lines() -> list[str]:
    """The shell lines of the block under "## Using it", continuations joined."""
    text = README.read_text()
    block = text.split("## Using it", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    lines: list[str] = []
    pending = ""
    for raw in block.splitlines():
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        lines.append(pending + raw)
        pending = ""
    return [line for line in lines if line.strip()]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bin(d: Path) -> Path:
    """`orlop` and `orlopd` of this checkout (the interpreter running the tests); `orlop`
    runs the launcher scripts/setup.sh installs (orlop/launcher.py: python3 -S)."""
    src = str(Path(__file__).resolve().parents[2] / "src")
    d.mkdir()
    launcher = d / ".orlop-launcher"
    subprocess.run([sys.executable, "-m", "orlop.launcher", "-o", str(launcher)], check=True,
                   env={**os.environ, "PYTHONPATH": src}, stdout=subprocess.DEVNULL)
    for name, run in (("orlop", str(launcher)),
                      ("orlopd", f"{sys.executable} -m orlop.server.main")):
        p = d / name
        p.write_text(f'#!/bin/sh\nPYTHONPATH={src}${{PYTHONPATH:+:$PYTHONPATH}} '
                     f'exec {run} "$@"\n')
        p.chmod(0o755)
    return d


def _certs(work: Path, home: Path) -> None:
    """What the block's TLS lines read: the server's files in the working directory,
    the client's in ~/.docker (the docker CLI's place, which orlop reads too)."""
    make_pki(work, "readme-ca", "orlopd", "readme-client")
    dot = home / ".docker"
    dot.mkdir(parents=True)
    for name in ("ca.pem", "cert.pem", "key.pem"):
        shutil.copy(work / name, dot / name)


def _wait_for(line: str, proc: subprocess.Popen[str], deadline: float) -> None:
    """A daemon line: until its unix sockets exist and its TCP ports answer."""
    socks = re.findall(r"unix://(\S+)", line)
    ports = [int(p) for p in re.findall(r"tcp://127\.0\.0\.1:(\d+)", line)]
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"{line!r} exited {proc.returncode}"
        ready = all(os.path.exists(s) for s in socks)
        for port in ports:
            with socket.socket() as s:
                ready = ready and s.connect_ex(("127.0.0.1", port)) == 0
        if ready:
            return
        time.sleep(0.1)
    raise AssertionError(f"{line!r} did not come up")


def _dashboard_address(line: str, proc: subprocess.Popen[str], deadline: float) -> str:
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            return proc.stdout.readline().strip()
        assert proc.poll() is None, f"{line!r} exited {proc.returncode}"
    raise AssertionError(f"{line!r} printed no address")


@pytest.fixture
def background() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in reversed(procs):  # ours, by pid
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_readme_block_runs_as_written(orlop: Orlop, busybox_tar: Path,
                                      background: list[subprocess.Popen[str]]) -> None:
    base = orlop.root.parent
    work, home = orlop.cwd, base / "home"
    (work / ".cache").mkdir()
    shutil.copy(busybox_tar, work / ".cache" / "busybox.tar")
    _certs(work, home)
    sock, api_port, web_port = base / "orlop.sock", _free_port(), _free_port()
    env = {**os.environ, "ORLOP_ROOT": str(orlop.root), "HOME": str(home),
           "PATH": f"{_bin(base / 'bin')}:{os.environ['PATH']}"}
    for key in ("ORLOP_HOST", "DOCKER_HOST", "ORLOP_RUN_ROOT", "DOCKER_CERT_PATH"):
        env.pop(key, None)
    lines = readme_lines()
    assert len(lines) > 15, lines
    seen: set[str] = set()
    for line in lines:
        line = (line.replace("/run/orlop/orlop.sock", str(sock))
                .replace("127.0.0.1:2376", f"127.0.0.1:{api_port}")
                .replace("127.0.0.1:8080", f"127.0.0.1:{web_port}"))
        bg = _BACKGROUND.search(line)
        if bg:
            proc = subprocess.Popen(["bash", "-c", "exec " + line[:bg.start()]], cwd=work,
                                    env=env, stdout=subprocess.PIPE, text=True)
            background.append(proc)
            deadline = time.monotonic() + 60
            if " dashboard" in line:
                address = _dashboard_address(line, proc, deadline)
                assert address.startswith("http://127.0.0.1:"), address
                # the token in the address becomes a cookie on the first visit
                browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
                with browser.open(address, timeout=30) as resp:
                    assert resp.status == 200 and b"restored" in resp.read()
            else:
                _wait_for(line, proc, deadline)
            continue
        res = subprocess.run(["bash", "-c", line], check=False, cwd=work, env=env,
                             capture_output=True,
                             text=True, timeout=300)
        assert res.returncode == 0, (line, res.stdout, res.stderr)
        for key, want in EXPECTED.items():
            if key in line:
                assert want in res.stdout, (line, res.stdout, res.stderr)
                seen.add(key)
    assert seen == set(EXPECTED), set(EXPECTED) - seen
