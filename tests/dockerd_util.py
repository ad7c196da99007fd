"""A private dockerd for the interop tests and benches: Debian's docker.io (dockerd 20.10
with its own supervised containerd) on a temporary socket, data-root, exec-root and
pidfile, with no bridge and no iptables rules, so nothing of the host is touched.

The docker CLI used with it is whatever ``docker`` is first on PATH (the docker 28 CLI in
/usr/local/bin here; it negotiates API 1.41 with dockerd 20.10), with a private
``DOCKER_CONFIG``.  The caller stops it with :meth:`Dockerd.stop` (SIGTERM by pid, then
SIGKILL), which also unmounts whatever dockerd left under its roots and removes them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

DOCKERD = shutil.which("dockerd")


@dataclass
class Dockerd:
    base: Path
    sock: str
    proc: subprocess.Popen[bytes]

    @property
    def host(self) -> str:
        return f"unix://{self.sock}"

    def env(self) -> dict[str, str]:
        env = {**os.environ, "DOCKER_HOST": self.host, "DOCKER_CONFIG": str(self.base / "cfg")}
        env.pop("DOCKER_CONTEXT", None)
        return env

    def docker(self, *args: str, input: bytes | None = None, timeout: float = 120,
               ) -> subprocess.CompletedProcess[str]:
        docker = shutil.which("docker")
        assert docker, "the docker CLI is not installed"
        res = subprocess.run([docker, *args], input=input, capture_output=True,
                             timeout=timeout, env=self.env(), check=False)
        return subprocess.CompletedProcess(res.args, res.returncode,
                                           res.stdout.decode(errors="replace"),
                                           res.stderr.decode(errors="replace"))

    def ok(self, *args: str, input: bytes | None = None, timeout: float = 120) -> str:
        res = self.docker(*args, input=input, timeout=timeout)
        if res.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} (dockerd) exited {res.returncode}\n"
                                 f"stdout: {res.stdout}\nstderr: {res.stderr}\n"
                                 f"dockerd log tail: {self.log_tail()}")
        return res.stdout

    def log_tail(self, n: int = 4000) -> str:
        try:
            return (self.base / "dockerd.log").read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM dockerd by pid (it stops its containerd), SIGKILL after 30 s; then
        unmount and remove its roots."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        cleanup_base(self.base)


def _mounts_under(base: Path) -> list[str]:
    prefix = str(base)
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mnt = line.split()[4]
            if mnt == prefix or mnt.startswith(prefix + "/"):
                out.append(mnt)
    return out


def cleanup_base(base: Path) -> None:
    # dockerd's supervised containerd (its own process group) ends with dockerd; a
    # containerd-shim left by a crash is found by its pidfile-free socket dir only, so
    # kill processes whose cwd or argv names our base (they are ours: the base is new).
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if str(base).encode() in cmd and int(pid) != os.getpid():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
    for mnt in sorted(_mounts_under(base), key=len, reverse=True):
        subprocess.run(["umount", "-l", mnt], capture_output=True, check=False)
    shutil.rmtree(base, ignore_errors=True)


def start_dockerd(*, insecure: tuple[str, ...] = (), timeout: float = 60,
                  bridge: str = "none") -> tuple[Dockerd | None, str]:
    """Start a private dockerd; ``(Dockerd, "")`` or ``(None, why it did not start)``.
    ``bridge``: an existing bridge (with its address) for the default network, which
    dockerd then uses without firewall rules (bench/network.py); "none" by default.

    The base is a short path under /tmp: containerd's sockets live under the exec-root
    and a unix socket path has 108 bytes at most.
    """
    if DOCKERD is None:
        return None, "dockerd is not installed (apt-get install docker.io)"
    base = Path(tempfile.mkdtemp(prefix="odk", dir="/tmp"))
    sock = str(base / "d.sock")
    # containerd's namespace names: alphanumeric runs joined by single [._-], and
    # mkdtemp's suffix may hold a "_" anywhere (one at its end failed every start).
    tag = f"orloptest{os.getpid()}x" + "".join(c for c in base.name[3:] if c.isalnum())
    argv = [DOCKERD, "--data-root", str(base / "data"), "--exec-root", str(base / "x"),
            "-H", f"unix://{sock}", "--pidfile", str(base / "dockerd.pid"),
            "--iptables=false", "--ip6tables=false", f"--bridge={bridge}", "--ip-forward=false",
            "--ip-masq=false", "--userland-proxy=false",
            "--containerd-namespace", tag, "--containerd-plugins-namespace", tag + "p"]
    for reg in insecure:
        argv += ["--insecure-registry", reg]
    log = open(base / "dockerd.log", "wb")  # dockerd keeps its own descriptor
    try:
        proc = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)
    finally:
        log.close()
    d = Dockerd(base, sock, proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            why = f"dockerd exited with {proc.returncode}: {d.log_tail(1500)}"
            cleanup_base(base)
            return None, why
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(sock)
            if d.docker("version", "--format", "{{.Server.Version}}", timeout=20).returncode == 0:
                return d, ""
        except OSError:
            pass
        time.sleep(0.2)
    why = f"dockerd did not answer within {timeout:.0f} s: {d.log_tail(1500)}"
    d.stop()
    return None, why
