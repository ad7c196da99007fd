#!/usr/bin/env python3
"""What mutual TLS costs orlopd: `name: value unit` lines, unix socket vs TCP+TLS.

    api_ping_rps_{unix,tls}:            GET /_ping, keep-alive clients
    api_volumes_list_rps_{unix,tls}:    GET /volumes with --volumes volumes, keep-alive
    api_ping_new_conn_rps_{unix,tls}:   GET /_ping on a new connection each time (what
                                        orlop's client does: one connection per call, so
                                        a TLS handshake per request)

One fresh orlopd (temporary root) serves its unix socket and tcp://127.0.0.1:<free port>
with --tlsverify; the CA, server and client certificates (EC P-256) are made with the
openssl CLI in a temporary directory.  The TLS figure is printed with its ratio to the
unix one from the same run.  Only loopback is used.

    python3 bench/tls.py [--seconds 3] [--clients 4] [--volumes 100]
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import UnixConn, run_threads, stop_process, wait_for_socket

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from testsupport import make_pki

Connect = Callable[[], http.client.HTTPConnection]


def make_certs(d: Path) -> None:
    make_pki(d, "bench-ca", "orlopd", "bench-client")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_orlopd(base: Path, port: int) -> tuple[subprocess.Popen[bytes], str]:
    sock = str(base / "orlopd.sock")
    log = open(base / "orlopd.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "orlop.server.main", "-H", f"unix://{sock}",
         "-H", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", str(base / "ca.pem"),
         "--tlscert", str(base / "server-cert.pem"), "--tlskey", str(base / "server-key.pem"),
         "--root", str(base / "root"), "--log-level", "warning"], stdout=log, stderr=log)
    log.close()
    wait_for_socket(proc, sock, base / "orlopd.log")
    return proc, sock


def get(c: http.client.HTTPConnection, path: str) -> None:
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status


def rps(connect: Connect, path: str, seconds: float, clients: int,
        new_conn: bool) -> float:
    """Requests per second over ``clients`` threads for ``seconds``."""
    counts: list[int] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker() -> None:
        n = 0
        c = connect()
        while time.monotonic() < stop_at:
            if new_conn:
                c = connect()
            get(c, path)
            if new_conn:
                c.close()
            n += 1
        c.close()
        with lock:
            counts.append(n)

    for _ in range(2):  # warm up: imports, first handshake
        c = connect()
        get(c, path)
        c.close()
    elapsed = run_threads(worker, clients)
    return sum(counts) / elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--volumes", type=int, default=100)
    args = ap.parse_args()
    if shutil.which("openssl") is None:
        raise SystemExit("bench/tls.py needs the openssl CLI")
    base = Path(tempfile.mkdtemp(prefix="orlop-bench-tls-", dir="/tmp"))
    base.chmod(0o755)
    proc = None
    try:
        make_certs(base)
        port = free_port()
        proc, sock = start_orlopd(base, port)
        ctx = ssl.create_default_context(cafile=str(base / "ca.pem"))
        ctx.load_cert_chain(str(base / "cert.pem"), str(base / "key.pem"))
        connects: dict[str, Connect] = {
            "unix": lambda: UnixConn(sock),
            "tls": lambda: http.client.HTTPSConnection("127.0.0.1", port, context=ctx,
                                                       timeout=60),
        }
        c = UnixConn(sock)
        for i in range(args.volumes):
            c.request("POST", "/volumes/create", body=json.dumps({"Name": f"b{i:05d}"}),
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            assert r.status == 201, r.status
        c.close()
        cases = [("api_ping_rps", "/_ping", False, ""),
                 ("api_volumes_list_rps", "/v1.45/volumes", False,
                  f"  ({args.volumes} volumes)"),
                 ("api_ping_new_conn_rps", "/_ping", True, "")]
        for name, path, new_conn, note in cases:
            unix = rps(connects["unix"], path, args.seconds, args.clients, new_conn)
            tls = rps(connects["tls"], path, args.seconds, args.clients, new_conn)
            print(f"{name}_unix: {unix:.1f} req/s{note}", flush=True)
            print(f"{name}_tls: {tls:.1f} req/s{note}  (tls/unix {tls / unix:.2f}x)",
                  flush=True)
    finally:
        if proc is not None:
            stop_process(proc)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
