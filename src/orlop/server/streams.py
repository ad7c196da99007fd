"""Docker's stream framing and the connection hijack used by ``attach`` and ``exec``.

Without a tty, stdout and stderr share one stream: each chunk has an 8-byte header
``[stream, 0, 0, 0, size (uint32 big-endian)]`` (stream 1 = stdout, 2 = stderr), which
docker-py's ``frames_iter`` and the CLI's ``stdcopy`` read.  With a tty the bytes are raw.

A client that sends ``Connection: Upgrade`` / ``Upgrade: tcp`` (the docker CLI for
``attach``, docker-py's ``attach_socket``) gets ``101 UPGRADED`` and the TCP stream is
raw in both directions from then on.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncGenerator, Callable
from typing import Any

from aiohttp import web

STDIN, STDOUT, STDERR = 0, 1, 2
RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(data)) + data


_UINT32 = (1 << 32) - 1
_WINSIZE_MAX = 0xFFFF  # struct winsize's fields are unsigned short


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def tty_size(request: web.Request) -> tuple[int, int]:
    """``h`` and ``w`` of a resize request, parsed as moby does (``strconv.ParseUint``,
    its error text for a bad one, 400); a size beyond a terminal's is clamped to it."""
    from orlop.errors import InvalidParameterError

    out = []
    for key in ("h", "w"):
        text = request.query.get(key, "")
        if not text.isascii() or not text.isdigit():
            raise InvalidParameterError(
                f"strconv.ParseUint: parsing {_go_quote(text)}: invalid syntax")
        value = int(text)
        if value > _UINT32:
            raise InvalidParameterError(
                f"strconv.ParseUint: parsing {_go_quote(text)}: value out of range")
        out.append(min(value, _WINSIZE_MAX))
    return out[0], out[1]


def console_size(value: object) -> tuple[int, int] | None:
    """A ``ConsoleSize`` field (``[height, width]`` or null) of an exec's JSON body."""
    from orlop.errors import InvalidParameterError

    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= _UINT32
            for v in value):
        raise InvalidParameterError(
            "invalid ConsoleSize: expected [height, width], two unsigned integers")
    return min(value[0], _WINSIZE_MAX), min(value[1], _WINSIZE_MAX)


def wants_upgrade(request: web.Request) -> bool:
    conn = request.headers.get("Connection", "").lower()
    return "upgrade" in conn and request.headers.get("Upgrade", "").lower() == "tcp"


class _RawResponse(web.StreamResponse):
    """A response whose body is written as is: no chunked encoding, no length."""

    _length_check = False


DETACHED = b""  # queued once the client typed the detach keys: stop, keep stdin open


class _ClientInput:
    """Receives the raw bytes a hijacked client sends (its stdin) into a queue.

    With detach keys (a terminal's input: Docker detaches only those) the bytes go
    through moby's escape scan: the keys themselves never reach the process; once they
    are seen :data:`DETACHED` is queued (the copy stops without closing the process's
    stdin: it runs on) and :attr:`detached` is set (the stream ends)."""

    def __init__(self, keep: bool, detach_keys: bytes = b"", tty: bool = False) -> None:
        from orlop.detachkeys import EscapeScanner

        self.keep = keep  # False: the client's bytes are read and dropped
        self.tty = tty  # the client's EOF does not end a terminal's input (as dockerd)
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.scanner = EscapeScanner(detach_keys) if detach_keys and keep else None
        self.detached = asyncio.Event()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if data and self.keep and not self.detached.is_set():
            chunk = bytes(data)
            if self.scanner is not None:
                chunk = self.scanner.feed(chunk)
            if chunk:
                self.queue.put_nowait(chunk)
            if self.scanner is not None and self.scanner.detached:
                self.queue.put_nowait(DETACHED)
                self.detached.set()
        return False, b""

    def feed_eof(self) -> None:
        if not self.detached.is_set():
            # dockerd closes a process's stdin when its client's input ends only without
            # a terminal (container/stream: CloseStdin && !TTY): a terminal's client
            # that goes away (the docker CLI after its own detach) leaves it running.
            self.queue.put_nowait(DETACHED if self.tty else None)


class _HalfClose(asyncio.Protocol):
    """Stands between the transport and aiohttp's protocol on a hijacked connection, so
    that the client's EOF ends its input but not the connection."""

    def __init__(self, inner: asyncio.Protocol, reader: _ClientInput) -> None:
        self.inner = inner
        self.reader = reader

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool:
        self.reader.feed_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


async def open_stream(request: web.Request, *, tty: bool, want_input: bool,
                      detach_keys: bytes = b"", raw: bool | None = None,
                      ) -> tuple[web.StreamResponse, _ClientInput | None]:
    """Send the response head of an attach/exec stream; returns the response and, for a
    hijacked connection whose client sends stdin, the queue of its bytes (None = EOF;
    :data:`DETACHED` once ``detach_keys`` were read, with a terminal only).  ``raw``
    (default: ``tty``) says whether the output goes unframed: an exec's start decides
    that apart from its terminal."""
    media = RAW_STREAM if (tty if raw is None else raw) else MULTIPLEXED_STREAM
    from orlop.server.headers import server_headers

    headers = {**server_headers(), "Content-Type": media}
    client_input: _ClientInput | None = None
    if wants_upgrade(request):
        resp: web.StreamResponse = _RawResponse(status=101, reason="UPGRADED", headers={
            **headers, "Connection": "Upgrade", "Upgrade": "tcp"})
        await resp.prepare(request)
        # The docker CLI half-closes its side at once when it sends no stdin (and after
        # the last byte when it does): the output must keep flowing, so the transport
        # stays open on EOF (True) instead of asyncio's default of closing it.
        reader = _ClientInput(keep=want_input, detach_keys=detach_keys if tty else b"",
                              tty=tty)
        protocol = request.protocol
        protocol.set_parser(reader)  # type: ignore[arg-type]
        transport = request.transport
        if transport is not None:
            transport.set_protocol(_HalfClose(protocol, reader))
        if want_input:
            client_input = reader
        await _head_read(request)
    else:
        resp = web.StreamResponse(status=200, headers=headers)
        resp.enable_chunked_encoding()
        await resp.prepare(request)
    resp.force_close()
    return resp, client_input


# How long a hijacked stream's first bytes wait for the client to read the 101 head.
HEAD_READ_WAIT = 0.25


async def _head_read(request: web.Request) -> None:
    """Wait (briefly) until the client has read the 101 head, over a unix socket.

    docker-py reads the head with http.client, whose buffered reader takes whatever has
    arrived by then, and then reads the stream from the raw socket: bytes sent right
    behind the head (an exited container's logs, a quick exec's output) can be lost in
    that buffer, and ``attach(logs=True, stream=False)`` returns nothing.  dockerd wins
    that race by being slower; Orlop waits for the peer to consume the head: a unix
    socket's SIOCOUTQ counts the bytes the peer has not read yet.  Over TCP the kernel
    cannot tell, and nothing waits."""
    import socket

    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is None or sock.family != socket.AF_UNIX:
        return
    import fcntl
    import termios

    loop = asyncio.get_running_loop()
    deadline = loop.time() + HEAD_READ_WAIT
    while True:
        try:
            unread = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ,
                                                    b"\0\0\0\0"))[0]
        except OSError:
            return
        if unread <= 0 or loop.time() >= deadline:
            return
        await asyncio.sleep(0.001)


async def copy_input(source: asyncio.Queue[bytes | None], stdin: asyncio.StreamWriter,
                     stop: Callable[[], bool] = lambda: False) -> None:
    """A client's input (``None`` ends it) into a process's stdin, which is then closed
    (the process sees EOF); stops early when ``stop()`` says so or the pipe breaks, and
    on :data:`DETACHED` without closing it (the client detached: the process runs on)."""
    while (data := await source.get()) is not None and not stop():
        if data == DETACHED:
            return
        try:
            stdin.write(data)
            await stdin.drain()
        except (ConnectionError, OSError):
            return
    with contextlib.suppress(ConnectionError, OSError):
        stdin.close()


def detach_keys_of(text: str) -> bytes:
    """The API's ``detachKeys``/``DetachKeys``: Ctrl-P Ctrl-Q when empty, dockerd's 400
    for a bad sequence."""
    from orlop.detachkeys import resolve_detach_keys

    return resolve_detach_keys(text)


_BACKGROUND: set[asyncio.Task[Any]] = set()


def run_on(work: asyncio.Task[Any]) -> None:
    """Keep ``work`` (a process's relay) referenced until it ends by itself."""
    _BACKGROUND.add(work)
    work.add_done_callback(_BACKGROUND.discard)


async def until_detached(work: asyncio.Task[Any], client_input: _ClientInput | None,
                         outlive_client: bool = False) -> bool:
    """Wait for ``work`` (the stream's relay) or the client's detach keys, whichever
    first; True when the client detached (``work`` then goes on by itself).  A client
    that goes away cancels ``work``, unless ``outlive_client`` (a terminal's process,
    which dockerd leaves running when its client leaves)."""
    detached = None
    if client_input is not None and client_input.scanner is not None:
        detached = asyncio.get_running_loop().create_task(client_input.detached.wait())
    try:
        await asyncio.wait({work} | ({detached} if detached else set()),
                           return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        if outlive_client:
            run_on(work)
        else:
            work.cancel()
        raise
    finally:
        if detached is not None:
            detached.cancel()
    if work.done():
        work.result()
        return False
    return True


async def safe_write(resp: web.StreamResponse, data: bytes) -> bool:
    """Write to a client; False once it has gone away."""
    try:
        await resp.write(data)
    except (ConnectionError, RuntimeError):
        return False
    return True


async def finish(resp: web.StreamResponse) -> None:
    with contextlib.suppress(ConnectionError, RuntimeError):
        await resp.write_eof()


async def send_stream(request: web.Request, first: bytes,
                      rest: AsyncGenerator[bytes, None],
                      headers: dict[str, str]) -> web.StreamResponse:
    """A 200 whose body is ``first`` then ``rest`` (a tar from a helper); a client that
    goes away closes ``rest``, which stops its producer."""
    from orlop.server.headers import server_headers

    resp = web.StreamResponse(status=200, headers={**server_headers(), **headers})
    resp.enable_chunked_encoding()
    try:
        await resp.prepare(request)
        if await safe_write(resp, first):
            async for chunk in rest:
                if not await safe_write(resp, chunk):
                    break
    finally:
        await rest.aclose()
    await finish(resp)
    return resp
