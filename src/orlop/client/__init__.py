"""A typed client of the Docker Engine API over a unix socket or TLS (the RemoteBackend's).

The names load on first use: ``orlop.client.transport`` alone (what ``orlop --help`` and
the TLS flags need) must not pull in every endpoint group and the HTTP machinery.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing for `--help`
if TYPE_CHECKING:
    from orlop.client.api import APIClient, APIError
    from orlop.client.transport import Endpoint, TLSOptions

__all__ = ["APIClient", "APIError", "Endpoint", "TLSOptions"]


def __getattr__(name: str) -> object:
    if name in ("APIClient", "APIError"):
        from orlop.client import api

        return getattr(api, name)
    if name in ("Endpoint", "TLSOptions"):
        from orlop.client import transport

        return getattr(transport, name)
    raise AttributeError(name)
