#!/usr/bin/env python3
"""Issue 17's table in one command: each row timed paired with its peer, in one run.

    python3 bench/compare.py [--runs 15] [--volumes 10000] [--size-mib 256] [--files 4000]
                             [--src PATH] [--only ROW,...]

Peers are set up when found: a private dockerd (Debian's docker.io; tests/dockerd_util.py:
temporary socket, data-root and exec-root, ``--bridge=none --iptables=false``) driven by the
docker CLI, Podman with private ``--root``/``--runroot`` (its ``crun`` refuses this hybrid
cgroup host, so each podman command runs in a private mount namespace without
``/sys/fs/cgroup/unified``: ``unshare -m``, ~2 ms, counted against Podman), and GNU tar.
Busybox is imported into each from the project's tarball (``.cache/busybox.tar``); all
containers run with ``--network none`` so that nothing of the host's network is touched.

Method: for each row the commands (Orlop's and its peers') are run alternately, ``--runs``
times after 2 warm-ups, the order rotated each round, so that every command sees the same
machine; the figure is the median wall time of the whole command (wait4).  Orlop runs as
the ``orlop`` command scripts/setup.sh installs (orlop/launcher.py: the interpreter with
``-S`` and site-packages on its path, no .pth code), written for ``--src`` into the bench's
directory and run with ``PYTHONPATH=--src`` (bytecode compiled first); ``--before`` sources
run the same way when they have the launcher (orlop/launcher.py, since the third pass),
else as ``python3 -m orlop`` (a normal start, as pip's console script had it), so a
checkout of an older commit can be measured as "before" (the docker CLI row then talks to
a second orlopd started from them, with a root of its own).  The pyenv shim a PATH may put
in front of ``orlop`` is measured apart (on the interpreter's floor).  The load average is
printed at the start and at the end: on a shared machine, only the ratios are comparable
between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests"))
from backup import fill  # noqa: E402
from common import UnixConn, busybox_tar, stop_process  # noqa: E402

from dockerd_util import Dockerd, start_dockerd  # noqa: E402

PODMAN = shutil.which("podman")
DOCKER = shutil.which("docker")
TAR = shutil.which("tar")


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def wall(argv: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one command; raises when it fails."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    err = proc.stderr.read() if proc.stderr else b""
    if proc.stderr:
        proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: "
                           f"{err.decode(errors='replace')[-500:]}")
    return elapsed, usage.ru_maxrss


@dataclass
class Contender:
    """One command of a row: ``before`` (untimed set-up) then the timed command."""
    name: str
    argv: Callable[[int], Sequence[str]]
    env: dict[str, str] | None = None
    before: Callable[[int], None] | None = None
    samples: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)


def paired(contenders: list[Contender], runs: int, warmup: int = 2) -> None:
    """Run the contenders alternately (order rotated each round); failures drop one."""
    live = list(contenders)
    for i in range(runs + warmup):
        order = live[i % len(live):] + live[:i % len(live)]
        for c in order:
            try:
                if c.before:
                    c.before(i)
                t, rss = wall(c.argv(i), c.env)
            except RuntimeError as e:
                print(f"  {c.name}: failed, dropped: {str(e).splitlines()[0][:300]}",
                      flush=True)
                live.remove(c)
                continue
            if i >= warmup:
                c.samples.append(t)
                c.rss.append(rss)
        if not live:
            return


def med(c: Contender) -> float | None:
    return statistics.median(c.samples) if c.samples else None


@dataclass
class Row:
    command: str
    ours: Contender
    peers: list[Contender]
    unit: str = "ms"


ROWS: list[Row] = []


def show(row: Row) -> None:
    ours = med(row.ours)
    scale = 1000 if row.unit == "ms" else 1

    def fmt(v: float | None) -> str:
        return "n/a" if v is None else (f"{v * scale:.0f} ms" if row.unit == "ms"
                                        else f"{v:.2f} s")
    peers = ", ".join(f"{p.name} {fmt(med(p))}" for p in row.peers) or ""
    ratios = ", ".join(f"{ours / m:.2f}x {p.name}" for p in row.peers
                       if ours is not None and (m := med(p)))
    print(f"| `{row.command}` | {fmt(ours)} | {peers} | {ratios} |", flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace, base: Path) -> None:
        self.args = args
        self.base = base
        self.env = {**os.environ, "PYTHONPATH": str(Path(args.src).resolve())}
        self.before_env = {**self.env, "PYTHONPATH": str(Path(args.before or ".").resolve())}
        self.env.pop("ORLOP_HOST", None)
        self.env.pop("DOCKER_HOST", None)
        self.root = base / "root"
        opts = ["--root", str(self.root), "--run-root", str(base / "run")]
        # What a user types: the launcher setup.sh installs, here for --src (setup()).
        self.launcher = base / "bin" / "orlop"
        self.orlop = [str(self.launcher), *opts]
        self.python_m = [sys.executable, "-m", "orlop", *opts]
        # "before": its own launcher when its sources have one (setup()), else python -m.
        self.before_launcher = base / "bin-before" / "orlop"
        self.before_cmd = self.python_m
        self.dockerd: Dockerd | None = None
        self.podman: list[str] | None = None
        self.orlopd: subprocess.Popen[bytes] | None = None
        self.orlopd_sock = str(base / "orlopd.sock")
        # With --before: a second orlopd from those sources (own root and socket).
        self.orlopd_before: subprocess.Popen[bytes] | None = None
        self.orlopd_before_sock = str(base / "orlopd-before.sock")

    # -- set-up ------------------------------------------------------------------------
    def setup(self) -> None:
        for src in filter(None, (self.args.src, self.args.before)):
            subprocess.run([sys.executable, "-m", "compileall", "-q", src], check=False,
                           capture_output=True)
        # ... and the module cache, as scripts/setup.sh writes it (sources that have one)
        for src, env in ((self.args.src, self.env),
                         (self.args.before, self.before_env)):
            if src and (Path(src) / "orlop" / "modcachebuild.py").exists():
                subprocess.run([sys.executable, "-m", "orlop.modcachebuild"], env=env,
                               check=True, stdout=subprocess.DEVNULL)
        self.launcher.parent.mkdir()
        subprocess.run([sys.executable, "-m", "orlop.launcher", "-o", str(self.launcher)],
                       env=self.env, check=True, stdout=subprocess.DEVNULL)
        if self.args.before and (Path(self.args.before) / "orlop" / "launcher.py").exists():
            self.before_launcher.parent.mkdir()
            subprocess.run([sys.executable, "-m", "orlop.launcher", "-o",
                            str(self.before_launcher)], env=self.before_env, check=True,
                           stdout=subprocess.DEVNULL)
            self.before_cmd = [str(self.before_launcher), *self.orlop[1:]]
        if self.args.before:
            how = "its launcher" if self.before_cmd is not self.python_m else "python3 -m orlop"
            print(f"before: {self.args.before}, run by {how}", flush=True)
        tar = str(busybox_tar())
        self.o("import", tar, "busybox")
        if DOCKER and self.want_dockerd():
            d, why = start_dockerd()
            if d is None:
                print(f"dockerd: not measured ({why.splitlines()[0][:200]})")
            else:
                self.dockerd = d
                d.ok("import", tar, "busybox")
        if PODMAN:
            pb = self.base / "podman"
            self.podman = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                           "umount -l /sys/fs/cgroup/unified 2>/dev/null; exec \"$@\"", "sh",
                           PODMAN, "--root", str(pb / "r"), "--runroot", str(pb / "rr"),
                           "--storage-driver", "overlay", "--cgroup-manager", "cgroupfs",
                           "--events-backend", "none", "--network-config-dir",
                           str(pb / "net")]
            try:
                wall([*self.podman, "import", tar, "busybox"])
            except RuntimeError as e:
                print(f"podman: not measured ({e})")
                self.podman = None

    def want_dockerd(self) -> bool:
        return True

    def o(self, *args: str) -> str:
        return subprocess.run([*self.orlop, *args], env=self.env, check=True,
                              capture_output=True, text=True).stdout

    def start_orlopd(self) -> bool:
        self.orlopd = self._orlopd(self.orlopd_sock, "d", self.env)
        if self.orlopd is None:
            return False
        if self.args.before:
            self.orlopd_before = self._orlopd(self.orlopd_before_sock, "dbefore",
                                              self.before_env)
        return True

    def _orlopd(self, sock: str, name: str, env: dict[str, str]
                ) -> subprocess.Popen[bytes] | None:
        """An orlopd of ``env``'s sources on ``sock`` (root ``<name>root``, run root
        ``<name>run``), with busybox imported; None if it did not come up."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "orlop.server.main", "-H", f"unix://{sock}",
             "--root", str(self.base / f"{name}root"), "--run-root",
             str(self.base / f"{name}run"), "--log-level", "warning"], env=env)
        for _ in range(400):
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(sock)
                break
            except OSError:
                time.sleep(0.05)
        else:
            stop_process(proc)
            return None
        c = UnixConn(sock)
        with open(busybox_tar(), "rb") as f:
            c.request("POST", "/v1.41/images/create?fromSrc=-&repo=busybox&tag=latest",
                      body=f.read(), headers={"Content-Type": "application/x-tar"})
            r = c.getresponse()
            r.read()
        c.close()
        if r.status != 200:
            stop_process(proc)
            return None
        return proc

    def close(self) -> None:
        for proc in (self.orlopd, self.orlopd_before):
            if proc is not None:
                stop_process(proc)
        for args in (["rm", "-f", "bex"],):
            subprocess.run([*self.orlop, *args], env=self.env, capture_output=True,
                           check=False)
        if self.podman:
            res = subprocess.run([*self.podman, "rm", "-f", "-t", "0", "bex"],
                                 capture_output=True, check=False)
            if res.returncode != 0 and b"no such container" not in res.stderr:
                # Its conmon and `sleep 3600` would outlive the removed roots: say so.
                print(f"podman rm bex failed: {res.stderr.decode(errors='replace')[:300]}")
            subprocess.run([*self.podman, "system", "reset", "-f"], capture_output=True,
                           check=False)
        if self.dockerd is not None:
            self.dockerd.stop()

    # -- peers -------------------------------------------------------------------------
    def docker_c(self, name: str, args: Callable[[int], Sequence[str]]) -> list[Contender]:
        if self.dockerd is None or DOCKER is None:
            return []
        d = DOCKER
        return [Contender(name, lambda i: [d, *args(i)], self.dockerd.env())]

    def podman_c(self, args: Callable[[int], Sequence[str]]) -> list[Contender]:
        if self.podman is None:
            return []
        p = self.podman
        return [Contender("Podman", lambda i: [*p, *args(i)])]

    def ours(self, args: Callable[[int], Sequence[str]]) -> Contender:
        o = self.orlop
        return Contender("Orlop", lambda i: [*o, *args(i)], self.env)

    def row(self, command: str, ours: Contender, peers: list[Contender],
            unit: str = "ms", runs: int | None = None,
            before_args: Callable[[int], Sequence[str]] | None = None) -> Row:
        if not self.selected(command):
            return Row(command, ours, peers, unit)
        if self.args.before and ours.env is self.env:
            # The same command from the older sources, in the same rounds: "before", by
            # their launcher, or as `python3 -m orlop` (the console script's start before
            # there was one).  ``before_args``: its own arguments where the same ones
            # would find ours' work done (a volume of that name already made).
            n, argv = len(self.orlop), ours.argv
            args = before_args or (lambda i: argv(i)[n:])
            peers = [Contender("before", lambda i: [*self.before_cmd, *args(i)],
                               self.before_env, ours.before), *peers]
        paired([ours, *peers], runs or self.args.runs)
        r = Row(command, ours, peers, unit)
        ROWS.append(r)
        show(r)
        return r

    def selected(self, command: str) -> bool:
        only = self.args.only
        return not only or any(w in command for w in only.split(","))

    # -- rows --------------------------------------------------------------------------
    def run_rows(self) -> None:
        run = ["run", "--rm", "--network", "none", "busybox", "true"]
        prun = ["run", "--rm", "--network", "none", "--ulimit", "nofile=1024:1024",
                "--ulimit", "nproc=1024:1024", "busybox", "true"]
        self.row("run --rm busybox true", self.ours(lambda i: run),
                 self.podman_c(lambda i: prun)
                 + self.docker_c("Docker", lambda i: [*run[:1], "--pull", "never",
                                                      *run[1:]]))
        py = sys.executable
        floor = [Contender("python3 -S", lambda i: [py, "-S", "-c", "pass"]),
                 Contender("python3 -I -S", lambda i: [py, "-I", "-S", "-c", "pass"])]
        shim = pyenv_shim()
        if shim:
            # What a pyenv shim in front of a command costs (`orlop` too, if PATH has one).
            floor.append(Contender("pyenv shim python3 -S",
                                   lambda i: [shim, "-S", "-c", "pass"]))
        self.row("python3 -c pass (the interpreter's floor)",
                 Contender("python3", lambda i: [py, "-c", "pass"]), floor)
        pm = self.python_m
        self.row("orlop --help", self.ours(lambda i: ["--help"]),
                 [Contender("python3 -m orlop", lambda i: [*pm, "--help"], self.env)]
                 + ([Contender("docker --help", lambda i: [DOCKER, "--help"])]
                    if DOCKER else []))

        if DOCKER and self.selected("docker CLI -> orlopd run --rm") and self.start_orlopd():
            d = DOCKER
            dr = ["run", "--pull", "never", "--rm", "--network", "none", "busybox", "true"]
            env = {**os.environ, "DOCKER_HOST": f"unix://{self.orlopd_sock}",
                   "DOCKER_CONFIG": str(self.base / "dcfg")}
            before = []
            if self.orlopd_before is not None:  # the same CLI against the older orlopd
                benv = {**env, "DOCKER_HOST": f"unix://{self.orlopd_before_sock}"}
                before = [Contender("before", lambda i: [d, *dr], benv)]
            self.row("docker CLI -> orlopd run --rm", Contender("Orlop", lambda i: [d, *dr],
                                                                env),
                     before + self.docker_c("dockerd", lambda i: dr))

        if self.selected("exec CTR true"):
            self.o("run", "-d", "--name", "bex", "--network", "none", "busybox", "sleep",
                   "3600")
            peers = []
            if self.dockerd:
                self.dockerd.ok("run", "-d", "--name", "bex", "--network", "none", "busybox",
                                "sleep", "3600")
                peers += self.docker_c("docker exec", lambda i: ["exec", "bex", "true"])
            if self.podman:
                try:
                    wall([*self.podman, "run", "-d", "--name", "bex", "--network", "none",
                          "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
                          "busybox", "sleep", "3600"])
                    peers += self.podman_c(lambda i: ["exec", "bex", "true"])
                except RuntimeError as e:
                    print(f"podman run -d: {e}")
            self.row("exec CTR true", self.ours(lambda i: ["exec", "bex", "true"]), peers)

        # Every contender makes a new volume each time (the before's names are its own:
        # a create of an existing name returns at once, as Docker's does).
        self.row("volume create", self.ours(lambda i: ["volume", "create", f"c{i:04d}"]),
                 self.docker_c("Docker", lambda i: ["volume", "create", f"c{i:04d}"])
                 + self.podman_c(lambda i: ["volume", "create", f"c{i:04d}"]),
                 before_args=lambda i: ["volume", "create", f"b{i:04d}"])

        n = self.args.volumes
        if self.selected("volume ls"):
            self.populate(n)
            self.row(f"volume ls, {n:,} volumes", self.ours(lambda i: ["volume", "ls"]),
                     self.docker_c("Docker", lambda i: ["volume", "ls"]))
            self.row(f"volume inspect, {n:,} volumes",
                     self.ours(lambda i: ["volume", "inspect", f"v{n // 2:05d}"]),
                     self.docker_c("Docker", lambda i: ["volume", "inspect", f"v{n // 2:05d}"]))

        if self.selected("volume export"):
            self.backup_rows()
        if self.selected("memory"):
            self.memory()

    def populate(self, n: int) -> None:
        """``n`` volumes in each engine: Orlop's through its own service in one process,
        dockerd's through its API (one request each)."""
        code = ("import sys\nfrom orlop.config import EngineConfig\n"
                "from orlop.engine import Engine\n"
                "e = Engine(EngineConfig.from_env(sys.argv[1], sys.argv[2]))\n"
                "for i in range(int(sys.argv[3])): e.volumes.create(f'v{i:05d}')\n"
                "e.close()\n")
        # The same run root as the CLI's: with another, the reconciliation would take
        # the exec row's running container for one whose monitor died.
        subprocess.run([sys.executable, "-c", code, str(self.root), str(self.base / "run"),
                        str(n)], env=self.env, check=True)
        if self.dockerd:
            c = UnixConn(self.dockerd.sock)
            for i in range(n):
                c.request("POST", "/v1.41/volumes/create", body=json.dumps(
                    {"Name": f"v{i:05d}"}).encode(),
                    headers={"Content-Type": "application/json"})
                r = c.getresponse()
                r.read()
                assert r.status == 201, r.status
            c.close()

    def backup_rows(self) -> None:
        if TAR is None:
            return
        a = self.args
        self.o("volume", "create", "bsrc")
        data = self.root / "volumes" / "bsrc" / "_data"
        fill(data, a.size_mib << 20, a.files)
        os.sync()
        out_o, out_t = self.base / "o.tar", self.base / "g.tar"
        tar = TAR
        self.row(f"volume export, {a.size_mib} MiB in {a.files:,} files",
                 self.ours(lambda i: ["volume", "export", "bsrc", "-o", str(out_o)]),
                 [Contender("tar cf", lambda i: [tar, "cf", str(out_t), "-C", str(data),
                                                  "."])], unit="s", runs=a.backup_runs)
        dest = self.base / "gx"

        def fresh_dir(i: int) -> None:
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir()
            os.sync()

        def drop(i: int) -> None:
            subprocess.run([*self.orlop, "volume", "rm", "-f", "bnew"], env=self.env,
                           capture_output=True, check=False)
            os.sync()
        ours = self.ours(lambda i: ["volume", "import", "bnew", str(out_o)])
        ours.before = drop
        self.row("volume import of that archive", ours,
                 [Contender("tar xf", lambda i: [tar, "xf", str(out_t), "-C", str(dest)],
                            before=fresh_dir),
                  Contender("tar xf + sync", lambda i: [
                      "sh", "-c", f"{tar} xf {out_t} -C {dest} && sync -f {dest}"],
                      before=fresh_dir)],
                 unit="s", runs=a.backup_runs)

    def memory(self) -> None:
        """Peak RSS of the CLI (from the run row), an idle monitor, an idle orlopd."""
        print("\nmemory:")
        for r in ROWS:
            if r.command.startswith("run --rm") and r.ours.rss:
                print(f"  CLI `run --rm` peak RSS: {statistics.median(r.ours.rss) / 1024:.1f}"
                      " MB (median)")
            if r.command.startswith("volume ls") and r.ours.rss:
                print(f"  CLI `{r.command}` peak RSS: "
                      f"{statistics.median(r.ours.rss) / 1024:.1f} MB")
        try:
            pid, status = self.o("inspect", "-f", "{{.State.Pid}} {{.State.Status}}", "bex").split()
            print(f"  container bex: {status}, pid {pid}")
            ppid = re.search(r"PPid:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
            if ppid:
                print(f"  idle monitor (pid {ppid[1]}) RSS: {rss_mb(int(ppid[1])):.1f} MB")
        except (subprocess.CalledProcessError, OSError) as e:
            print(f"  idle monitor: not measured ({e})")
        if self.orlopd is not None:
            time.sleep(1)
            print(f"  idle orlopd RSS: {rss_mb(self.orlopd.pid):.1f} MB")
        if self.dockerd is not None:
            print(f"  idle dockerd RSS (peer): {rss_mb(self.dockerd.proc.pid):.1f} MB")


def pyenv_shim() -> str | None:
    """A pyenv shim for ``python3`` on PATH (a bash script running ``pyenv exec``), past
    the versions' directory that ``pyenv exec`` put in front of it to run this script."""
    for d in os.environ.get("PATH", "").split(os.pathsep):
        try:
            with open(os.path.join(d, "python3"), "rb") as f:
                head = f.read(4096)
                if head.startswith(b"#!") and b"pyenv" in head:
                    return os.path.join(d, "python3")
        except OSError:
            continue
    return None


def rss_mb(pid: int) -> float:
    m = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    return int(m[1]) / 1024 if m else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--backup-runs", type=int, default=5)
    ap.add_argument("--volumes", type=int, default=10000)
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--files", type=int, default=4000)
    ap.add_argument("--src", default=str(REPO / "src"),
                    help="the orlop sources to measure (e.g. a checkout of an older commit)")
    ap.add_argument("--before", default="",
                    help="older sources (e.g. `git archive` of main's src) run as a peer "
                         "named 'before' in every Orlop row")
    ap.add_argument("--only", default="", help="comma-separated substrings of row names")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="orlop-cmp-", dir="/var/tmp"))
    bench = Bench(args, base)
    print(f"load average at start: {load()}; orlop from {args.src}", flush=True)
    print("| command | Orlop | peers | ratio |\n|---|---|---|---|", flush=True)
    try:
        bench.setup()
        bench.run_rows()
    finally:
        bench.close()
        subprocess.run(["sh", "-c", f"grep -o ' {base}[^ ]*' /proc/self/mountinfo | sort -r "
                        "| xargs -r -n1 umount -l"], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
        print(f"load average at end: {load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
