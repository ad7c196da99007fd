"""A typed client of the Docker Engine API over a unix socket (the RemoteBackend's)."""

from orlop.client.api import APIClient, APIError

__all__ = ["APIClient", "APIError"]
