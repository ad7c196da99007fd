"""A typed client of the Docker Engine API over a unix socket or TLS (the RemoteBackend's)."""

from orlop.client.api import APIClient, APIError
from orlop.client.transport import Endpoint, TLSOptions

__all__ = ["APIClient", "APIError", "Endpoint", "TLSOptions"]
