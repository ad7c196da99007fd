"""The warm namespace pool: a small keeper process per run root that holds network
namespaces already set up on the default bridge, so that a container that publishes
nothing starts without waiting for netavark.

Why a process: a namespace lives as long as a descriptor names it (kernel/netns.py:
never a mount), so something must hold the ready ones between two commands; the keeper
is that holder and hands one over by SCM_RIGHTS on ``RUNROOT/netpool/keeper.sock``
(engine/net/poolwire.py).  It also takes over the teardown of an exiting container's
namespace from a foreground CLI, which then need not fork a child for it.

The pieces, and why each is safe:
- Addresses: each ready namespace has a row in ``netpool`` (its slot id, address and
  MAC); allocation treats those as taken.  A start that takes a namespace moves the
  slot's address to its own endpoint in one transaction (``adopt_slot``); if the row
  is gone (a sweep freed it), the namespace is dropped and the start sets up its own.
- The namespace a container gets is exactly what its own setup would have made: one
  ``eth0`` on the default bridge with that address and Docker's MAC for it, no ports,
  no DNS; its teardown at exit is the container's ordinary one.  Namespaces are never
  reused after a container (a container may leave state in its namespace).
- Set-up and tear-down go through netavark under the root's netavark lock, like a
  container's; each ready namespace's JSON is kept in ``RUNROOT/netpool/<slot>.json``.
- Life: the first start on the default bridge that finds no keeper starts one; it
  keeps ``$ORLOP_NET_POOL`` namespaces ready (2), refilled after each take, and leaves
  after ``$ORLOP_NET_POOL_IDLE`` seconds (60) without a take, on SIGTERM, or at once
  when its root is deleted, tearing down what it holds.  One keeper per root
  (``keeper.lock``, which holds its pid).
- A kill -9 of the keeper frees its namespaces (the kernel closes its descriptors; the
  veth pairs go with them).  Its rows, JSON files and a bridge it may have left are
  repaired by the next command (``sweep``, from the containers' reconcile) or the next
  keeper, which first takes the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import select
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

from orlop.config import EngineConfig
from orlop.engine.net import poolwire
from orlop.engine.net.poollock import LOCK_NAME
from orlop.engine.net.setup import HELD, HOLDER, aardvark_dir, read_doc, teardown_claimed
from orlop.network.model import Endpoint, Network

RETRY_SECONDS = 5.0  # after a failed set-up (netavark missing, no addresses left)
REFILL_DELAY = 0.25  # after a take, before setting up the next namespace


class Ready:
    """A namespace set up and waiting: slot, address, descriptor and the setup JSON."""

    __slots__ = ("doc", "ep", "fd", "network", "path")

    def __init__(self, network: Network, ep: Endpoint, fd: int, path: Path,
                 doc: dict[str, Any]) -> None:
        self.network, self.ep, self.fd, self.path, self.doc = network, ep, fd, path, doc


def _lock(config: EngineConfig, wait: bool) -> int | None:
    """The keeper lock, held by the live keeper (or by whoever repairs a dead one)."""
    d = poolwire.pool_dir(config)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(d / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except OSError:
        os.close(fd)
        return None
    return fd


def _clean(config: EngineConfig, networks: Any | None) -> None:
    """With the lock held and no keeper alive: tear down what a dead keeper left (its
    namespaces are gone; netavark's teardown through stand-in interfaces removes a bridge
    and chains nobody uses) and free its addresses."""
    d = poolwire.pool_dir(config)
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(d):
            if name.endswith(".json"):
                path = d / name
                doc = read_doc(path)
                if doc is not None:
                    teardown_claimed(config, name[:-5], path, doc)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
    if networks is not None:
        networks.drop_slots(None)


def _remove_dir(config: EngineConfig) -> None:
    """Last step of a keeper's exit or a repair, with the lock still held: a directory
    that exists means 'a keeper may be alive', which the next command checks."""
    d = poolwire.pool_dir(config)
    for name in ("keeper.log", poolwire.SOCKET_NAME, LOCK_NAME):
        with contextlib.suppress(OSError):
            os.unlink(d / name)
    with contextlib.suppress(OSError):
        os.rmdir(d)


def sweep(config: EngineConfig, networks: Any) -> None:
    """Reconcile (every command that finds ``RUNROOT/netpool``): repair after a keeper
    that died without its exit (kill -9).  A live keeper holds the lock: nothing to do."""
    if not poolwire.pool_dir(config).is_dir():
        return
    fd = _lock(config, wait=False)
    if fd is None:
        return
    try:
        _clean(config, networks)
        _remove_dir(config)
    finally:
        os.close(fd)


class Keeper:
    """The process's state: the ready namespaces, the teardowns handed over, and one
    worker thread that does both kinds of netavark work (teardowns first)."""

    def __init__(self, config: EngineConfig, networks: Any, size: int, idle: float) -> None:
        self.config = config
        self.networks = networks
        self.size = size
        self.idle = idle
        self.ready: list[Ready] = []
        self.jobs: list[tuple[str, Path, dict[str, Any]]] = []  # teardowns handed over
        self.mutex = threading.Lock()
        self.wake = threading.Event()
        self.stop = threading.Event()
        self.last_take = time.monotonic()
        self.failed_at = -RETRY_SECONDS

    # --- the worker ----------------------------------------------------------------

    def _make(self, n: Network) -> Ready:
        from orlop.kernel.netns import new_netns_fd
        from orlop.network import netavark

        slot = secrets.token_hex(32)
        ep = self.networks.reserve_slot(n.id, slot)
        fd = new_netns_fd()
        HELD[slot] = fd
        path = poolwire.pool_dir(self.config) / f"{slot}.json"
        doc = netavark.options_json(slot, f"orlop-pool-{slot[:12]}", [(n, ep)], [])
        holder = f"/proc/{os.getpid()}/fd/{fd}"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**doc, HOLDER: holder}))
        os.replace(tmp, path)
        try:
            netavark.setup(holder, doc, aardvark_dir(self.config))
        except BaseException:
            teardown_claimed(self.config, slot, path, doc)
            self.networks.drop_slots([slot])
            raise
        return Ready(n, ep, fd, path, doc)

    def _next_job(self) -> tuple[str, Path, dict[str, Any]] | None:
        with self.mutex:
            return self.jobs.pop(0) if self.jobs else None

    def work(self) -> None:
        """Teardowns as they come; a refill once the last take is REFILL_DELAY old (the
        taker's own start goes first on a small machine)."""
        while not self.stop.is_set():
            self.wake.clear()
            job = self._next_job()
            if job is not None:
                teardown_claimed(self.config, *job)
                continue
            now = time.monotonic()
            due = max(self.last_take + REFILL_DELAY, self.failed_at + RETRY_SECONDS)
            if len(self.ready) < self.size and now >= due:
                try:
                    r = self._make(self.networks.default())
                except Exception as err:  # logged: the pool is an optimisation
                    print(f"orlop netpool: set-up failed: {err}", file=sys.stderr, flush=True)
                    self.failed_at = time.monotonic()
                    continue
                with self.mutex:
                    self.ready.append(r)
                continue
            self.wake.wait(max(due - now, 0.01) if len(self.ready) < self.size else 1.0)

    def _drop(self, r: Ready) -> None:
        teardown_claimed(self.config, r.ep.container_id, r.path, r.doc)

    # --- serving -------------------------------------------------------------------

    def hand(self, conn: socket.socket) -> None:
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                struct.calcsize("3i"))
        peer, uid, _gid = struct.unpack("3i", creds)
        conn.settimeout(1.0)
        data, fds, _flags, _addr = socket.recv_fds(conn, 512, 1, socket.MSG_CMSG_CLOEXEC)
        try:
            if uid != os.geteuid():
                return
            request = data.decode(errors="replace").split()
            if len(request) == 2 and request[0] == "take":
                self._take(conn, request[1])
            elif len(request) == 3 and request[0] == "teardown" and fds:
                if self._teardown(peer, request[1], request[2], fds[0]):
                    fds = fds[1:]
                    conn.sendall(b"ok\n")
        finally:
            for fd in fds:
                os.close(fd)

    def _take(self, conn: socket.socket, network_id: str) -> None:
        with self.mutex:
            idx = next((i for i, r in enumerate(self.ready)
                        if r.network.id == network_id), None)
            r = self.ready.pop(idx) if idx is not None else None
        self.last_take = time.monotonic()
        if r is None:
            conn.sendall(b"{}\n")
            self.wake.set()
            return
        reply = json.dumps({"slot": r.ep.container_id, "ip": r.ep.ip, "mac": r.ep.mac})
        try:
            socket.send_fds(conn, [reply.encode() + b"\n"], [r.fd])
        except OSError:
            with self.mutex:
                self.ready.insert(0, r)
            return
        # The taker owns it now: its own state file names its own descriptor.
        HELD.pop(r.ep.container_id, None)
        os.close(r.fd)
        with contextlib.suppress(FileNotFoundError):
            r.path.unlink()
        self.wake.set()

    def _teardown(self, peer: int, cid: str, claim: str, fd: int) -> bool:
        """Take over a container's teardown: the peer's claim, renamed to ours first (a
        repair re-claims a teardown whose pid is dead), and the namespace's descriptor."""
        from orlop.engine.net.setup import netns_dir

        if len(cid) != 64 or not all(ch in "0123456789abcdef" for ch in cid) \
                or claim != f"{cid}.{peer}.teardown" or cid in HELD:
            return False
        mine = netns_dir(self.config) / f"{cid}.{os.getpid()}.teardown"
        try:
            os.rename(netns_dir(self.config) / claim, mine)
        except OSError:
            return False
        doc = read_doc(mine)  # now: the root may be deleted before the worker gets to it
        HELD[cid] = fd
        with self.mutex:
            self.jobs.append((cid, mine, doc or {}))
        self.wake.set()
        return True

    def serve(self, listener: socket.socket) -> None:
        worker = threading.Thread(target=self.work, name="netpool-worker", daemon=True)
        worker.start()
        try:
            while not self.stop.is_set():  # set by SIGTERM too: a graceful exit
                if not self.config.db_path.exists():
                    break  # the root was deleted (a script's temporary root)
                if time.monotonic() - self.last_take > self.idle and not self.jobs:
                    break
                readable, _w, _x = select.select([listener], [], [], 0.5)
                if readable:
                    try:
                        conn, _addr = listener.accept()
                    except OSError:
                        continue
                    with conn, contextlib.suppress(OSError):
                        self.hand(conn)
        finally:
            listener.close()  # no taker from here on
            self.stop.set()
            self.wake.set()
            worker.join(timeout=120)
            while (job := self._next_job()) is not None:
                teardown_claimed(self.config, *job)
            with self.mutex:
                left, self.ready = self.ready, []
            for r in left:
                self._drop(r)


def keeper_main(argv: list[str]) -> None:
    """``ROOT RUN_ROOT``: run the keeper of that root until idle (spawn_keeper)."""
    root, run_root = argv
    config = EngineConfig.from_env(root, run_root)
    size = poolwire.pool_size()
    if not poolwire.usable(config) or not config.db_path.exists():
        return
    lock = _lock(config, wait=False)
    if lock is None:
        return  # another keeper has this root
    log = os.open(poolwire.pool_dir(config) / "keeper.log",
                  os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    os.dup2(log, 2)
    os.close(log)
    from orlop.network.service import NetworkService
    from orlop.state import Database

    networks = NetworkService(config, Database(config.db_path))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        _clean(config, networks)  # what a killed keeper left
        with contextlib.suppress(FileNotFoundError):
            os.unlink(poolwire.address(config))  # a killed keeper's
        listener.bind(poolwire.address(config))
        os.chmod(poolwire.address(config), 0o600)
        listener.listen(16)
    except OSError as err:
        print(f"orlop netpool: {err}", file=sys.stderr, flush=True)
        listener.close()
        os.close(lock)
        return
    os.ftruncate(lock, 0)
    os.write(lock, f"{os.getpid()}\n".encode())  # who to SIGTERM for a graceful stop
    keeper = Keeper(config, networks, size, poolwire.idle_seconds())
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda _sig, _frame: keeper.stop.set())
    try:
        keeper.serve(listener)
    finally:
        if config.db_path.exists():
            with contextlib.suppress(Exception):
                networks.drop_slots(None)
        _remove_dir(config)
        os.close(lock)
