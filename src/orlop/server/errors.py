"""The one mapping from Orlop's error kinds to HTTP status codes, and Docker's error body.

docker-py (``create_api_error_from_http_exception``) and the docker CLI read
``{"message": ...}``; the status decides which exception or exit path they take (404 is
``NotFound``/``ImageNotFound``, 409 a conflict), so every handler raises and this module
alone answers.
"""

from __future__ import annotations

from aiohttp import web

from orlop.errors import ErrorKind, OrlopError
from orlop.wire import gojson

STATUS: dict[ErrorKind, int] = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.INVALID: 400,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.UNSUPPORTED: 501,
    ErrorKind.SYSTEM: 500,
}


class PayloadTooLargeError(OrlopError):
    """A request body over the server's limit (security-principles F3)."""

    http_status = 413


class ForbiddenOriginError(OrlopError):
    """A browser request (an ``Origin`` header): refused, no CORS is configured (F2)."""

    http_status = 403


def status_for(exc: BaseException) -> int:
    """HTTP status of an exception: the kind of an OrlopError, 500 for anything else."""
    special = getattr(exc, "http_status", None)
    if isinstance(special, int):
        return special
    if isinstance(exc, OrlopError):
        return STATUS[exc.kind]
    return 500


def error_response(status: int, message: str) -> web.Response:
    """Docker's error body: ``{"message": "..."}`` with a JSON content type."""
    return web.Response(status=status, body=gojson.encode({"message": message}),
                        content_type="application/json")


def from_exception(exc: BaseException) -> web.Response:
    return error_response(status_for(exc), str(exc) or type(exc).__name__)
