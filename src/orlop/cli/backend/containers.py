"""Container calls of the backends: create/run/start, the lifecycle verbs, ps, logs,
attach, exec, inspect.

Both sides take the same arguments and give the same Docker-shaped dicts, or write the
same bytes to the same descriptors (``Stdio``: ours are 0, 1, 2).  Local calls are the
engine's, with the real descriptors (``orlop run`` in the foreground is
``Engine.create_container`` and ``Engine.start_attached``, as ``Engine.run``).
Remote calls are the docker CLI's conversation with the daemon: ``run`` is create,
attach (a hijacked connection), start, wait; ``exec`` is exec create and a hijacked exec
start; a terminal is put in raw mode and its size sent on SIGWINCH.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable, Iterator

from orlop.cli.backend.starterror import start_error
from orlop.kernel.fdio import write_all
from orlop.tuples import NamedTuple

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any

    from orlop.client import APIClient
    from orlop.engine import Engine
    from orlop.engine.containers.attach import MonitorAttach
    from orlop.engine.containers.exec import ExecOptions
    from orlop.engine.containers.logs import LogCursor
    from orlop.engine.runoptions import RunOptions

STREAMS = ("stdin", "stdout", "stderr")


def _nothing(_cid: str) -> None:
    """The default of ``container_run``'s ``created``: no ``--cidfile``."""


class LogOptions(NamedTuple):
    follow: bool = False
    tail: int = -1  # -1: all
    since: str = ""
    until: str = ""
    timestamps: bool = False
    details: bool = False


class LocalContainers:
    engine: Engine

    # --- create / run / start ------------------------------------------------------

    def container_create(self, opts: RunOptions) -> str:
        return self.engine.create_container(opts).id

    def container_run(self, opts: RunOptions, streams: frozenset[str],
                      detach_keys: str = "", created: Callable[[str], None] = _nothing,
                      ) -> int:
        """Foreground: the engine with our own descriptors (an unattached output stream
        goes to /dev/null, as Docker's ``-a`` leaves it out).  ``created`` is given the
        container's ID before it starts (``--cidfile``).

        ``-it`` on a terminal is the exception: the container is started under its own
        monitor and attached to (:meth:`_start_and_attach`), so that the detach keys
        leave it running, with its log and input there for the next attach, as Docker."""
        from orlop.engine.containers.procio import Stdio

        if streams >= set(STREAMS) and _detachable(opts.tty, opts.interactive,
                                                    opts.runtime or self.engine.config.runtime):
            from orlop.detachkeys import resolve_detach_keys

            resolve_detach_keys(detach_keys)  # refused before anything is made
            c = self.engine.create_container(opts)
            created(c.id)
            return self._start_and_attach(c.id, detach_keys, opts.auto_remove)

        c = self.engine.create_container(opts)
        created(c.id)
        if streams >= {"stdout", "stderr"} and (not opts.interactive or "stdin" in streams):
            return self.engine.start_attached(c.id, Stdio(stdin=0, stdout=1, stderr=2),
                                              interactive=opts.interactive)
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            return self.engine.start_attached(c.id, Stdio(
                stdin=0 if "stdin" in streams else null,
                stdout=1 if "stdout" in streams else null,
                stderr=2 if "stderr" in streams else null), interactive=opts.interactive)
        finally:
            os.close(null)

    def image_present(self, ref: str) -> bool:
        """Whether ``ref`` names a local image (``run``'s ``--pull missing``): the
        store's lookup alone, not the inspect JSON (wire/images.py, ~7 ms of a run).
        Here, not with the images calls: ``run`` works on the container calls alone
        (Context.container_backend) unless it has to pull."""
        from orlop.errors import NotFoundError

        try:
            self.engine.images.get(ref)
        except NotFoundError:
            return False
        return True

    def container_run_detached(self, opts: RunOptions) -> str:
        return self.engine.run_detached(opts).id

    def container_start(self, ref: str) -> None:
        self.engine.start_detached(ref)

    def container_start_attached(self, ref: str, interactive: bool,
                                 detach_keys: str = "") -> int:
        from orlop.engine.containers.procio import Stdio

        c = self.engine.get_container(ref)
        if interactive and c.config.open_stdin and _detachable(
                c.config.tty, True, c.runtime or self.engine.config.runtime):
            from orlop.detachkeys import resolve_detach_keys
            from orlop.errors import ContainerStateError

            resolve_detach_keys(detach_keys)
            if c.alive:
                raise ContainerStateError(f"container {c.id} is already running")
            return self._start_and_attach(c.id, detach_keys, c.host_config.auto_remove)
        return self.engine.start_attached(ref, Stdio(0, 1, 2), interactive=interactive)

    def _start_and_attach(self, cid: str, detach_keys: str, auto_remove: bool) -> int:
        """Start ``cid`` under its monitor with our terminal's size, and attach to it
        from the first byte of its output (the log read from where it ends now)."""
        from orlop.cli.backend.terminal import terminal_size
        from orlop.engine.containers.console import request_size
        from orlop.engine.containers.logs import LogCursor
        from orlop.errors import OrlopError

        engine = self.engine
        size = terminal_size(1)
        if size:
            request_size(engine.config, cid, size[0], size[1])
        cursor = LogCursor(engine.log_path(engine.get_container(cid)))
        cursor.open_end()
        try:
            engine.start_detached(cid)
        except BaseException:
            cursor.close()
            if auto_remove:
                with contextlib.suppress(OrlopError):
                    engine.remove_container(cid, force=True, volumes=True)
            raise
        return self.container_attach(cid, stdin=True, sig_proxy=False,
                                     detach_keys=detach_keys, cursor=cursor)

    # --- reading -------------------------------------------------------------------

    def container_list(self, all_: bool, filters: dict[str, list[str]] | None,
                       limit: int = -1, size: bool = False) -> list[dict[str, Any]]:
        from orlop.wire.ps import list_summaries

        return list_summaries(self.engine, all_=all_, filters=filters, limit=limit,
                              size=size)

    def container_inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        from orlop.wire.inspect import inspect_container

        return inspect_container(self.engine, ref, size)

    def container_changes(self, ref: str) -> list[dict[str, Any]]:
        return [{"Path": ch.path, "Kind": ch.kind}
                for ch in self.engine.container_changes(ref)]

    def container_top(self, ref: str, ps_args: list[str]) -> dict[str, Any]:
        titles, rows = self.engine.top_container(ref, ps_args)
        return {"Titles": titles, "Processes": rows}

    def container_logs(self, ref: str, opts: LogOptions) -> None:
        from orlop.engine.containers.logs import Entry, parse_since, stream_log

        engine = self.engine
        c = engine.get_container(ref)
        path = engine.log_path(c)

        def emit(e: Entry) -> None:
            data = e.time.encode() + b" " + e.data if opts.timestamps else e.data
            write_all(2 if e.stream == "stderr" else 1, data)

        # One reader for history and follow: the follow goes on where the history ended.
        for e in stream_log(path, tail=opts.tail, since=parse_since(opts.since),
                            until=parse_since(opts.until),
                            follow_=opts.follow and engine.is_running(c),
                            still_running=lambda: engine.is_running(c)):
            emit(e)

    # --- lifecycle -----------------------------------------------------------------

    def container_remove(self, ref: str, force: bool, volumes: bool, *,
                         link: bool = False) -> None:
        if link:
            self.engine.remove_link(ref)
            return
        self.engine.remove_container(ref, force=force, volumes=volumes)

    def container_prune(self, filters: dict[str, list[str]] | None) -> dict[str, Any]:
        from orlop.wire.prune import prune_containers

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

    def container_attach(self, ref: str, *, stdin: bool, sig_proxy: bool,
                         detach_keys: str = "", cursor: LogCursor | None = None) -> int:
        """Follow the container's output (its log) from now on, feed our stdin to its
        stdin FIFO, forward SIGINT/SIGTERM/SIGHUP with ``sig_proxy``; its exit code.

        With a terminal our own is put in raw mode (no local echo, no line editing, the
        terminal's replies go to the container and not to our shell afterwards) and
        restored on every way out; the detach keys end the attach, the container runs
        on (:class:`~orlop.detachkeys.Detached`)."""
        from orlop.cli.backend.terminal import Terminal
        from orlop.detachkeys import Detached, resolve_detach_keys
        from orlop.engine.containers.attach import MonitorAttach
        from orlop.engine.containers.console import resize
        from orlop.errors import OrlopError

        engine = self.engine
        c = engine.get_container(ref)
        tty = c.config.tty
        attach_stdin = stdin and c.config.open_stdin
        keys = resolve_detach_keys(detach_keys) if tty and attach_stdin else b""
        handlers = {}
        if sig_proxy and not tty:
            def proxy(signum: int, _frame: object) -> None:
                with contextlib.suppress(OrlopError):
                    engine.signal_container(c.id, str(signum))

            for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                handlers[s] = signal.signal(s, proxy)

        def resize_to(height: int, width: int) -> None:
            with contextlib.suppress(OrlopError):
                resize(engine.containers, engine.config, c, height, width)

        term = Terminal(raw=tty and attach_stdin, resize=resize_to if tty else None,
                        proxy=None)
        feeder = 0
        detached = False
        att = MonitorAttach(engine.config, c.id, cursor=cursor)
        try:
            if attach_stdin:
                feeder = _feed_fifo(att, keys)

            def attached() -> bool:
                nonlocal detached, feeder
                if feeder > 0:
                    got, status = os.waitpid(feeder, os.WNOHANG)
                    if got:
                        feeder = 0
                        detached = os.waitstatus_to_exitcode(status) == _DETACHED
                return not detached

            for e in att.output(attached):
                write_all(2 if e.stream == "stderr" else 1, e.data)
                if detached:
                    break
        finally:
            att.close()
            term.restore()
            for s, h in handlers.items():
                signal.signal(s, h)
            if feeder > 0:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(feeder, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(feeder, 0)
        if detached:
            raise Detached()
        return engine.wait_container(c.id)

    def container_exec(self, ref: str, opts: ExecOptions) -> int:
        """The process's exit code; one that could not be started is reported as the
        docker CLI shows dockerd's (and orlopd's) exec stream: its message on stdout
        ending in "\\r\\n" (moby writes the start's error to the exec's stdout), 126/127."""
        from orlop.engine.containers.exec import exec_container
        from orlop.engine.containers.procio import Stdio
        from orlop.errors import RuntimeFailedError

        try:
            return exec_container(self.engine, ref, opts, Stdio(0, 1, 2))
        except RuntimeFailedError as err:
            write_all(1, f"{err}\r\n".encode())
            return err.exit_code



class LocalContainerVerbs(LocalContainers):
    """The container calls alone over the in-process engine: ``exec``'s backend
    (Context.container_backend), without the other areas' mixins that LocalBackend
    composes and ``exec`` never calls (~1 ms of its imports)."""

    remote = False

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

_DETACHED = 3  # the feeder's exit code when it read the detach keys


def _detachable(tty: bool, interactive: bool, runtime: str) -> bool:
    """Whether a foreground start can be a start under the monitor plus an attach (so
    that the detach keys work): a terminal container with its input from our terminal,
    on the built-in runtime (the monitor gives a terminal to no other yet)."""
    return tty and interactive and os.isatty(0) and (runtime or "orlop") == "orlop"


def _feed_fifo(att: MonitorAttach, keys: bytes = b"") -> int:
    """A child copying our stdin into the container's stdin FIFO until EOF or the
    detach ``keys`` (then it exits with ``_DETACHED``); its pid."""
    pid = os.fork()
    if pid:
        return pid
    from orlop.detachkeys import EscapeScanner

    scanner = EscapeScanner(keys)
    code = 0
    try:
        fd = att.open_input()
        while True:
            data = os.read(0, 65536)
            if not data:
                break
            data = scanner.feed(data)
            if data:
                write_all(fd, data)
            if scanner.detached:
                code = _DETACHED
                break
    except OSError:
        code = 1
    os._exit(code)


# --- remote -------------------------------------------------------------------------


class RemoteContainers:
    api: APIClient

    # --- create / run / start ------------------------------------------------------

    def container_create(self, opts: RunOptions) -> str:
        from orlop.wire.create import create_body  # not at start-up: it costs 3 ms

        return self.api.create_container(create_body(opts), opts.name, opts.platform)

    def container_run(self, opts: RunOptions, streams: frozenset[str],
                      detach_keys: str = "", created: Callable[[str], None] = _nothing,
                      ) -> int:
        """docker run in the foreground: create, attach, wait (registered first), start,
        relay, the exit code (the container removed by the server with ``--rm``);
        ``created`` is given the ID once the container exists (``--cidfile``).

        Raises:
            Detached: the detach keys were typed (the container runs on).
        """
        from orlop.cli.backend.terminal import Terminal, relay, terminal_size
        from orlop.detachkeys import resolve_detach_keys
        from orlop.errors import OrlopError
        from orlop.wire.create import create_body  # not at start-up: it costs 3 ms

        console = terminal_size(1) if opts.tty else None
        cid = self.api.create_container(create_body(opts, streams, console), opts.name,
                                         opts.platform)
        created(cid)
        api = self.api
        try:
            h = api.attach_container(cid, stdin="stdin" in streams and opts.interactive,
                                     stdout="stdout" in streams,
                                     stderr="stderr" in streams, detach_keys=detach_keys)
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
        term = Terminal(raw=opts.tty and opts.interactive and "stdin" in streams,
                         resize=(lambda hh, ww: api.resize_container(cid, hh, ww))
                         if opts.tty else None,
                         proxy=lambda s: api.kill_container(cid, str(s)))
        stdin = "stdin" in streams and opts.interactive
        try:
            relay(h, stdin=stdin, detach_keys=resolve_detach_keys(detach_keys)
                  if opts.tty and stdin else b"")
        except BaseException:
            waiter.close()
            raise
        finally:
            term.restore()
        return waiter.result()

    def container_run_detached(self, opts: RunOptions) -> str:
        from orlop.errors import OrlopError
        from orlop.wire.create import create_body  # not at start-up: it costs 3 ms

        cid = self.api.create_container(create_body(opts), opts.name, opts.platform)
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

    def container_start_attached(self, ref: str, interactive: bool,
                                 detach_keys: str = "") -> int:
        from orlop.cli.backend.terminal import Terminal, relay
        from orlop.detachkeys import resolve_detach_keys
        from orlop.errors import OrlopError

        info = self.api.inspect_container(ref)
        cid, cfg = str(info["Id"]), info.get("Config") or {}
        tty = bool(cfg.get("Tty"))
        stdin = interactive and bool(cfg.get("OpenStdin"))
        auto_remove = bool((info.get("HostConfig") or {}).get("AutoRemove"))
        api = self.api
        h = api.attach_container(cid, stdin=stdin, detach_keys=detach_keys)
        waiter = api.open_wait(cid, "removed" if auto_remove else "next-exit")
        try:
            api.start_container(cid)
        except OrlopError as err:
            h.close()
            waiter.close()
            raise start_error(err) from None
        term = Terminal(raw=tty and stdin,
                         resize=(lambda hh, ww: api.resize_container(cid, hh, ww))
                         if tty else None,
                         proxy=lambda s: api.kill_container(cid, str(s)))
        try:
            relay(h, stdin=stdin,
                  detach_keys=resolve_detach_keys(detach_keys) if tty and stdin else b"")
        except BaseException:
            waiter.close()
            raise
        finally:
            term.restore()
        return waiter.result()

    # --- reading -------------------------------------------------------------------

    def container_list(self, all_: bool, filters: dict[str, list[str]] | None,
                       limit: int = -1, size: bool = False) -> list[dict[str, Any]]:
        return self.api.containers(all_=all_, filters=filters, limit=limit, size=size)

    def container_inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        return self.api.inspect_container(ref, size=size)

    def container_changes(self, ref: str) -> list[dict[str, Any]]:
        return self.api.container_changes(ref)

    def container_top(self, ref: str, ps_args: list[str]) -> dict[str, Any]:
        return self.api.top_container(ref, ps_args)

    def container_logs(self, ref: str, opts: LogOptions) -> None:
        frames: Iterator[tuple[int, bytes]] = self.api.container_logs(ref, {
            "stdout": True, "stderr": True, "follow": opts.follow,
            "tail": "all" if opts.tail < 0 else opts.tail, "since": opts.since or None,
            "until": opts.until or None, "timestamps": opts.timestamps,
            "details": opts.details or None})
        for n, data in frames:
            write_all(2 if n == 2 else 1, data)

    # --- lifecycle -----------------------------------------------------------------

    def container_remove(self, ref: str, force: bool, volumes: bool, *,
                         link: bool = False) -> None:
        self.api.remove_container(ref, force=force, volumes=volumes, link=link)

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

    def container_attach(self, ref: str, *, stdin: bool, sig_proxy: bool,
                         detach_keys: str = "", cursor: LogCursor | None = None) -> int:
        from orlop.cli.backend.terminal import Terminal, relay
        from orlop.detachkeys import resolve_detach_keys

        info = self.api.inspect_container(ref)
        cid = str(info["Id"])
        stdin = stdin and bool((info.get("Config") or {}).get("OpenStdin"))
        tty = bool((info.get("Config") or {}).get("Tty"))
        api = self.api
        h = api.attach_container(cid, stdin=stdin, detach_keys=detach_keys)
        term = Terminal(raw=tty and stdin,
                         resize=(lambda hh, ww: api.resize_container(cid, hh, ww))
                         if tty else None,
                         proxy=(lambda s: api.kill_container(cid, str(s)))
                         if sig_proxy and not tty else None)
        try:
            relay(h, stdin=stdin,
                  detach_keys=resolve_detach_keys(detach_keys) if tty and stdin else b"")
        finally:
            term.restore()
        return api.wait_container(cid)

    def container_exec(self, ref: str, opts: ExecOptions) -> int:
        """docker exec: exec create, a hijacked exec start (none with ``-d``), the exit
        code from exec inspect once the stream ends."""
        from orlop.cli.backend.terminal import Terminal, relay, terminal_size

        console = terminal_size(1) if opts.tty else None
        body: dict[str, Any] = {
            "AttachStdin": opts.interactive and not opts.detach,
            "AttachStdout": not opts.detach, "AttachStderr": not opts.detach,
            "Tty": opts.tty, "Cmd": list(opts.command), "Env": list(opts.env),
            "WorkingDir": opts.workdir, "User": opts.user, "Privileged": False}
        if console is not None:
            body["ConsoleSize"] = console
        if opts.detach_keys_text:
            body["DetachKeys"] = opts.detach_keys_text
        api = self.api
        eid = api.create_exec(ref, body)
        h = api.start_exec(eid, tty=opts.tty, detach=opts.detach)
        if h is None:
            return 0
        term = Terminal(raw=opts.tty and opts.interactive,
                         resize=(lambda hh, ww: api.resize_exec(eid, hh, ww))
                         if opts.tty else None, proxy=None)
        try:
            relay(h, stdin=opts.interactive)
        finally:
            term.restore()
        info = api.inspect_exec(eid)
        if opts.tty and opts.interactive and info.get("Running"):
            # orlopd ended the stream on the detach keys and the process runs on
            from orlop.detachkeys import Detached

            raise Detached
        code = info.get("ExitCode")
        return int(code) if code is not None else 0
