"""`orlop stats`."""

from __future__ import annotations

from orlop.cli.context import Context, UsageError


def main(name: str, argv: list[str], ctx: Context) -> int:
    raise UsageError(f"'{name}' is not available in this Orlop version")
