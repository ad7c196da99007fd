"""How a start asks its root's namespace keeper (engine/net/pool.py) for a warm namespace.

The keeper sets up namespaces on the default bridge ahead of time, so a ``run`` that
publishes nothing does not wait for netavark (70-100 ms of iptables calls here).  The
socket is ``RUNROOT/netpool/keeper.sock`` (a 0700 directory, the socket 0600), and the
keeper also checks the peer's credentials (only its own user).  One request line; one
reply line, with the namespace's descriptor attached (SCM_RIGHTS) when it had one ready.

Kept small: this is on the start path of every bridge container (a CLI start-up cost).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

from orlop.config import EngineConfig, env_number

# Warm namespaces a keeper keeps ready ($ORLOP_NET_POOL; 0 turns the pool off, as the
# test suite does outside the pool's own tests) and how long it stays without a taker
# ($ORLOP_NET_POOL_IDLE seconds).
POOL_SIZE = 2
IDLE_SECONDS = 60.0
REPLY_TIMEOUT = 1.0


class Taken:
    """A namespace handed over: the keeper's slot (its address reservation), the
    descriptor (now this process's, close-on-exec), and the slot's address."""

    __slots__ = ("fd", "ip", "mac", "slot")

    def __init__(self, slot: str, ip: str, mac: str, fd: int) -> None:
        self.slot, self.ip, self.mac, self.fd = slot, ip, mac, fd


def pool_size() -> int:
    return int(env_number("ORLOP_NET_POOL", POOL_SIZE, 0, 16))


def idle_seconds() -> float:
    return env_number("ORLOP_NET_POOL_IDLE", IDLE_SECONDS, 1.0, 3600.0)


SOCKET_NAME = "keeper.sock"
_SUN_PATH_MAX = 107  # sockaddr_un's path, without its terminating NUL


def pool_dir(config: EngineConfig) -> Path:
    return config.run_root / "netpool"


def address(config: EngineConfig) -> str:
    """The keeper's socket, in the pool's 0700 directory.  Not an abstract socket:
    those belong to a network namespace, and a ``--network host`` container shares the
    host's, so it could reach the keeper; a file in that directory it cannot."""
    return str(pool_dir(config) / SOCKET_NAME)


def usable(config: EngineConfig) -> bool:
    """The pool is on and this root's socket path fits a socket address (a very long
    ``--run-root`` turns the pool off rather than starting keepers that cannot listen)."""
    return pool_size() > 0 and len(address(config).encode()) <= _SUN_PATH_MAX


def take(config: EngineConfig, network_id: str) -> tuple[Taken | None, bool]:
    """(a warm namespace on ``network_id`` or None, whether a keeper answered)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        try:
            sock.connect(address(config))
        except OSError:
            return None, False
        sock.settimeout(REPLY_TIMEOUT)
        try:
            sock.sendall(f"take {network_id}\n".encode())
            data, fds, _flags, _addr = socket.recv_fds(sock, 4096, 1,
                                                       socket.MSG_CMSG_CLOEXEC)
        except OSError:
            return None, True
        try:
            reply = json.loads(data) if data.strip() else {}
        except ValueError:
            reply = {}
        if not fds:
            return None, True
        if not isinstance(reply, dict) or not reply.get("slot"):
            for fd in fds:
                os.close(fd)
            return None, True
        for extra in fds[1:]:
            os.close(extra)
        return Taken(str(reply["slot"]), str(reply.get("ip", "")), str(reply.get("mac", "")),
                     fds[0]), True
    finally:
        sock.close()


def hand_teardown(config: EngineConfig, cid: str, claim: str, fd: int) -> bool:
    """Give the keeper a container's namespace to tear down: ``claim`` is the state
    file this process renamed to ``<cid>.<pid>.teardown`` (engine/net/setup.py), which the
    keeper renames to its own pid before it answers, so that a repair after either
    process's death finds the teardown; True once the keeper has both."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        sock.connect(address(config))
        sock.settimeout(REPLY_TIMEOUT)
        socket.send_fds(sock, [f"teardown {cid} {claim}\n".encode()], [fd])
        return sock.recv(64).strip() == b"ok"
    except OSError:
        return False
    finally:
        sock.close()


_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
         "from orlop.engine.net.pool import keeper_main; keeper_main(sys.argv[2:])")


def spawn_keeper(config: EngineConfig) -> None:
    """Start this root's keeper, detached (``setsid -f``: reparented at once, so neither
    the CLI, a monitor waiting for its container, nor orlopd has a child to reap).  A
    second keeper for the same root finds the first one's lock and leaves."""
    import subprocess

    import orlop

    src = str(Path(orlop.__file__).resolve().parents[1])
    try:
        subprocess.run(["setsid", "-f", sys.executable, "-I", "-c", _BOOT, src,
                        str(config.root), str(config.run_root)],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, close_fds=True, check=False, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        pass  # no keeper: every start sets up its own namespace, as before
