"""How the remote CLI reads a failed start: the docker CLI's exit codes from the
daemon's message (the local backend has the engine's typed errors instead)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from orlop.errors import OrlopError


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


