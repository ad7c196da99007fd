"""The helper process orlopd execs for every engine call that forks:
``python -m orlop.server.monitor --op OP ...``.

orlopd is multi-threaded, and much of the engine forks: the built-in runtime, the
detached monitor (``start_detached``), ``exec``, and ``cp``/``export`` (their work runs in
a forked child that sees the container's files, engine/files/view.py).  Forking a
multi-threaded process can deadlock the child on a lock another thread held, so the
server never makes those calls itself; it execs this small single-threaded process,
which makes exactly one engine call:

    attach       start the container in the foreground exactly as ``orlop start -a``
                 does, its stdio being this process's (pipes to orlopd): used only when
                 a client attached before ``start`` (``docker run`` in the foreground)
    start        ``Engine.start_detached``: the container gets the same detached monitor
                 as ``orlop run -d`` (json-file log, restart policy), and this exits
    exec         ``orlop exec`` with this process's stdio (``--spec`` JSON: ExecOptions)
    stat         Docker's path stat of ``--path`` in the container (archive HEAD)
    archive-get  a tar of ``--path`` on stdout (``Engine.copy_out``)
    archive-put  extract the tar on stdin into ``--path`` (``Engine.copy_in``)
    export       the container's filesystem as a tar on stdout

With a terminal relayed to a client (``exec -t`` through the API), the
client's terminal is elsewhere: ``--console-size ROWS,COLS`` is its size when the
process starts and ``--resize-fd`` a pipe on which orlopd writes each later size
(engine/containers/procio.py's RemoteTerminal applies them to the pty's master).

``--standby`` makes the fork server (server/helpers.py ``ForkServer``): it imports the
engine once, then forks one child per call it reads from the unix socket on its stdin
(the call as JSON, its stdio, status and resize pipes as SCM_RIGHTS descriptors); the
child makes its own session, puts the descriptors in place and makes the call as a
helper started for it would.  EOF on the socket (orlopd gone) ends the fork server; its
children go on with their calls.

The outcome is one JSON line on the status descriptor, so that engine errors never mix
with the container's (or the tar's) bytes; an attached start first sends
``{"event": "started"}`` once the container runs (``POST start`` answers then):

    {"event": "exit", "code": 0}
    {"event": "ok", "result": {...}}
    {"event": "error", "kind": "not_found", "message": "No such container: x"}
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import stat
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:

    from orlop.engine import Engine

OPS = ("attach", "start", "exec", "stat", "archive-get", "archive-put", "export")

# Go's os.FileMode type bits, as Docker's X-Docker-Container-Path-Stat carries them.
_GO_DIR, _GO_SYMLINK, _GO_DEVICE, _GO_PIPE, _GO_SOCKET = 1 << 31, 1 << 27, 1 << 26, 1 << 25, \
    1 << 24
_GO_SETUID, _GO_SETGID, _GO_CHARDEV, _GO_STICKY = 1 << 23, 1 << 22, 1 << 21, 1 << 20


def go_file_mode(mode: int) -> int:
    out = mode & 0o777
    if stat.S_ISDIR(mode):
        out |= _GO_DIR
    elif stat.S_ISLNK(mode):
        out |= _GO_SYMLINK
    elif stat.S_ISFIFO(mode):
        out |= _GO_PIPE
    elif stat.S_ISSOCK(mode):
        out |= _GO_SOCKET
    elif stat.S_ISCHR(mode):
        out |= _GO_DEVICE | _GO_CHARDEV
    elif stat.S_ISBLK(mode):
        out |= _GO_DEVICE
    if mode & stat.S_ISUID:
        out |= _GO_SETUID
    if mode & stat.S_ISGID:
        out |= _GO_SETGID
    if mode & stat.S_ISVTX:
        out |= _GO_STICKY
    return out


def path_stat(engine: Engine, ref: str, path: str) -> dict[str, Any]:
    """Docker's ``ContainerPathStat`` of ``path``, resolved inside the container's root
    (engine/files/view.py: openat2 RESOLVE_IN_ROOT, CVE-2018-15664)."""
    from orlop.engine.files.view import lstat_in_root, opened, run_in_view
    from orlop.errors import NotFoundError

    clean = "/" + "/".join(p for p in path.split("/") if p not in ("", "."))

    def fn(root_fd: int) -> dict[str, Any]:
        try:
            st, fd = lstat_in_root(root_fd, clean, follow=False)
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError(f"Could not find the file {path} in container {ref}") \
                from None
        try:
            target = ""
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink("", dir_fd=fd)
                if not target.startswith("/"):
                    target = os.path.normpath(os.path.join(os.path.dirname(clean), target))
        finally:
            os.close(fd)
        mtime = datetime.fromtimestamp(st.st_mtime, UTC).isoformat().replace("+00:00", "Z")
        return {"name": os.path.basename(clean) or "/", "size": st.st_size,
                "mode": go_file_mode(st.st_mode), "mtime": mtime, "linkTarget": target}

    with opened(engine, ref) as view:
        return run_in_view(view, fn)


def _call(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from orlop.engine.containers.runner import Stdio

    if args.op == "attach":
        code = engine.start_attached(args.container, Stdio(0, 1, 2),
                                     interactive=args.interactive)
        _release_stdio()
        # "removed": the container is gone (a --rm one removed itself above), so that
        # orlopd answers a `wait?condition=removed` without asking the store again.
        return {"event": "exit", "code": code,
                "removed": engine.containers.get(args.container) is None}
    if args.op == "start":
        c = engine.start_detached(args.container)
        return {"event": "ok", "result": {"id": c.id}}
    if args.op == "exec":
        from orlop.engine.containers.exec import ExecOptions, exec_container

        spec = json.loads(args.spec)
        code = exec_container(engine, args.container, ExecOptions(**spec), Stdio(0, 1, 2))
        return {"event": "exit", "code": code}
    if args.op == "stat":
        return {"event": "ok", "result": path_stat(engine, args.container, args.path)}
    if args.op == "archive-get":
        res = engine.copy_out(args.container, args.path, None, out_fd=1)
        return {"event": "ok", "result": {"size": res.size}}
    if args.op == "archive-put":
        res = engine.copy_in(args.container, None, args.path, in_fd=0)
        return {"event": "ok", "result": {"size": res.size}}
    size = engine.export_container(args.container, 1)  # export
    return {"event": "ok", "result": {"size": size}}


# What a call may need, imported once by the fork server (and so inherited by the
# helpers it forks, and by the container's monitor, which the engine forks from one).
# A module a helper imports after the fork costs it the path search and the load every
# time (a foreground `docker run` imported 30 after the fork: ~5 ms of its start): the
# start of a container (start, runner's prepare, the built-in runtime's launcher and
# init, the network set-up, the seccomp profile), the record of its exit and its
# removal are all here.
_WARM = ("orlop.engine.engine", "orlop.engine.containers.monitor",
         "orlop.engine.containers.runner", "orlop.engine.containers.bundle",
         "orlop.engine.containers.cgroups", "orlop.engine.containers.mountpoints",
         "orlop.engine.containers.logs", "orlop.engine.containers.exec",
         "orlop.engine.files.view", "orlop.runtime", "orlop.runtime.exec",
         "orlop.volumes.service", "orlop.images.store", "orlop.kernel.pty",
         "orlop.engine.containers.start", "orlop.engine.containers.reconcile",
         "orlop.engine.containers.remove", "orlop.engine.containers.health",
         "orlop.engine.containers.hostopts", "orlop.engine.containers.rro",
         "orlop.engine.events", "orlop.engine.net.setup", "orlop.engine.net.links",
         "orlop.engine.net.linkenv", "orlop.engine.security.seccomp",
         "orlop.engine.security.secopts", "orlop.mounts.oci", "orlop.network.service",
         "orlop.network.files", "orlop.network.ipam", "orlop.network.ports",
         "orlop.runtime.launcher", "orlop.runtime.init", "orlop.runtime.seccomp",
         "orlop.state.layout")


def _serve_forks(args: argparse.Namespace) -> int:
    """The fork server (``--standby``): import what a call needs once, then fork one
    child per call taken from the socket on stdin, until EOF (orlopd gone).

    A call is one JSON message (``op``, ``container``, ``spec``, ``path``,
    ``interactive``, ``console_size``) with the descriptors it names in ``fds``
    (``status``, and ``stdin``, ``stdout``, ``stderr``, ``resize`` when given) as
    SCM_RIGHTS.  The child makes its own session, puts them in place of its /dev/null
    and makes the call exactly as a helper started for it (``_run``).  The reply is
    ``{"pid": N}`` with the child's pidfd, or ``{"error": ...}``.  This process is
    single-threaded and never makes an engine call itself, so each fork is clean; it
    reaps its children (their outcome goes to orlopd on the status pipe).

    The child for the next call is forked ahead of it (``_Spare``): a call is handed to
    it, and another is forked once the reply is sent.  A fork costs the call 2 to 5 ms
    that are not work (the child's start on a busy 2-core host, the pages it copies
    first), and the spare has opened the store's connection too; a spare that cannot be
    had is replaced by a fork made for the call, as before."""
    import gc
    import importlib
    import signal

    for name in _WARM:
        with contextlib.suppress(ImportError):  # a cache only: a missing one costs time
            importlib.import_module(name)
    _warm_caches()
    # What the imports made is kept out of the collector's sight, in this process and in
    # every child: a collection in a child would otherwise walk (and write to: the GC
    # header of every object) all of the engine's objects, copying each page it touches
    # from this process.
    gc.collect()
    gc.freeze()
    sock = socket.socket(fileno=os.dup(0))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # the socket is the server's alone: no child may inherit it
    os.close(null)
    signal.signal(signal.SIGCHLD, _reap_children)
    server_fds = [sock.fileno(), args.status_fd]  # a child closes them (and the spare's)
    spare = _Spare.fork(args, server_fds)
    while True:
        try:
            msg, fds, _flags, _addr = socket.recv_fds(sock, 1 << 20, 8)
        except OSError:
            return 0
        if not msg:
            return 0
        reply: dict[str, object]
        pidfd = -1
        try:
            child, given = _child_args(args, msg, fds)
            if spare is not None and spare.hand(msg, fds):
                pid, pidfd = spare.pid, spare.pidfd
            else:  # none, or it could not take the call (and is dropped)
                pid, pidfd = _fork(_child, server_fds, child, given)
            spare = None
            reply = {"pid": pid}
        except (OSError, ValueError, TypeError, KeyError) as err:
            reply = {"error": f"cannot fork a helper: {err}"}
        finally:
            for fd in fds:
                os.close(fd)
        try:
            socket.send_fds(sock, [json.dumps(reply).encode()], [pidfd] if pidfd >= 0 else [])
        except OSError:
            return 0  # orlopd gone; the child goes on with its call
        finally:
            if pidfd >= 0:
                os.close(pidfd)
        if spare is None:
            spare = _Spare.fork(args, server_fds)


def _warm_caches() -> None:
    """What every start of a container computes the same way, computed once here and
    inherited by the helpers: the default seccomp profile resolved for Docker's default
    capabilities (``resolve`` keeps it; 13 KB of JSON parsed and resolved, ~1 ms a
    start otherwise)."""
    with contextlib.suppress(Exception):  # a cache only: the start computes it then
        from orlop.engine.security.seccomp import resolve
        from orlop.kernel.caps import DOCKER_DEFAULT_CAPS

        resolve("", list(DOCKER_DEFAULT_CAPS))


def _fork(child: Callable[..., None], *args: Any) -> tuple[int, int]:
    """Fork a child that runs ``child(*args)`` (which never returns): (pid, pidfd)."""
    import signal

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
    try:
        pid = os.fork()
        if pid == 0:
            child(*args)
        # Before the child can be reaped (SIGCHLD is blocked): it is ours.
        return pid, os.pidfd_open(pid)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})


class _Spare:
    """The helper for the next call, forked ahead of it: it has left the fork server
    (its own session, none of the server's descriptors) and opened the engine, and
    waits on a socket of its own for the call, which the fork server passes on as it
    came (the message and its descriptors).  It ends on EOF there: the fork server is
    gone, or dropped it."""

    def __init__(self, pid: int, pidfd: int, sock: socket.socket,
                 server_fds: list[int]) -> None:
        self.pid, self.pidfd, self.sock = pid, pidfd, sock
        self.server_fds = server_fds
        server_fds.append(sock.fileno())  # the server's: no later child may hold it

    @classmethod
    def fork(cls, args: argparse.Namespace, server_fds: list[int]) -> _Spare | None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            pid, pidfd = _fork(_spare, [*server_fds, ours.fileno()], args, theirs)
        except OSError:
            ours.close()
            return None
        finally:
            theirs.close()
        return cls(pid, pidfd, ours, server_fds)

    def hand(self, msg: bytes, fds: list[int]) -> bool:
        """Pass the call on; False (and the spare dropped) if it cannot take it."""
        try:
            socket.send_fds(self.sock, [msg], fds)
        except OSError:  # it died, or the call is too large for one message
            self.drop()
            return False
        self._close_sock()  # its EOF, once it has the call, means nothing
        return True

    def drop(self) -> None:
        """Let it go: EOF on its socket ends it."""
        os.close(self.pidfd)
        self.pidfd = -1
        self._close_sock()

    def _close_sock(self) -> None:
        self.server_fds.remove(self.sock.fileno())  # its number may be reused
        self.sock.close()


def _reap_children(_signum: int = 0, _frame: object = None) -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _child_args(args: argparse.Namespace, msg: bytes,
                fds: list[int]) -> tuple[argparse.Namespace, dict[str, int]]:
    """The child's arguments and the descriptors it was given, by name."""
    req = json.loads(msg)
    names = req.get("fds") or []
    if req.get("op") not in OPS or not isinstance(req.get("container"), str) or \
            not isinstance(names, list) or len(names) != len(fds) or \
            len(set(names)) != len(names) or "status" not in names or \
            not set(names) <= {"status", "resize", *_STDIO}:
        raise ValueError(f"bad request: {msg[:200]!r}")
    child = argparse.Namespace(**vars(args))
    child.standby = False
    child.op, child.container = req["op"], req["container"]
    child.spec = json.dumps(req.get("spec") or {})
    child.path = str(req.get("path") or "/")
    child.interactive = bool(req.get("interactive"))
    size = req.get("console_size")
    child.console_size = f"{int(size[0])},{int(size[1])}" if size else ""
    return child, dict(zip(names, fds, strict=True))


def _leave_server(server_fds: list[int]) -> None:
    """In a child of the fork server: its signal handling back to the default, none of
    its descriptors, a session of its own."""
    import signal

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
    for fd in server_fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    os.setsid()


def _take_call(args: argparse.Namespace, given: dict[str, int],
               engine: Engine | None = None) -> int:
    """Become the helper of the call: its descriptors in place, then the call."""
    for name, target in _STDIO.items():
        if name in given:
            os.dup2(given[name], target)  # inheritable: the container's stdio
    args.status_fd = os.dup(given["status"])
    os.set_inheritable(args.status_fd, False)
    args.resize_fd = os.dup(given["resize"]) if "resize" in given else -1
    for fd in given.values():
        os.close(fd)
    return _run(args, engine)


def _child(server_fds: list[int], args: argparse.Namespace, given: dict[str, int]) -> None:
    """In a child forked for a call: become its helper, make it, end (never returns)."""
    code = 125
    try:
        _leave_server(server_fds)
        code = _take_call(args, given)
    finally:
        _exit(code)


def _spare(server_fds: list[int], args: argparse.Namespace, own: socket.socket) -> None:
    """In a spare (``_Spare``): leave the server, open the engine, wait for the call on
    ``own`` and make it; end without one (never returns)."""
    code = 125
    try:
        _leave_server(server_fds)
        engine, store = _open_engine(args)
        try:
            msg, fds, _flags, _addr = socket.recv_fds(own, 1 << 20, 8)
        except OSError:
            msg, fds = b"", []
        own.close()
        if not msg:
            code = 0
            return
        child, given = _child_args(args, msg, fds)  # checked by the server already
        from orlop.state.db import file_identity

        if engine is not None and file_identity(engine.config.db_path) != store:
            # The store is not the file it opened (the root was deleted and made again
            # while it waited): the call opens the one there now.
            engine.close()
            engine = None
        code = _take_call(child, given, engine)
    finally:
        _exit(code)


def _open_engine(args: argparse.Namespace) -> tuple[Engine | None, tuple[int, int] | None]:
    """The engine a call will use, with the store's connection open and the stores a
    start reads opened, and the identity of the store's file; None if it cannot be had
    now (the call makes it again, and reports why it cannot).  The reconciliation's
    query is made once too, for what it warms (the statement, the pages of the store
    and of the code a child copies from the fork server on first use): the call
    reconciles again, as a helper always did."""
    from orlop.config import EngineConfig
    from orlop.engine import Engine
    from orlop.state.db import file_identity

    try:
        engine = Engine(EngineConfig.from_env(args.root, args.run_root, args.runtime or None))
        engine.containers.live()
        _ = engine.images, engine.networks, engine.events
    except Exception:
        return None, None
    return engine, file_identity(engine.config.db_path)


_STDIO = {"stdin": 0, "stdout": 1, "stderr": 2}


def _release_stdio() -> None:
    """Once the container has ended (and a --rm one is removed): its stdio, which is
    this process's, is let go, so that orlopd's relay reads the end of the container's
    output now rather than when this process has exited (an exit unmaps what the fork
    copied: ~1 ms)."""
    for f in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            f.flush()
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in _STDIO.values():
            os.dup2(null, fd)
    finally:
        os.close(null)


def _announce_start(engine: Engine, report: Callable[[dict[str, object]], None]) -> None:
    """An attached start tells orlopd as soon as the container runs (the engine has
    recorded it running and emitted its ``start`` event), so that ``POST start`` answers
    then, without polling the store."""
    from orlop.engine.events import EventLog
    from orlop.engine.models import Container

    class Announcing(EventLog):
        def started(self, c: Container) -> None:
            try:
                super().started(c)
            finally:
                with contextlib.suppress(OSError):  # orlopd gone: the container goes on
                    report({"event": "started"})

    engine.events = Announcing(engine.config.root)


def _remote_terminal(args: argparse.Namespace) -> None:
    if not args.console_size and args.resize_fd < 0:
        return
    from orlop.engine.containers.procio import RemoteTerminal, use_remote_terminal

    rows = cols = 0
    if args.console_size:
        r, _, c = args.console_size.partition(",")
        rows, cols = int(r), int(c)
    if args.resize_fd >= 0:
        os.set_blocking(args.resize_fd, False)
        os.set_inheritable(args.resize_fd, False)  # the helper's alone, never a child's
    use_remote_terminal(RemoteTerminal(fd=1, rows=rows, cols=cols, control=args.resize_fd))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="orlop-monitor")
    p.add_argument("--root", required=True)
    p.add_argument("--run-root", required=True)
    p.add_argument("--runtime", default="")
    p.add_argument("--status-fd", type=int, required=True)
    p.add_argument("--op", choices=OPS, default="attach")
    p.add_argument("--interactive", action="store_true")
    p.add_argument("--spec", default="{}")
    p.add_argument("--path", default="/")
    p.add_argument("--console-size", default="")
    p.add_argument("--resize-fd", type=int, default=-1)
    p.add_argument("--standby", action="store_true")
    p.add_argument("container", nargs="?", default="")
    args = p.parse_args(argv)
    if args.standby:
        return _serve_forks(args)
    return _run(args)


def _run(args: argparse.Namespace, engine: Engine | None = None) -> int:
    """Make the call (with ``engine`` if one was opened for it); its outcome as one
    JSON line on the status descriptor."""
    from orlop.config import EngineConfig
    from orlop.engine import Engine
    from orlop.errors import ErrorKind, OrlopError

    status = os.fdopen(args.status_fd, "w")

    def report(event: dict[str, object]) -> None:
        status.write(json.dumps(event) + "\n")
        status.flush()

    try:
        _remote_terminal(args)
        if engine is None:
            engine = Engine(EngineConfig.from_env(args.root, args.run_root,
                                                  args.runtime or None))
        if args.op == "attach":
            _announce_start(engine, report)
        try:
            event = _call(engine, args)
        finally:
            engine.close()
    except OrlopError as err:
        report({"event": "error", "kind": err.kind.value, "message": str(err),
                "exit_code": getattr(err, "exit_code", 125)})
        return 125
    except Exception as err:  # reported, never a traceback on the container's stderr
        report({"event": "error", "kind": ErrorKind.SYSTEM.value, "message": str(err)})
        return 125
    report(event)
    return 0


def _exit(code: int) -> None:
    """End at once: the outcome is reported, and orlopd's relay of an attached container
    ends only when this process has closed its stdout and stderr (an interpreter's
    orderly shutdown of the engine's modules costs ~15 ms more)."""
    for f in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            f.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit(main())
