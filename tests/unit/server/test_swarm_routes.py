"""Swarm endpoints answer as dockerd on a node in no swarm (503 and dockerd's words)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aiohttp")

from aiohttp.test_utils import TestClient
from test_app import run  # the app on a private root, one client (tests/unit/server)

from orlop.server.routes.swarm import NOT_A_MANAGER, NOT_IN_SWARM


def test_swarm_calls_get_dockerds_503_outside_a_swarm(tmp_path: Path) -> None:
    async def body(c: TestClient[Any, Any]) -> None:
        # docker-py's leave_swarm(force=True) takes this 503 as "nothing to leave".
        r = await c.post("/v1.45/swarm/leave?force=True")
        assert r.status == 503 and await r.json() == {"message": NOT_IN_SWARM}
        for method, path in (("GET", "/swarm"), ("GET", "/v1.45/nodes"),
                             ("GET", "/services/abc"), ("POST", "/v1.41/secrets/create"),
                             ("DELETE", "/configs/x"), ("GET", "/tasks/t/logs")):
            r = await c.request(method, path)
            assert r.status == 503, (method, path)
            assert await r.json() == {"message": NOT_A_MANAGER}

    run(tmp_path, body)


def test_swarm_init_and_join_are_refused(tmp_path: Path) -> None:
    async def body(c: TestClient[Any, Any]) -> None:
        for path in ("/swarm/init", "/v1.45/swarm/join"):
            r = await c.post(path, json={})
            assert r.status == 501
            assert "no swarm mode" in (await r.json())["message"]

    run(tmp_path, body)
