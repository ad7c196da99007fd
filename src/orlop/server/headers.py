"""What every response says about the server, and the API version of a request: the
leaf the middleware (app.py), the routes and the streams all import, so that none of
them imports app.py (which imports every route to build its table)."""

from __future__ import annotations

import platform

from aiohttp import web

from orlop import __version__
from orlop.wire.version import API_VERSION


def version_tuple(text: str) -> tuple[int, int]:
    """``1.45`` -> ``(1, 45)``, for comparing API versions."""
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


def api_version(request: web.Request) -> str:
    """The version the client asked for, or the server's own."""
    v = request.match_info.get("version")
    return v[1:] if v else API_VERSION


def server_headers() -> dict[str, str]:
    return {"Api-Version": API_VERSION, "Docker-Experimental": "false", "Ostype": "linux",
            "Server": f"Orlop/{__version__} ({platform.system().lower()})"}
