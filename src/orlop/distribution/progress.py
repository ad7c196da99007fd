"""What a pull or push reports as it goes, in Docker's words.

The distribution code calls a :class:`Progress`; the CLI renders it (a line per layer on
a terminal, plain lines otherwise) and orlopd turns it into Docker's JSON messages
(``{"status": "Downloading", "progressDetail": {...}, "id": "..."}``).  Calls may come
from several download threads at once: implementations lock.
"""

from __future__ import annotations

from typing import Protocol

from orlop.units import human_size


class Progress(Protocol):
    def message(self, text: str, id: str = "") -> None:
        """A line, shown ``id: text`` when ``id`` is set (``latest: Pulling from
        library/busybox`` is ``id="latest"``, as Docker's JSON message has it)."""

    def layer(self, layer_id: str, status: str, current: int = 0, total: int = 0) -> None:
        """A layer's status; ``current``/``total`` set for Downloading/Pushing/Extracting."""


class Silent:
    """``-q``: nothing but the final name (the caller prints it)."""

    def message(self, text: str, id: str = "") -> None:
        pass

    def layer(self, layer_id: str, status: str, current: int = 0, total: int = 0) -> None:
        pass


def progress_bar(current: int, total: int) -> str:
    """Docker's ``JSONProgress.String()``: ``[=====>     ]  1.04MB/2.14MB``."""
    width = 50
    if total <= 0:
        return f"{human_size(current, 4):>8}"
    pct = min(width, int(current * width / total))
    bar = "=" * pct + (">" if pct < width else "") + " " * max(0, width - pct - 1)
    # go-units HumanSize: 4 significant digits, ``1.088MB``.
    return f"[{bar}] {human_size(current, 4):>8}/{human_size(total, 4)}"


def short(digest: str) -> str:
    """The 12-hex id Docker shows for a layer."""
    return digest.removeprefix("sha256:")[:12]


__all__ = ["Progress", "Silent", "progress_bar", "short"]
