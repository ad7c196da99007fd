"""Swarm endpoints answer as dockerd on a node in no swarm (503 and dockerd's words)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aiohttp")

from aiohttp.test_utils import TestClient, TestServer

from orlop.config import EngineConfig
from orlop.server.app import build_app
from orlop.server.context import ServerContext
from orlop.server.routes.swarm import NOT_A_MANAGER, NOT_IN_SWARM


def run(tmp_path: Path, body: Callable[[TestClient[Any, Any]], Awaitable[None]]) -> None:
    async def main() -> None:
        ctx = ServerContext(config=EngineConfig.from_env(str(tmp_path / "root")), workers=2,
                            body_limit=4096)
        async with TestClient(TestServer(build_app(ctx))) as client:
            await body(client)

    asyncio.run(main())


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
