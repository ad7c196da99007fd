"""Data calls of the backends."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orlop.client import APIClient
    from orlop.engine import Engine


class LocalData:
    engine: Engine


class RemoteData:
    api: APIClient
