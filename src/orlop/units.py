"""Docker's size units (go-units): ``RAMInBytes`` to read a size, ``HumanSize`` and
``BytesSize`` to print one.

One copy for every layer, so that ``--memory``, ``update --memory``, ``--log-opt
max-size``, ``--mount tmpfs-size`` and the local volume driver's ``size`` read sizes
alike, and the CLI's tables and the pull progress print them alike.  A leaf module (it
imports nothing of Orlop), beside errors.py, so that mounts/, volumes/, engine/, cli/
and distribution/ may all import it.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Final

# go-units RAMInBytes: a decimal number, at most one space, an optional binary unit
# (k m g t p, either case) with optional "i" and "b": "512", "1g", "1.5GiB", "10 MB".
_RAM_RE: Final = re.compile(r"(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?")
_BINARY_MULTIPLIERS: Final = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30,
                              "t": 1 << 40, "p": 1 << 50}

_DECIMAL_UNITS: Final = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
_BINARY_UNITS: Final = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")


def ram_in_bytes(text: str) -> int:
    """Docker's ``units.RAMInBytes``: ``1g`` = 1 GiB (binary multiples, ``b``/``ib``
    optional, case-insensitive), ``1.5GB`` = 1610612736, ``512`` = 512 bytes.

    As Docker, the number goes through a float (``int64(size * mul)``), so a fraction of
    a byte is cut off.  No sign, no surrounding space: ``-1`` is not a size (callers for
    which ``-1`` means "unlimited" test for it first).

    Raises:
        ValueError: Docker's text, ``invalid size: '<text>'``.
    """
    match = _RAM_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid size: '{text}'")
    unit = (match.group(2) or "").lower()
    return int(float(match.group(1)) * _BINARY_MULTIPLIERS[unit])


def _scaled(size: float, base: float, units: tuple[str, ...]) -> tuple[float, str]:
    i = 0
    while size >= base and i < len(units) - 1:
        size /= base
        i += 1
    return size, units[i]


def human_size(size: float, precision: int = 3) -> str:
    """go-units ``HumanSizeWithPrecision``: decimal (1000-based) units, ``%.<p>g``.

    ``4261550`` -> ``4.26MB``.  ``docker images`` and ``stats`` use precision 3;
    go-units ``HumanSize`` (prune totals, pull progress) is precision 4.
    """
    value, unit = _scaled(size, 1000.0, _DECIMAL_UNITS)
    return f"{value:.{precision}g}{unit}"


def bytes_size(size: float) -> str:
    """go-units ``BytesSize``: binary (1024-based) units, ``%.4g``: ``1.5MiB``."""
    value, unit = _scaled(size, 1024.0, _BINARY_UNITS)
    return f"{value:.4g}{unit}"
