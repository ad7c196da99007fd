"""How the container init reports a failure across the fork: one exception, one JSON line.

The init (C2) runs in a forked child; its errors travel to the caller as
``{"message", "errno", "exec"}`` over a close-on-exec pipe and become an
``orlop.errors.RuntimeFailedError`` there (``launcher.exit_code_for`` picks 125/126/127).
"""

from __future__ import annotations

import errno as errno_mod
import json
import os

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any


class InitStepError(Exception):
    """A step of the container init failed; ``message`` already names the step."""

    def __init__(self, message: str, errno: int = 0, exec_failure: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.errno = errno
        self.exec_failure = exec_failure


def describe(err: BaseException) -> str:
    """A one-line text for an error, without Python's ``[Errno N]`` noise."""
    if isinstance(err, InitStepError):
        return err.message
    if isinstance(err, OSError) and err.strerror:
        text = err.strerror
        if err.filename and not str(err.filename).startswith("/proc/self/fd/"):
            text += f": {err.filename}"
        return text
    return f"{type(err).__name__}: {err}"


def step_error(step: str, err: BaseException) -> InitStepError:
    """Wrap ``err`` so its message starts with the step that failed (runc's style)."""
    if isinstance(err, InitStepError):
        if err.exec_failure:
            return err
        return InitStepError(f"{step}: {err.message}", err.errno)
    code = err.errno if isinstance(err, OSError) and err.errno else errno_mod.EIO
    return InitStepError(f"{step}: {describe(err)}", code)


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode() + b"\n"


def report(fd: int, err: InitStepError) -> None:
    """Best effort: the reader may be gone (``create`` returned), then nobody is listening."""
    try:
        os.write(fd, encode({"message": err.message, "errno": err.errno,
                             "exec": err.exec_failure}))
    except OSError:
        pass
