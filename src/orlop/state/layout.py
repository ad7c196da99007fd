"""The engine root's directory modes, as Docker's /var/lib/docker: made so, and repaired.

An unprivileged host user must not list or traverse the root: volume data, container
upper dirs and layers hold other users' files, setuid binaries and device nodes.
Docker's root was 0711 until CVE-2021-41091 (GHSA-3fwx-pjgw-3558: unprivileged users
could traverse into container filesystems and run their setuid programs); since
20.10.9 it is 0710, ``volumes/`` 0701 and ``containers/`` 0710.  Orlop's roots were
0711 with a 0755 ``containers/``: ``prepare_root`` takes the extra bits away from
roots made by older versions the first time an engine opens them (a handful of
``fstat``s, a ``chmod`` only where a mode is wrong).
"""

from __future__ import annotations

import os
from pathlib import Path

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms)
if TYPE_CHECKING:
    from typing import Final

ROOT_MODE: Final = 0o710
# The most each known sub-directory may allow; a stricter mode is left as it is.
SUBDIR_MODES: Final = {
    "containers": 0o710,
    "volumes": 0o701,  # Docker's: others may pass (to nothing they can name), not list
    "layers": 0o700,
    "tarsplit": 0o700,
    "tmp": 0o700,
}


def prepare_root(root: Path) -> None:
    """Create ``root`` if missing (0710) and restrict it and its known sub-directories.

    The root itself may be a symlink (``/var/lib/orlop -> /data/orlop``); the
    sub-directories are opened without following one.

    Raises:
        OSError: the root cannot be created or opened.
    """
    try:
        os.mkdir(root, ROOT_MODE)
    except FileExistsError:
        pass
    except FileNotFoundError:
        os.makedirs(root.parent, 0o755, exist_ok=True)
        os.makedirs(root, ROOT_MODE, exist_ok=True)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _restrict(fd, ROOT_MODE)
        for name, allowed in SUBDIR_MODES.items():
            try:
                sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                              dir_fd=fd)
            except (FileNotFoundError, NotADirectoryError):
                continue
            try:
                _restrict(sub, allowed)
            finally:
                os.close(sub)
    finally:
        os.close(fd)


def _restrict(fd: int, allowed: int) -> None:
    """Clear every permission bit of ``fd`` outside ``allowed`` (mkdir's umask aside,
    the root is made exactly 0710)."""
    mode = os.fstat(fd).st_mode & 0o7777
    if mode & ~allowed:
        os.fchmod(fd, mode & allowed)
