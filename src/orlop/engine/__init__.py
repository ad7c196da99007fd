"""The engine facade: the one place that uses images, volumes, state and the runtime together."""

from orlop.engine.engine import Engine

__all__ = ["Engine"]
