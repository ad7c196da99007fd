"""Orlop: a container engine for Linux built around its containers' data."""

__version__ = "0.1.0"
__all__ = ["__version__"]


def _install_modcache() -> None:
    """Orlop's and the standard library's modules from one compiled file (orlop/modcache.py
    says why and when it is not used); ``ORLOP_NO_MODCACHE=1`` imports as Python does."""
    import os

    if os.environ.get("ORLOP_NO_MODCACHE") != "1":
        from orlop.modcache import install

        install(__path__[0])


_install_modcache()
