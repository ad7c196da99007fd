"""``/containers/{id}/exec`` and ``/exec/{id}/...``: create, start, inspect, resize.

An exec instance lives in the server's memory (as in moby, whose exec store is not
persisted either).  ``start`` runs ``orlop.engine.containers.exec.exec_container`` in a helper
process (it forks: see server/monitor.py) whose stdio are pipes to the server: its output
is relayed to the client (framed when there is no tty), the client's input to its stdin,
and its exit code recorded before the stream ends, because the docker CLI reads it with
``GET /exec/{id}/json`` as soon as the stream closes.

With ``Tty`` the pty lives in the helper: its size when the process starts is the
``ConsoleSize`` of the create or start body, or the last ``resize`` made before the start
(docker-py's ``exec_resize`` may come first); later resizes go to the helper over a pipe
(``Helper.resize``), which sets them on the master, and the kernel sends SIGWINCH.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from orlop.errors import ContainerStateError, InvalidParameterError, NotFoundError
from orlop.server import helpers
from orlop.server.context import ctx_of
from orlop.server.streams import (
    console_size,
    copy_input,
    detach_keys_of,
    finish,
    frame,
    open_stream,
    run_on,
    safe_write,
    tty_size,
    until_detached,
)
from orlop.server.wire import json_body, json_response

if TYPE_CHECKING:
    from orlop.engine import Engine
    from orlop.server.helpers import Helper
    from orlop.server.routing import Routes

_MAX_FINISHED = 1000  # finished instances kept for inspect (moby prunes them too)


@dataclass
class ExecInstance:
    id: str
    container_id: str
    cmd: list[str]
    tty: bool
    attach_stdin: bool
    attach_stdout: bool
    attach_stderr: bool
    env: list[str] = field(default_factory=list)
    workdir: str = ""
    user: str = ""
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    console_size: tuple[int, int] | None = None  # (rows, cols) for the pty at start
    detach_keys: str = ""  # DetachKeys of the create body ("": Ctrl-P Ctrl-Q)
    detached: bool = False  # started with Detach: not followed (and without a pty)
    helper: Helper | None = None  # while an attached start runs

    def inspect(self) -> dict[str, Any]:
        return {
            "ID": self.id, "Running": self.running, "ExitCode": self.exit_code,
            "ProcessConfig": {"tty": self.tty, "entrypoint": self.cmd[0] if self.cmd else "",
                              "arguments": self.cmd[1:], "privileged": False,
                              "user": self.user},
            "OpenStdin": self.attach_stdin, "OpenStderr": self.attach_stderr,
            "OpenStdout": self.attach_stdout, "CanRemove": False,
            "ContainerID": self.container_id, "DetachKeys": self.detach_keys,
            "Pid": self.pid}

    def options(self, detach: bool) -> dict[str, Any]:
        """engine.exec.ExecOptions, as JSON for the helper."""
        return {"command": self.cmd, "detach": detach,
                "interactive": self.attach_stdin and not detach, "tty": self.tty,
                "env": self.env, "workdir": self.workdir, "user": self.user,
                "exec_id": self.id}


_EXECS = web.AppKey("orlop_execs", dict)


def _execs(request: web.Request) -> dict[str, ExecInstance]:
    store: dict[str, ExecInstance] = request.app[_EXECS]
    return store


def _get(request: web.Request) -> ExecInstance:
    inst = _execs(request).get(request.match_info["id"])
    if inst is None:
        raise NotFoundError(f"No such exec instance: {request.match_info['id']}")
    return inst


def _str_list(body: dict[str, Any], key: str) -> list[str]:
    value = body.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidParameterError(f"invalid {key}: expected a list of strings")
    return list(value)


async def create(request: web.Request) -> web.Response:
    ctx = ctx_of(request)
    ref = request.match_info["id"]
    body = await json_body(request, ctx.body_limit)
    cmd = _str_list(body, "Cmd")
    if not cmd:
        raise InvalidParameterError("No exec command specified")
    if body.get("Privileged"):
        raise InvalidParameterError("privileged exec is not supported by Orlop")

    def check(e: Engine) -> str:
        c = e.get_container(ref)
        if c.status == "paused":
            raise ContainerStateError(
                f"Container {c.id} is paused, unpause the container before exec")
        if c.status != "running" or not e.is_running(c):
            raise ContainerStateError(f"Container {c.id} is not running")
        return c.id

    # Go's JSON decoding matches field names case-insensitively: docker-py sends
    # "detachKeys", the docker CLI "DetachKeys".
    keys = str(body.get("DetachKeys") or body.get("detachKeys") or "")
    detach_keys_of(keys)  # a bad sequence: dockerd's 400 now, not at the start
    cid = await ctx.call(check)
    inst = ExecInstance(
        id=secrets.token_hex(32), container_id=cid, cmd=cmd, tty=bool(body.get("Tty")),
        attach_stdin=bool(body.get("AttachStdin")),
        attach_stdout=bool(body.get("AttachStdout")),
        attach_stderr=bool(body.get("AttachStderr")), env=_str_list(body, "Env"),
        workdir=str(body.get("WorkingDir") or ""), user=str(body.get("User") or ""),
        console_size=console_size(body.get("ConsoleSize")), detach_keys=keys)
    store = _execs(request)
    if len(store) >= _MAX_FINISHED:
        for old in [k for k, v in store.items() if v.started and not v.running][:100]:
            del store[old]
    store[inst.id] = inst
    return json_response({"Id": inst.id}, status=201)


async def start(request: web.Request) -> web.StreamResponse:
    ctx = ctx_of(request)
    body = await json_body(request, ctx.body_limit, required=False)
    inst = _get(request)
    if inst.started:
        raise ContainerStateError(f"Error: Exec command {inst.id} has already run")
    size = console_size(body.get("ConsoleSize")) or inst.console_size
    inst.started = True
    inst.running = True  # from here a resize is kept for the start (or sent to it)
    if body.get("Detach"):
        inst.detached = True
        try:
            await helpers.call(ctx, "exec", inst.container_id, spec=inst.options(True))
        finally:
            inst.running = False
        return web.Response(status=200)
    # moby's postContainerExecStart frames the output unless the START body says Tty
    # (docker-py's exec_start(tty=False), its default, reads frames even from a tty
    # exec); whether input is scanned for detach keys follows the exec's own terminal.
    raw = bool(body.get("Tty"))
    pipe = asyncio.subprocess.PIPE
    inst.console_size = size
    try:
        h = await helpers.spawn(ctx, "exec", inst.container_id, spec=inst.options(False),
                                stdin=pipe if inst.attach_stdin else None, stdout=pipe,
                                stderr=pipe, resizable=inst.tty,
                                console_size=size if inst.tty else None)
    except BaseException:
        inst.running = False
        raise
    if inst.tty and inst.console_size is not None and inst.console_size != size:
        h.resize(*inst.console_size)  # resized while the helper was being started
    inst.helper = h
    inst.pid = h.proc.pid or 0
    resp, client_input = await open_stream(request, tty=inst.tty, raw=raw,
                                           want_input=inst.attach_stdin,
                                           detach_keys=detach_keys_of(inst.detach_keys))
    gone = False

    async def pump(stream: asyncio.StreamReader | None, n: int, wanted: bool) -> None:
        nonlocal gone
        if stream is None:
            return
        while data := await stream.read(65536):
            if wanted and not gone and not await safe_write(resp, data if raw
                                                            else frame(n, data)):
                gone = True  # the client left: the process goes on, its output dropped

    async def feed() -> None:
        if client_input is not None and h.stdin is not None:
            await copy_input(client_input.queue, h.stdin)

    async def run() -> None:
        """Relay until the process ends, then record its exit (also after a detach:
        the process runs on without its client)."""
        feeder = asyncio.get_running_loop().create_task(feed())
        try:
            await asyncio.gather(pump(h.stdout, 1, inst.attach_stdout),
                                 pump(h.stderr, 2, inst.attach_stderr))
            out = await h.outcome()
        finally:
            feeder.cancel()
            if h.stdin is not None:
                h.stdin.close()  # the exec's stdin: nobody reads it any more
            inst.running = False
            inst.helper = None
            h.close_resize()
        if out.get("event") == "exit":
            inst.exit_code = int(out.get("code", 0))
        else:
            inst.exit_code = int(out.get("exit_code") or 126)
            # moby writes the start's error to the exec's stdout, with "\r\n"
            message = str(out.get("message", "exec failed")) + "\r\n"
            if not gone:
                await safe_write(resp, message.encode() if raw
                                 else frame(1, message.encode()))

    if not inst.tty:
        await run()  # no terminal: nothing to detach from, and it ends with its client
    else:
        work = asyncio.get_running_loop().create_task(run())
        if await until_detached(work, client_input, outlive_client=True):
            gone = True
            run_on(work)  # the process runs on; its exit is recorded when it ends
    await finish(resp)
    return resp


async def inspect(request: web.Request) -> web.Response:
    return json_response(_get(request).inspect())


async def resize(request: web.Request) -> web.Response:
    """moby's ContainerExecResize: the exec must exist and its container run.  Before the
    start the size is kept for it (moby waits up to 10 s for the start instead; keeping it
    lets a client resize then start from one thread); a running exec with a terminal gets
    it at once; one without a terminal (or detached: Orlop gives those no pty) ignores it,
    as containerd does for no terminal (200); a finished one is refused with Docker's
    text."""
    inst = _get(request)
    rows, cols = tty_size(request)

    def check(e: Engine) -> None:
        c = e.get_container(inst.container_id)
        if c.status == "paused":
            raise ContainerStateError(
                f"Container {c.id} is paused, unpause the container before exec")
        if c.status != "running" or not e.is_running(c):
            raise ContainerStateError(f"container {c.id} is not running")

    await ctx_of(request).call(check)
    if inst.detached:
        return web.Response(status=200)  # its process is not followed, and has no pty
    if inst.started and not inst.running:
        raise ContainerStateError(
            f"Exec {inst.id} is not running, so it can not be resized.")
    if inst.helper is not None:
        inst.helper.resize(rows, cols)
    else:
        inst.console_size = (rows, cols)
    return web.Response(status=200)


def register(routes: Routes) -> None:
    routes.app[_EXECS] = {}
    routes.add("POST", "/containers/{id}/exec", create)
    routes.add("POST", "/exec/{id}/start", start)
    routes.add("POST", "/exec/{id}/resize", resize)
    routes.add("GET", "/exec/{id}/json", inspect)
