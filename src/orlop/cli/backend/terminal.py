"""Our end of a remote container's streams: the terminal (raw mode, size, signals) and
the relay of a hijacked connection to our stdin/stdout/stderr."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable

from orlop.kernel.fdio import write_all

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any

    from orlop.client.containers import Hijacked


def terminal_size(fd: int = 1) -> list[int] | None:
    """[height, width] of our terminal (Docker's ConsoleSize order), None if none."""
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return None
    return [size.lines, size.columns]


class Terminal:
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
                size = terminal_size(1)
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


def pump_stdin(h: Hijacked, keys: bytes = b"",
               on_detach: Callable[[], None] = lambda: None) -> None:
    """Our stdin to the container until EOF, then the end of its input; with detach
    ``keys`` (a terminal's input) until they are typed: then ``on_detach()`` and the
    connection ended without the end of input (the container runs on), as the docker
    CLI does."""
    from orlop.detachkeys import EscapeScanner

    scanner = EscapeScanner(keys)
    try:
        while data := os.read(0, 65536):
            data = scanner.feed(data)
            if data:
                h.send(data)
            if scanner.detached:
                on_detach()
                h.abort()
                return
    except OSError:
        pass
    h.close_write()


def relay(h: Hijacked, *, stdin: bool, detach_keys: bytes = b"") -> None:
    """The container's output to our stdout/stderr until the server ends the stream,
    our stdin (with ``stdin``) to it meanwhile.

    Raises:
        Detached: the detach keys were typed (the container runs on).
    """
    from orlop.detachkeys import Detached

    detached = threading.Event()
    if stdin:
        threading.Thread(target=pump_stdin, args=(h, detach_keys, detached.set),
                         daemon=True).start()
    else:
        h.close_write()
    sys.stdout.flush()
    try:
        for n, data in h.frames():
            write_all(2 if n == 2 else 1, data)
    except OSError:
        if not detached.is_set():
            raise
    finally:
        h.close()
    if detached.is_set():
        raise Detached()
