"""Orlop: a container engine for Linux built around its containers' data."""

__version__ = "0.1.0"
__all__ = ["__version__"]
