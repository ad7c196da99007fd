"""The engine facade: the one place that uses images, volumes, state and the runtime together.

``Engine`` is loaded on first use (a module ``__getattr__``): the modules below the
facade (services, stores, events, reconciliation) are imported without it, as the CLI's
volume verbs do (engine/root.py's RootServices).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from orlop.engine.engine import Engine

__all__ = ["Engine"]


def __getattr__(name: str) -> object:
    if name == "Engine":
        from orlop.engine.engine import Engine

        return Engine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
