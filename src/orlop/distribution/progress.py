"""What a pull or push reports as it goes, in Docker's words.

The distribution code calls a :class:`Progress`; the CLI renders it (a line per layer on
a terminal, plain lines otherwise) and orlopd turns it into Docker's JSON messages
(``{"status": "Downloading", "progressDetail": {...}, "id": "..."}``).  Calls may come
from several download threads at once: implementations lock.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def message(self, text: str) -> None:
        """A line without a layer id (``latest: Pulling from library/busybox``)."""

    def layer(self, layer_id: str, status: str, current: int = 0, total: int = 0) -> None:
        """A layer's status; ``current``/``total`` set for Downloading/Pushing/Extracting."""


class Silent:
    """``-q``: nothing but the final name (the caller prints it)."""

    def message(self, text: str) -> None:
        pass

    def layer(self, layer_id: str, status: str, current: int = 0, total: int = 0) -> None:
        pass


def short(digest: str) -> str:
    """The 12-hex id Docker shows for a layer."""
    return digest.removeprefix("sha256:")[:12]


__all__ = ["Progress", "Silent", "short"]
