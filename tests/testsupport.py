"""Helpers shared by the integration and compat suites (on sys.path through pytest's
``pythonpath = ["tests"]``): the mount table below a test's root, its cleanup, and the
busybox tarball every container test imports."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orlop.state import Database

REPO = Path(__file__).resolve().parents[1]


_CLI: list[str] = []


def orlop_cli() -> list[str]:
    """The ``orlop`` command as setup.sh installs it: orlop/launcher.py's launcher
    (python -S with site's paths, no .pth file's code), written once per test process
    into a temporary directory and removed at exit.  Every harness call runs the
    launcher users run, and pays ~15-25 ms less per call than ``python -m orlop`` here
    (a sandbox .pth imports certifi at each normal start).  ``PYTHONPATH`` still counts:
    a worktree's tests run its own sources."""
    if not _CLI:
        import atexit

        from orlop import launcher

        d = tempfile.mkdtemp(prefix="orlop-test-launcher-")
        path = os.path.join(d, "orlop")
        launcher.write(path, launcher.script())
        atexit.register(shutil.rmtree, d, True)
        _CLI.append(path)
    return list(_CLI)


def mounts_under(path: str) -> list[str]:
    """Mount points at or below ``path`` in this process's mount namespace, deepest first."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == path or mp.startswith(path.rstrip("/") + "/"):
                out.append(mp)
    return sorted(out, key=lambda p: p.count("/"), reverse=True)


def unmount_all_under(path: str) -> None:
    """Lazily unmount everything below ``path`` (a test's leftovers), deepest first."""
    for _ in range(3):
        mps = mounts_under(path)
        if not mps:
            return
        for mp in mps:
            subprocess.run(["umount", "-l", mp], check=False, capture_output=True)


@contextmanager
def dir_with_submount(host: Path) -> Iterator[Path]:
    """``host`` (created) holding ``top.txt`` and a 1 MiB tmpfs at ``host/sub`` with
    ``in-sub.txt``, mounted in this (the host's) mount namespace so that an engine in
    another process sees it; unmounted on exit (the test's root cleanup would too)."""
    (host / "sub").mkdir(parents=True)
    (host / "top.txt").write_text("top\n")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "subtmpfs", str(host / "sub")],
                   check=True)
    try:
        (host / "sub" / "in-sub.txt").write_text("sub\n")
        yield host
    finally:
        subprocess.run(["umount", "-l", str(host / "sub")], check=False)


@contextmanager
def scratch_dir(prefix: str, mode: int | None = None) -> Iterator[Path]:
    """A fresh directory in /tmp holding one test's ``root`` (``mode``: chmod'ed, for a
    server whose clients run as another user).  Afterwards the networks of ``root`` are
    released, every mount below is undone and the directory removed; a mount or network
    state left over then fails the test."""
    d = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    if mode is not None:
        os.chmod(d, mode)
    try:
        yield d
    finally:
        release_networks(d / "root")
        leftovers = network_leftovers(d / "root")
        unmount_all_under(str(d))
        shutil.rmtree(d, ignore_errors=True)
        assert not mounts_under(str(d)), f"mounts left under {d}"
        assert not leftovers, f"network state left by {d}: {leftovers}"


def add_container(db: Database, *volumes: str) -> str:
    """A fake stopped container whose mount points reference ``volumes``, as the engine
    records one (an images row is needed for the containers foreign key)."""
    cid = secrets.token_hex(32)
    with db.write() as conn:
        conn.execute("INSERT OR IGNORE INTO images (id, config, created, size) "
                     "VALUES ('sha256:test', '{}', '2026-01-01T00:00:00Z', 0)")
        conn.execute(
            "INSERT INTO containers (id, name, image_id, image_ref, created, config, "
            "host_config, status, runtime) VALUES (?, ?, 'sha256:test', 'test', "
            "'2026-01-01T00:00:00Z', '{}', '{}', 'exited', 'orlop')", (cid, f"c{cid[:12]}"))
        for i, vol in enumerate(volumes):
            conn.execute(
                "INSERT INTO mount_points (container_id, destination, position, type, "
                "volume_name, spec) VALUES (?, ?, ?, 'volume', ?, '{}')",
                (cid, f"/m{i}", i, vol))
    return cid


def until(pred: Callable[[], object], timeout: float) -> bool:
    """Poll ``pred`` every 50 ms until it is true (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def make_pki(d: Path, ca_cn: str, server_cn: str, client_cn: str) -> None:
    """In ``d``, as ``--tlsverify`` daemons and clients take them: a CA (ca.pem,
    ca-key.pem), a server certificate for 127.0.0.1 (server-cert.pem, server-key.pem) and
    a client certificate (cert.pem, key.pem), EC P-256."""
    make_ca(d, "ca", ca_cn)
    make_cert(d, "ca", "server-cert.pem", "server-key.pem", server_cn,
              "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    make_cert(d, "ca", "cert.pem", "key.pem", client_cn, "extendedKeyUsage=clientAuth\n")


def busybox_tarball() -> Path:
    """The busybox rootfs tarball built from Debian's busybox-static (cached in .cache/)."""
    out = REPO / ".cache" / "busybox.tar"
    if not out.exists():
        subprocess.run(["bash", str(REPO / "scripts" / "build-busybox.sh"), str(out)],
                       check=True)
    return out


def release_networks(root: Path) -> None:
    """Remove the containers a test left running with a network (their interfaces,
    firewall rules and DNS entries go with them), through orlop itself."""
    import os
    import sys

    stop_keeper(root)
    netns = root / "run" / "netns"
    if not netns.is_dir() or not os.listdir(netns):
        return
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    env.pop("ORLOP_ROOT", None)
    ids = subprocess.run([sys.executable, "-m", "orlop", "--root", str(root), "ps", "-aq"],
                         capture_output=True, text=True, check=False, env=env).stdout.split()
    if ids:
        subprocess.run([sys.executable, "-m", "orlop", "--root", str(root), "rm", "-f", *ids],
                       capture_output=True, check=False, env=env, timeout=120)


def keeper_pid(root: Path) -> int:
    """The pid of ``root``'s warm namespace keeper (engine/net/pool.py), 0 if none runs."""
    try:
        pid = int((root / "run" / "netpool" / "keeper.lock").read_text().split()[0])
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read()
    except (OSError, ValueError, IndexError):
        return 0
    return pid if b"keeper_main" in cmd and str(root).encode() in cmd else 0


def stop_keeper(root: Path, timeout: float = 30) -> None:
    """Stop the keeper a test started (SIGTERM: it tears down what it holds) and wait
    until it is gone with its directory."""
    import os
    import signal

    pid = keeper_pid(root)
    if pid:
        os.kill(pid, signal.SIGTERM)
        until(lambda: not os.path.exists(f"/proc/{pid}"), timeout)
    until(lambda: not (root / "run" / "netpool").exists(), 5)


def network_leftovers(root: Path) -> list[str]:
    """What the networks of ``root`` left on the host: bridges, firewall rules naming
    their subnets, aardvark-dns servers.  Interfaces and rules are host-global, so a test
    root's are found by its own bridge names and subnets (read from its database)."""
    import os
    import sqlite3
    import time

    db = root / "orlop.db"
    if not db.exists():
        return []
    # A foreground run's teardown finishes in a detached child after the CLI returned.
    netns = root / "run" / "netns"
    deadline = time.monotonic() + 10
    while netns.is_dir() and list(netns.glob("*.teardown")) and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT interface, subnet FROM networks").fetchall()
            try:  # schema 5: IPv6 subnets, whose rules are ip6tables'
                subnets6 = [r[0] for r in conn.execute(
                    "SELECT subnet6 FROM networks WHERE subnet6 != ''")]
            except sqlite3.Error:
                subnets6 = []
        finally:
            conn.close()
    except sqlite3.Error:
        return []  # no networks table: this root never had a network
    out = [f"interface {iface}" for iface, _ in rows if os.path.exists(f"/sys/class/net/{iface}")]
    if keeper_pid(root) or (root / "run" / "netpool").exists():
        out.append(f"namespace keeper {keeper_pid(root)} or its directory")
    if rows:
        rules = subprocess.run(["iptables-save"], capture_output=True, text=True,
                               check=False).stdout
        out += [f"rule {line}" for line in rules.splitlines()
                if any(subnet in line for _, subnet in rows)]
    if subnets6:
        rules = subprocess.run(["ip6tables-save"], capture_output=True, text=True,
                               check=False).stdout
        out += [f"rule {line}" for line in rules.splitlines()
                if any(subnet in line for subnet in subnets6)]
    deadline = time.monotonic() + 3  # aardvark-dns exits on its own after its last entry
    while True:
        servers = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "aardvark-dns" in cmd and str(root) in cmd:
                servers.append(f"process {pid} {cmd}")
        if not servers or time.monotonic() > deadline:
            return out + servers
        time.sleep(0.1)


# netavark's top-level chains (netavark 1.4): made by the first setup on the host, never
# removed by its teardown.  (table, chain, the rules of an idle chain, the jumps to it)
_NETAVARK_TOP = [
    ("filter", "NETAVARK_FORWARD", 0,
     [["FORWARD", "-m", "comment", "--comment", "netavark firewall plugin rules", "-j",
       "NETAVARK_FORWARD"]]),
    ("nat", "NETAVARK-HOSTPORT-DNAT", 0,
     [["PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j",
       "NETAVARK-HOSTPORT-DNAT"],
      ["OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "NETAVARK-HOSTPORT-DNAT"]]),
    ("nat", "NETAVARK-HOSTPORT-MASQ", 1, [["POSTROUTING", "-j", "NETAVARK-HOSTPORT-MASQ"]]),
    ("nat", "NETAVARK-HOSTPORT-SETMARK", 1, []),
]


def netavark_top_chains() -> set[str]:
    """The netavark top-level chains present on the host, as ``iptables:CHAIN`` and
    ``ip6tables:CHAIN`` (an IPv6 network makes them in ip6tables too)."""
    out: set[str] = set()
    for cmd in ("iptables", "ip6tables"):
        for table in ("filter", "nat"):
            res = subprocess.run([cmd, "-w", "-t", table, "-S"], capture_output=True,
                                 text=True, check=False)
            out |= {f"{cmd}:{ln.split()[1]}" for ln in res.stdout.splitlines()
                    if ln.startswith("-N NETAVARK") and ln.split()[1] in
                    {c for _t, c, _n, _j in _NETAVARK_TOP}}
    return out


def remove_idle_netavark_chains(keep: set[str]) -> None:
    """Remove netavark's top-level chains that the tests made (not in ``keep``, the
    ones present before them) once no network on the host uses them: no per-network
    ``NETAVARK-<hash>`` chain is left (another root's or Podman's live network keeps
    them all) and each holds only its fixed rules.  IPv4 and IPv6 alike."""
    for cmd in ("iptables", "ip6tables"):
        if shutil.which(cmd):
            _remove_idle_chains(cmd, keep)


def _remove_idle_chains(cmd: str, keep: set[str]) -> None:
    nat = subprocess.run([cmd, "-w", "-t", "nat", "-S"], capture_output=True,
                         text=True, check=False).stdout.splitlines()
    top = {c for _t, c, _n, _j in _NETAVARK_TOP}
    if any(ln.startswith("-N NETAVARK") and ln.split()[1] not in top for ln in nat):
        return
    for table, chain, fixed, jumps in _NETAVARK_TOP:
        if f"{cmd}:{chain}" in keep:
            continue
        rules = subprocess.run([cmd, "-w", "-t", table, "-S", chain],
                               capture_output=True, text=True, check=False)
        if rules.returncode != 0 or len(rules.stdout.splitlines()) - 1 > fixed:
            continue
        for jump in jumps:
            subprocess.run([cmd, "-w", "-t", table, "-D", *jump],
                           capture_output=True, check=False)
        subprocess.run([cmd, "-w", "-t", table, "-F", chain], capture_output=True,
                       check=False)
        subprocess.run([cmd, "-w", "-t", table, "-X", chain], capture_output=True,
                       check=False)


def _openssl(cwd: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d: Path, name: str, cn: str) -> None:
    """A self-signed CA: ``NAME.pem`` and ``NAME-key.pem`` in ``d`` (openssl CLI)."""
    _openssl(d, "ecparam", "-name", "prime256v1", "-genkey", "-noout",
             "-out", f"{name}-key.pem")
    _openssl(d, "req", "-x509", "-new", "-key", f"{name}-key.pem", "-sha256", "-days", "2",
             "-subj", f"/CN={cn}", "-out", f"{name}.pem")


def make_cert(d: Path, ca: str, out: str, key: str, cn: str, ext: str) -> None:
    """A certificate ``out`` with key ``key`` signed by the CA ``ca``; ``ext`` holds its
    X.509 extensions (openssl's extfile syntax)."""
    _openssl(d, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
    _openssl(d, "req", "-new", "-key", key, "-subj", f"/CN={cn}", "-out", f"{out}.csr")
    (d / f"{out}.ext").write_text(ext)
    _openssl(d, "x509", "-req", "-in", f"{out}.csr", "-CA", f"{ca}.pem", "-CAkey",
             f"{ca}-key.pem", "-CAcreateserial", "-days", "2", "-sha256", "-extfile",
             f"{out}.ext", "-out", out)


def run_on_pty(argv: list[str], env: dict[str, str], cwd: Path,
               timeout: float = 60) -> tuple[int, bytes]:
    """``argv`` with stdout and stderr a pty (stdin /dev/null), as a user's terminal
    would see it: (exit code, everything it wrote)."""
    import os
    import pty
    import select
    import time

    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                            start_new_session=True, env=env, cwd=cwd)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the slave's last holder exited
                    data = b""
                if not data:
                    break
                out += data
            elif proc.poll() is not None:
                break
        return proc.wait(timeout=10), bytes(out)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


# What a CLI verb imports, as the installed `orlop` starts it (orlop/launcher.py: -S,
# then site's paths without the .pth files' code): the modules its main() adds.
_IMPORT_PROBE = r"""
import os, sys
before = set(sys.modules) | {"site", "_sitebuiltins", "orlop.launcher"}
from orlop.launcher import add_site_paths
add_site_paths()
from orlop.cli.main import main
out = os.dup(1)
os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
try:
    code = main(sys.argv[1:])
except SystemExit as e:
    code = e.code
sys.stdout.flush()
os.dup2(out, 1)
modules = sorted(set(sys.modules) - before)
import json  # only now: whether the verb imported json is part of what is measured
print(json.dumps({"code": code, "modules": modules}))
"""


def import_probe(root: Path, *argv: str) -> tuple[int, list[str]]:
    """(exit code, modules imported after start-up) of ``orlop --root ROOT ARGV...``."""
    import json
    import sys

    src = Path(__file__).resolve().parents[1] / "src"
    env = {**os.environ, "PYTHONPATH": str(src)}
    for var in ("ORLOP_HOST", "DOCKER_HOST", "DOCKER_TLS_VERIFY"):
        env.pop(var, None)
    res = subprocess.run([sys.executable, "-S", "-c", _IMPORT_PROBE, "--root", str(root),
                          "--run-root", str(root / "run"), *argv], env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    return int(out["code"]), list(out["modules"])
