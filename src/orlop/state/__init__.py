"""The SQLite store shared by every `orlop` process on a host."""

from orlop.state import inflight
from orlop.state.db import Database

__all__ = ["Database", "inflight"]
