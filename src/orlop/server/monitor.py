"""The helper process orlopd execs for every engine call that forks:
``python -m orlop.server.monitor --op OP ...``.

orlopd is multi-threaded, and much of the engine forks: the built-in runtime, the
detached monitor (``start_detached``), ``exec``, and ``cp``/``export`` (their work runs in
a forked child that sees the container's files, engine/view.py).  Forking a
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
(engine/procio.py's RemoteTerminal applies them to the pty's master).

``--standby`` makes a spare helper: it imports the engine and waits for its one call as
a JSON line on stdin (``{"op": ..., "container": ..., "spec": ..., "path": ...}``), its
stdio being /dev/null otherwise.  orlopd keeps two ready (server/helpers.py), so that a
detached start does not wait for an interpreter to start and import the engine (about
60 of its 110 ms); EOF on stdin (orlopd gone) ends it.

The outcome is one JSON line on the status descriptor, so that engine errors never mix
with the container's (or the tar's) bytes:

    {"event": "exit", "code": 0}
    {"event": "ok", "result": {...}}
    {"event": "error", "kind": "not_found", "message": "No such container: x"}
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
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
    (engine/view.py: openat2 RESOLVE_IN_ROOT, CVE-2018-15664)."""
    from orlop.engine.view import lstat_in_root, opened, run_in_view
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
    from orlop.engine.runner import Stdio

    if args.op == "attach":
        code = engine.start_attached(args.container, Stdio(0, 1, 2),
                                     interactive=args.interactive)
        return {"event": "exit", "code": code}
    if args.op == "start":
        c = engine.start_detached(args.container)
        return {"event": "ok", "result": {"id": c.id}}
    if args.op == "exec":
        from orlop.engine.exec import ExecOptions, exec_container

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


# What a call may need, imported by a spare helper while it waits (and so inherited by
# the container's monitor, which the engine forks from the helper).
_WARM = ("orlop.engine.engine", "orlop.engine.monitor", "orlop.engine.runner",
         "orlop.engine.bundle", "orlop.engine.cgroups", "orlop.engine.mountpoints",
         "orlop.engine.logs", "orlop.engine.exec", "orlop.engine.view", "orlop.runtime",
         "orlop.runtime.exec", "orlop.volumes.service", "orlop.images.store",
         "orlop.kernel.pty")


def _await_request(args: argparse.Namespace) -> bool:
    """Standby: warm up, then take the call from stdin; False on EOF (nothing to do)."""
    import contextlib
    import importlib

    for name in _WARM:
        with contextlib.suppress(ImportError):  # a cache only: a missing one costs time
            importlib.import_module(name)
    line = sys.stdin.buffer.readline()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    if not line.strip():
        return False
    req = json.loads(line)
    if req.get("op") not in OPS or not isinstance(req.get("container"), str):
        raise ValueError(f"bad request for a standby helper: {line[:200]!r}")
    args.op, args.container = req["op"], req["container"]
    args.spec = json.dumps(req.get("spec") or {})
    args.path = str(req.get("path") or "/")
    return True


def _remote_terminal(args: argparse.Namespace) -> None:
    if not args.console_size and args.resize_fd < 0:
        return
    from orlop.engine.procio import RemoteTerminal, use_remote_terminal

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

    from orlop.config import EngineConfig
    from orlop.engine import Engine
    from orlop.errors import ErrorKind, OrlopError

    status = os.fdopen(args.status_fd, "w")

    def report(event: dict[str, object]) -> None:
        status.write(json.dumps(event) + "\n")
        status.flush()

    try:
        if args.standby and not _await_request(args):
            return 0
        _remote_terminal(args)
        engine = Engine(EngineConfig.from_env(args.root, args.run_root, args.runtime or None))
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


if __name__ == "__main__":
    sys.exit(main())
