"""Detaching with Ctrl-P Ctrl-Q and the terminal of a local attach (issue 15).

The CLI runs with a pty as its terminal (stdin, stdout and stderr the slave, in a
session of its own); the test keeps the slave open to read its
termios flags while the CLI runs and after it ended."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness import Orlop

# Detached containers are removed before the root goes (harness.py).
pytestmark = pytest.mark.usefixtures("no_leftover_containers")


@dataclass
class PtyCli:
    """`orlop ARGS` with a fresh pty as its terminal (stdin, stdout, stderr)."""

    proc: subprocess.Popen[bytes]
    master: int
    slave: int
    out: bytearray = field(default_factory=bytearray)

    @classmethod
    def start(cls, o: Orlop, *args: str, env: dict[str, str] | None = None,
              size: tuple[int, int] = (24, 80)) -> PtyCli:
        import fcntl
        import struct

        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
        proc = subprocess.Popen(
            [sys.executable, "-m", "orlop", "--root", str(o.root), *args],
            stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
            env={**os.environ, **(env or {})}, cwd=o.cwd)
        return cls(proc, master, slave)

    def read_until(self, needle: bytes, timeout: float = 20) -> bytes:
        deadline = time.monotonic() + timeout
        while needle not in self.out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{needle!r} not seen; got {bytes(self.out)!r}")
            ready, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    data = b""
                if not data:
                    raise AssertionError(f"EOF before {needle!r}; got {bytes(self.out)!r}")
                self.out += data
        return bytes(self.out)

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait(self, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.out += os.read(self.master, 65536)
                except OSError:
                    pass
        code = self.proc.wait(timeout=1)
        # What it wrote just before exiting may still wait in the terminal (the test
        # holds the other side open: no EOF comes): read until nothing is left.
        while select.select([self.master], [], [], 0.05)[0]:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                break
            if not data:
                break
            self.out += data
        return code

    def lflag(self) -> int:
        return int(termios.tcgetattr(self.slave)[3])

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        os.close(self.slave)


def _cooked(flags: int) -> bool:
    return bool(flags & termios.ECHO) and bool(flags & termios.ICANON)


def _running(o: Orlop, name: str) -> str:
    return o.ok("inspect", "-f", "{{.State.Running}}", name).strip()


def test_attach_to_tty_container_is_raw_then_restored_and_detaches(bb: Orlop) -> None:
    """A local attach puts our terminal in raw mode (no double echo, no line editing),
    Ctrl-P Ctrl-Q detaches with the docker CLI's message and exit code, the container
    runs on, and the terminal is back in cooked mode."""
    bb.ok("run", "-dit", "--name", "tt", "busybox", "sh")
    cli = PtyCli.start(bb, "attach", "tt")
    try:
        before = cli.lflag()
        assert _cooked(before)
        deadline = time.monotonic() + 10
        while _cooked(cli.lflag()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not cli.lflag() & (termios.ECHO | termios.ICANON)
        cli.send(b"echo hel''lo\r")
        cli.read_until(b"hello")
        cli.send(b"\x10\x11")
        assert cli.wait() == 1
        assert b"read escape sequence" in cli.out
        assert cli.lflag() == before
        assert _running(bb, "tt") == "true"
        # The keys did not reach the shell, which still answers a new attach.
        again = PtyCli.start(bb, "attach", "tt")
        try:
            time.sleep(0.5)
            again.send(b"echo st''ill\r")
            again.read_until(b"still")
            again.send(b"exit\r")
            assert again.wait() == 0
            assert again.lflag() == before
        finally:
            again.close()
    finally:
        cli.close()


def test_attach_detach_keys_flag_and_config(bb: Orlop, tmp_orlop_dir: Path) -> None:
    """--detach-keys wins over the config's detachKeys, which wins over Ctrl-P Ctrl-Q;
    a bad sequence is refused with dockerd's text."""
    bb.ok("run", "-dit", "--name", "kk", "busybox", "sh")
    cfg = tmp_orlop_dir / "dockercfg"
    cfg.mkdir()
    (cfg / "config.json").write_text('{"detachKeys": "ctrl-x,x"}')
    env = {"DOCKER_CONFIG": str(cfg)}
    cli = PtyCli.start(bb, "attach", "kk", env=env)
    try:
        time.sleep(0.5)
        cli.send(b"\x10\x11")  # not the configured keys: they go to the shell
        cli.send(b"\x18x")
        assert cli.wait() == 1
        assert b"read escape sequence" in cli.out
    finally:
        cli.close()
    cli = PtyCli.start(bb, "attach", "--detach-keys", "ctrl-a", "kk", env=env)
    try:
        time.sleep(0.5)
        cli.send(b"\x01")
        assert cli.wait() == 1
    finally:
        cli.close()
    assert _running(bb, "kk") == "true"
    res = bb("attach", "--detach-keys", "ctrl-1", "kk")
    assert res.returncode == 1
    assert "Invalid detach keys (ctrl-1) provided" in res.stderr


def test_run_it_detaches_silently_and_the_container_runs_on(bb: Orlop) -> None:
    """`run -it` then Ctrl-P Ctrl-Q: exit 0 with nothing printed about it (the docker
    CLI's run), the terminal restored, the container running, its output in its log
    and its shell reachable by a new attach; `start -ai` detaches the same way."""
    cli = PtyCli.start(bb, "run", "-it", "--name", "rr", "busybox", "sh")
    try:
        before = cli.lflag()
        time.sleep(1)
        cli.send(b"echo fi''rst\r")
        cli.read_until(b"first")
        assert not cli.lflag() & (termios.ECHO | termios.ICANON)
        cli.send(b"\x10\x11")
        assert cli.wait() == 0
        assert b"escape" not in cli.out
        assert cli.lflag() == before
    finally:
        cli.close()
    assert _running(bb, "rr") == "true"
    assert "first" in bb.ok("logs", "rr")
    again = PtyCli.start(bb, "attach", "rr")
    try:
        time.sleep(0.5)
        again.send(b"exit 5\r")
        assert again.wait() == 5
    finally:
        again.close()
    assert _running(bb, "rr") == "false"
    cli = PtyCli.start(bb, "start", "-ai", "rr")
    try:
        time.sleep(1)
        cli.send(b"echo sec''ond\r")
        cli.read_until(b"second")
        cli.send(b"\x10\x11")
        assert cli.wait() == 0
    finally:
        cli.close()
    assert _running(bb, "rr") == "true"


def test_run_it_rm_exit_code_and_size(bb: Orlop) -> None:
    """`run --rm -it` under the monitor: the terminal's size reaches the container, the
    exit code is the shell's and the container is gone."""
    cli = PtyCli.start(bb, "run", "--rm", "-it", "busybox", "sh", size=(33, 99))
    try:
        time.sleep(1)
        cli.send(b"stty size; exit 7\r")
        assert cli.wait() == 7
        assert b"33 99" in cli.out
    finally:
        cli.close()
    assert bb.ok("ps", "-aq") == ""


def _exec_events(o: Orlop, since: str, name: str) -> list[str]:
    out = o.ok("events", "--since", since, "--until", str(int(time.time()) + 1),
               "--filter", f"container={name}", "--format", "{{.Action}}")
    return [a for a in out.splitlines() if a.startswith("exec_")]


def test_exec_it_detaches_and_the_exec_runs_on(bb: Orlop, tmp_orlop_dir: Path) -> None:
    """A local `exec -it`: Ctrl-P Ctrl-Q (or --detach-keys, or the config's detachKeys)
    ends the CLI as the docker CLI's exec (exit 1), its terminal restored, while the
    exec runs on; its exec_die is logged when it ends, as is one for an `exec -d`."""
    bb.ok("run", "-d", "--name", "xe", "--network", "none", "busybox", "sleep", "300")
    since = str(int(time.time()) - 1)
    cfg = tmp_orlop_dir / "dockercfg"
    cfg.mkdir()
    (cfg / "config.json").write_text('{"detachKeys": "ctrl-x,x"}')
    cases: list[tuple[list[str], dict[str, str] | None, bytes]] = [
        ([], None, b"\x10\x11"), (["--detach-keys", "ctrl-a"], None, b"\x01"),
        ([], {"DOCKER_CONFIG": str(cfg)}, b"\x18x")]
    for i, (flags, env, keys) in enumerate(cases):
        cli = PtyCli.start(bb, "exec", "-it", *flags, "xe", "sh", env=env)
        try:
            before = cli.lflag()
            time.sleep(1)
            cli.send(f"touch /tmp/m{i}; echo ma''rk{i}\r".encode())
            cli.read_until(f"mark{i}".encode())
            cli.send(keys)
            # the docker CLI's exec: moby/term's EscapeError printed, exit 1
            assert cli.wait() == 1, bytes(cli.out)
            assert b"read escape sequence" in cli.out
            assert cli.lflag() == before
        finally:
            cli.close()
    # the three shells run on: each still has its terminal
    ps = bb.ok("exec", "xe", "ps", "-o", "args")
    assert ps.splitlines().count("sh") == 3, ps
    bb.ok("exec", "-d", "xe", "sh", "-c", "exit 3")
    time.sleep(1)
    shells = bb.ok("exec", "xe", "pidof", "sh").split()
    assert len(shells) == 3, shells
    bb.ok("exec", "xe", "kill", "-9", *shells)
    time.sleep(1)
    actions = _exec_events(bb, since, "xe")
    # ps, exec -d, pidof, kill, and the three detached shells
    assert actions.count("exec_die") == 4 + 3, actions
    res = bb("exec", "-it", "--detach-keys", "ctrl-1", "xe", "sh")
    assert res.returncode != 0 and "Invalid detach keys (ctrl-1) provided" in res.stderr
    bb.ok("rm", "-f", "xe")
