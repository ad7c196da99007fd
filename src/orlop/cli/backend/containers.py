"""Container calls of the backends: create/run/start, the lifecycle verbs, ps, logs,
attach, exec, inspect.

Both sides take the same arguments and give the same Docker-shaped dicts, or write the
same bytes to the same descriptors (``Stdio``: ours are 0, 1, 2).  Local calls are the
engine's, with the real descriptors (``orlop run`` in the foreground stays
``Engine.run``).  Remote calls are the docker CLI's conversation with the daemon: ``run``
is create, attach (a hijacked connection), start, wait; ``exec`` is exec create and a
hijacked exec start; a terminal is put in raw mode and its size sent on SIGWINCH.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orlop.client import APIClient
    from orlop.client.containers import Hijacked
    from orlop.engine import Engine
    from orlop.engine.exec import ExecOptions
    from orlop.engine.models import RunOptions
    from orlop.errors import OrlopError

STREAMS = ("stdin", "stdout", "stderr")


@dataclass(frozen=True)
class LogOptions:
    follow: bool = False
    tail: int = -1  # -1: all
    since: str = ""
    until: str = ""
    timestamps: bool = False
    details: bool = False


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class LocalContainers:
    engine: Engine

    # --- create / run / start ------------------------------------------------------

    def container_create(self, opts: RunOptions) -> str:
        return self.engine.create_container(opts).id

    def container_run(self, opts: RunOptions, streams: frozenset[str]) -> int:
        """Foreground: the engine with our own descriptors (an unattached output stream
        goes to /dev/null, as Docker's ``-a`` leaves it out)."""
        from orlop.engine.procio import Stdio

        if streams >= {"stdout", "stderr"} and (not opts.interactive or "stdin" in streams):
            return self.engine.run(opts, Stdio(stdin=0, stdout=1, stderr=2))
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            return self.engine.run(opts, Stdio(
                stdin=0 if "stdin" in streams else null,
                stdout=1 if "stdout" in streams else null,
                stderr=2 if "stderr" in streams else null))
        finally:
            os.close(null)

    def container_run_detached(self, opts: RunOptions) -> str:
        return self.engine.run_detached(opts).id

    def container_start(self, ref: str) -> None:
        self.engine.start_detached(ref)

    def container_start_attached(self, ref: str, interactive: bool) -> int:
        from orlop.engine.procio import Stdio

        return self.engine.start_attached(ref, Stdio(0, 1, 2), interactive=interactive)

    # --- reading -------------------------------------------------------------------

    def container_list(self, all_: bool, filters: dict[str, list[str]] | None,
                       limit: int = -1) -> list[dict[str, Any]]:
        from orlop.engine.ps import list_summaries

        return list_summaries(self.engine, all_=all_, filters=filters, limit=limit)

    def container_inspect(self, ref: str) -> dict[str, Any]:
        return self.engine.inspect_container(ref)

    def container_top(self, ref: str, ps_args: list[str]) -> dict[str, Any]:
        titles, rows = self.engine.top_container(ref, ps_args)
        return {"Titles": titles, "Processes": rows}

    def container_logs(self, ref: str, opts: LogOptions) -> None:
        from orlop.engine.logs import Entry, parse_since, stream_log

        engine = self.engine
        c = engine.get_container(ref)
        path = engine.log_path(c)

        def emit(e: Entry) -> None:
            data = e.time.encode() + b" " + e.data if opts.timestamps else e.data
            _write_all(2 if e.stream == "stderr" else 1, data)

        # One reader for history and follow: the follow goes on where the history ended.
        for e in stream_log(path, tail=opts.tail, since=parse_since(opts.since),
                            until=parse_since(opts.until),
                            follow_=opts.follow and engine.is_running(c),
                            still_running=lambda: engine.is_running(c)):
            emit(e)

    # --- lifecycle -----------------------------------------------------------------

    def container_remove(self, ref: str, force: bool, volumes: bool) -> None:
        self.engine.remove_container(ref, force=force, volumes=volumes)

    def container_prune(self, filters: dict[str, list[str]] | None) -> dict[str, Any]:
        from orlop.engine.prune import prune_containers

        return prune_containers(self.engine, filters)

    def container_stop(self, ref: str, timeout: int | None, sig: str | None) -> None:
        self.engine.stop_container(ref, timeout, sig)

    def container_restart(self, ref: str, timeout: int | None, sig: str | None) -> None:
        self.engine.restart_container(ref, timeout, sig)

    def container_kill(self, ref: str, sig: str) -> None:
        self.engine.signal_container(ref, sig)

    def container_wait(self, ref: str) -> int:
        return self.engine.wait_container(ref)

    def container_pause(self, ref: str, paused: bool) -> None:
        self.engine.pause_container(ref, paused)

    def container_rename(self, ref: str, name: str) -> None:
        self.engine.rename_container(ref, name)

    # --- attach / exec -------------------------------------------------------------

    def container_attach(self, ref: str, *, stdin: bool, sig_proxy: bool) -> int:
        """Follow the container's output (its log) from now on, feed our stdin to its
        stdin FIFO, forward SIGINT/SIGTERM/SIGHUP with ``sig_proxy``; its exit code."""
        from orlop.engine.logs import follow
        from orlop.engine.monitor import stdin_fifo
        from orlop.errors import OrlopError

        engine = self.engine
        c = engine.get_container(ref)
        if sig_proxy:
            def proxy(signum: int, _frame: object) -> None:
                with contextlib.suppress(OrlopError):
                    engine.signal_container(c.id, str(signum))

            for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(s, proxy)
        feeder = 0
        if stdin and c.config.open_stdin:
            feeder = _feed_fifo(str(stdin_fifo(engine.config, c.id)))
        try:
            for e in follow(engine.log_path(c), lambda: engine.is_running(c)):
                _write_all(2 if e.stream == "stderr" else 1, e.data)
        finally:
            if feeder > 0:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(feeder, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(feeder, 0)
        return engine.wait_container(c.id)

    def container_exec(self, ref: str, opts: ExecOptions) -> int:
        """The process's exit code; one that could not be started is reported as the
        docker CLI (and orlopd's exec stream) does: its message on stderr, 126/127."""
        from orlop.engine.exec import exec_container
        from orlop.engine.procio import Stdio
        from orlop.errors import RuntimeFailedError

        try:
            return exec_container(self.engine, ref, opts, Stdio(0, 1, 2))
        except RuntimeFailedError as err:
            _write_all(2, f"{err}\n".encode())
            return err.exit_code


def _feed_fifo(fifo: str) -> int:
    """A child copying our stdin into the container's stdin FIFO; its pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_CLOEXEC)
        while True:
            data = os.read(0, 65536)
            if not data:
                break
            os.write(fd, data)
    except OSError:
        code = 1
    os._exit(code)


# --- remote -------------------------------------------------------------------------


def _terminal_size(fd: int = 1) -> list[int] | None:
    """[height, width] of our terminal (Docker's ConsoleSize order), None if none."""
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return None
    return [size.lines, size.columns]


def absolute_bind(raw: str, cwd: str) -> str:
    """``-v ./rel:/x`` -> ``-v /cwd/rel:/x``: a relative bind source is the client's
    (Docker's CLI resolves it before sending, and the container records that)."""
    source, sep, rest = raw.partition(":")
    if sep and source.startswith("."):
        source = posixpath.normpath(posixpath.join(cwd, source))
    return source + sep + rest


def create_body(opts: RunOptions, streams: frozenset[str] = frozenset(),
                console: list[int] | None = None) -> dict[str, Any]:
    """RunOptions -> the body of ``POST /containers/create``: the exact inverse of
    ``server/schema.run_options``, as the docker CLI builds it.  Every mount flag is
    parsed here first (Docker's CLI does; the errors are the local ones): ``-v`` with a
    source goes to ``HostConfig.Binds`` (a relative source resolved against our working
    directory), ``-v /path`` to ``Config.Volumes``, ``--mount`` to ``HostConfig.Mounts``,
    ``--tmpfs`` to ``HostConfig.Tmpfs``."""
    from orlop.engine.options import check_network
    from orlop.mounts.parser import (
        check_duplicates,
        parse_mount_flag,
        parse_tmpfs_flag,
        parse_volume_flag,
        parse_volumes_from,
    )
    from orlop.mounts.spec import to_api_mount

    binds: list[str] = []
    volumes: dict[str, dict[str, Any]] = {}
    vflags = []
    for raw in opts.volumes:
        spec = parse_volume_flag(raw, opts.cwd)
        vflags.append(spec)
        if spec.type == "volume" and not spec.source:
            volumes[spec.target] = {}
            continue
        binds.append(absolute_bind(raw, opts.cwd))
    mflags = [parse_mount_flag(raw, opts.cwd) for raw in opts.mounts] + list(opts.mount_specs)
    tflags = [parse_tmpfs_flag(raw) for raw in opts.tmpfs]
    check_duplicates([*vflags, *mflags, *tflags])
    for raw in opts.volumes_from:
        parse_volumes_from(raw)
    check_network(opts.network)
    tmpfs = {raw.partition(":")[0]: raw.partition(":")[2] for raw in opts.tmpfs}
    name, _, count = opts.restart.partition(":")
    if count and not count.isdigit():
        name, count = opts.restart, ""  # the engine refuses it, with its own text
    host: dict[str, Any] = {
        "Binds": binds or None, "Mounts": [to_api_mount(s) for s in mflags] or None,
        "Tmpfs": tmpfs or None, "VolumesFrom": list(opts.volumes_from) or None,
        "NetworkMode": opts.network, "AutoRemove": opts.auto_remove,
        "Runtime": opts.runtime, "ReadonlyRootfs": opts.read_only,
        "RestartPolicy": {"Name": name, "MaximumRetryCount": int(count or 0)},
        "LogConfig": {"Type": "json-file", "Config": dict(opts.log_opts)},
        "Memory": opts.memory, "PidsLimit": opts.pids_limit, "NanoCpus": opts.nano_cpus,
        "CapAdd": list(opts.cap_add) or None, "CapDrop": list(opts.cap_drop) or None,
        "Init": opts.init, "Privileged": opts.privileged,
    }
    if console is not None and opts.tty:
        host["ConsoleSize"] = console
    body: dict[str, Any] = {
        "Image": opts.image, "Cmd": list(opts.command) or None, "Env": list(opts.env),
        "WorkingDir": opts.working_dir, "User": opts.user, "Hostname": opts.hostname,
        "Labels": dict(opts.labels), "Volumes": volumes or None, "Tty": opts.tty,
        "OpenStdin": opts.interactive, "StdinOnce": opts.interactive and "stdin" in streams,
        "AttachStdin": "stdin" in streams, "AttachStdout": "stdout" in streams,
        "AttachStderr": "stderr" in streams, "StopSignal": opts.stop_signal,
        "HostConfig": host,
    }
    if opts.entrypoint is not None:
        body["Entrypoint"] = list(opts.entrypoint)
    if opts.stop_timeout is not None:
        body["StopTimeout"] = opts.stop_timeout
    return body


def start_error(err: OrlopError) -> OrlopError:
    """A failed start's exit code from its message, as the docker CLI reads it: 127 for
    a command not found, 126 for one that cannot be run, else 125."""
    from orlop.errors import RuntimeFailedError

    text = str(err)
    if "executable file not found" in text or "no such file or directory" in text:
        return RuntimeFailedError(text, 127)
    if "permission denied" in text or "is a directory" in text:
        return RuntimeFailedError(text, 126)
    return err


class _Terminal:
    """Our side of a remote terminal: raw mode for stdin (with ``-i``), the size sent
    on start and on SIGWINCH, signals proxied to the container (``--sig-proxy``)."""

    def __init__(self, *, raw: bool, resize: Callable[[int, int], None] | None,
                 proxy: Callable[[int], None] | None) -> None:
        self.saved: Any = None
        self.handlers: dict[int, Any] = {}
        if raw and os.isatty(0):
            import termios
            import tty

            self.saved = termios.tcgetattr(0)
            tty.setraw(0)
        if resize is not None and os.isatty(1):
            def winch(_s: int = 0, _f: object = None) -> None:
                size = _terminal_size(1)
                if size:
                    with contextlib.suppress(Exception):
                        resize(size[0], size[1])

            self.handlers[signal.SIGWINCH] = signal.signal(signal.SIGWINCH, winch)
            winch()
        if proxy is not None:
            def forward(signum: int, _f: object) -> None:
                with contextlib.suppress(Exception):
                    proxy(signum)

            for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                      signal.SIGUSR1, signal.SIGUSR2):
                self.handlers[s] = signal.signal(s, forward)

    def restore(self) -> None:
        for s, h in self.handlers.items():
            signal.signal(s, h)
        if self.saved is not None:
            import termios

            termios.tcsetattr(0, termios.TCSADRAIN, self.saved)


def _pump_stdin(h: Hijacked) -> None:
    """Our stdin to the container until EOF, then the end of its input."""
    try:
        while data := os.read(0, 65536):
            h.send(data)
    except OSError:
        pass
    h.close_write()


def relay(h: Hijacked, *, stdin: bool) -> None:
    """The container's output to our stdout/stderr until the server ends the stream,
    our stdin (with ``stdin``) to it meanwhile."""
    if stdin:
        threading.Thread(target=_pump_stdin, args=(h,), daemon=True).start()
    else:
        h.close_write()
    sys.stdout.flush()
    try:
        for n, data in h.frames():
            _write_all(2 if n == 2 else 1, data)
    finally:
        h.close()


class RemoteContainers:
    api: APIClient

    # --- create / run / start ------------------------------------------------------

    def container_create(self, opts: RunOptions) -> str:
        return self.api.create_container(create_body(opts), opts.name)

    def container_run(self, opts: RunOptions, streams: frozenset[str]) -> int:
        """docker run in the foreground: create, attach, wait (registered first), start,
        relay, the exit code (the container removed by the server with ``--rm``)."""
        from orlop.errors import OrlopError

        console = _terminal_size(1) if opts.tty else None
        cid = self.api.create_container(create_body(opts, streams, console), opts.name)
        api = self.api
        try:
            h = api.attach_container(cid, stdin="stdin" in streams and opts.interactive,
                                     stdout="stdout" in streams,
                                     stderr="stderr" in streams)
        except OrlopError:
            if opts.auto_remove:
                with contextlib.suppress(OrlopError):
                    api.remove_container(cid, force=True, volumes=True)
            raise
        waiter = api.open_wait(cid, "removed" if opts.auto_remove else "next-exit")
        try:
            api.start_container(cid)
        except OrlopError as err:
            h.close()
            waiter.close()
            if opts.auto_remove:
                with contextlib.suppress(OrlopError):
                    api.remove_container(cid, force=True, volumes=True)
            raise start_error(err) from None
        term = _Terminal(raw=opts.tty and opts.interactive and "stdin" in streams,
                         resize=(lambda hh, ww: api.resize_container(cid, hh, ww))
                         if opts.tty else None,
                         proxy=lambda s: api.kill_container(cid, str(s)))
        try:
            relay(h, stdin="stdin" in streams and opts.interactive)
        finally:
            term.restore()
        return waiter.result()

    def container_run_detached(self, opts: RunOptions) -> str:
        from orlop.errors import OrlopError

        cid = self.api.create_container(create_body(opts), opts.name)
        try:
            self.api.start_container(cid)
        except OrlopError as err:
            if opts.auto_remove:
                with contextlib.suppress(OrlopError):
                    self.api.remove_container(cid, force=True, volumes=True)
            raise start_error(err) from None
        return cid

    def container_start(self, ref: str) -> None:
        from orlop.errors import OrlopError

        try:
            self.api.start_container(ref)
        except OrlopError as err:
            raise start_error(err) from None

    def container_start_attached(self, ref: str, interactive: bool) -> int:
        from orlop.errors import OrlopError

        info = self.api.inspect_container(ref)
        cid, cfg = str(info["Id"]), info.get("Config") or {}
        tty = bool(cfg.get("Tty"))
        stdin = interactive and bool(cfg.get("OpenStdin"))
        auto_remove = bool((info.get("HostConfig") or {}).get("AutoRemove"))
        api = self.api
        h = api.attach_container(cid, stdin=stdin)
        waiter = api.open_wait(cid, "removed" if auto_remove else "next-exit")
        try:
            api.start_container(cid)
        except OrlopError as err:
            h.close()
            waiter.close()
            raise start_error(err) from None
        term = _Terminal(raw=tty and stdin,
                         resize=(lambda hh, ww: api.resize_container(cid, hh, ww))
                         if tty else None,
                         proxy=lambda s: api.kill_container(cid, str(s)))
        try:
            relay(h, stdin=stdin)
        finally:
            term.restore()
        return waiter.result()

    # --- reading -------------------------------------------------------------------

    def container_list(self, all_: bool, filters: dict[str, list[str]] | None,
                       limit: int = -1) -> list[dict[str, Any]]:
        return self.api.containers(all_=all_, filters=filters, limit=limit)

    def container_inspect(self, ref: str) -> dict[str, Any]:
        return self.api.inspect_container(ref)

    def container_top(self, ref: str, ps_args: list[str]) -> dict[str, Any]:
        return self.api.top_container(ref, ps_args)

    def container_logs(self, ref: str, opts: LogOptions) -> None:
        frames: Iterator[tuple[int, bytes]] = self.api.container_logs(ref, {
            "stdout": True, "stderr": True, "follow": opts.follow,
            "tail": "all" if opts.tail < 0 else opts.tail, "since": opts.since or None,
            "until": opts.until or None, "timestamps": opts.timestamps,
            "details": opts.details or None})
        for n, data in frames:
            _write_all(2 if n == 2 else 1, data)

    # --- lifecycle -----------------------------------------------------------------

    def container_remove(self, ref: str, force: bool, volumes: bool) -> None:
        self.api.remove_container(ref, force=force, volumes=volumes)

    def container_prune(self, filters: dict[str, list[str]] | None) -> dict[str, Any]:
        return self.api.prune_containers(filters)

    def container_stop(self, ref: str, timeout: int | None, sig: str | None) -> None:
        self.api.stop_container(ref, timeout, sig)

    def container_restart(self, ref: str, timeout: int | None, sig: str | None) -> None:
        self.api.restart_container(ref, timeout, sig)

    def container_kill(self, ref: str, sig: str) -> None:
        self.api.kill_container(ref, sig)

    def container_wait(self, ref: str) -> int:
        return self.api.wait_container(ref)

    def container_pause(self, ref: str, paused: bool) -> None:
        self.api.pause_container(ref, paused)

    def container_rename(self, ref: str, name: str) -> None:
        self.api.rename_container(ref, name)

    # --- attach / exec -------------------------------------------------------------

    def container_attach(self, ref: str, *, stdin: bool, sig_proxy: bool) -> int:
        info = self.api.inspect_container(ref)
        cid = str(info["Id"])
        stdin = stdin and bool((info.get("Config") or {}).get("OpenStdin"))
        tty = bool((info.get("Config") or {}).get("Tty"))
        api = self.api
        h = api.attach_container(cid, stdin=stdin)
        term = _Terminal(raw=tty and stdin,
                         resize=(lambda hh, ww: api.resize_container(cid, hh, ww))
                         if tty else None,
                         proxy=(lambda s: api.kill_container(cid, str(s)))
                         if sig_proxy else None)
        try:
            relay(h, stdin=stdin)
        finally:
            term.restore()
        return api.wait_container(cid)

    def container_exec(self, ref: str, opts: ExecOptions) -> int:
        """docker exec: exec create, a hijacked exec start (none with ``-d``), the exit
        code from exec inspect once the stream ends."""
        console = _terminal_size(1) if opts.tty else None
        body: dict[str, Any] = {
            "AttachStdin": opts.interactive and not opts.detach,
            "AttachStdout": not opts.detach, "AttachStderr": not opts.detach,
            "Tty": opts.tty, "Cmd": list(opts.command), "Env": list(opts.env),
            "WorkingDir": opts.workdir, "User": opts.user, "Privileged": False}
        if console is not None:
            body["ConsoleSize"] = console
        api = self.api
        eid = api.create_exec(ref, body)
        h = api.start_exec(eid, tty=opts.tty, detach=opts.detach)
        if h is None:
            return 0
        term = _Terminal(raw=opts.tty and opts.interactive,
                         resize=(lambda hh, ww: api.resize_exec(eid, hh, ww))
                         if opts.tty else None, proxy=None)
        try:
            relay(h, stdin=opts.interactive)
        finally:
            term.restore()
        code = api.inspect_exec(eid).get("ExitCode")
        return int(code) if code is not None else 0
