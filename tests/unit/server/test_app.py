"""The API app in-process (aiohttp's test client): routing, versions, errors, volumes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aiohttp")

from aiohttp.test_utils import TestClient, TestServer

from orlop.config import EngineConfig
from orlop.errors import (
    ConflictError,
    ImageNotFoundError,
    InvalidParameterError,
    UnsupportedError,
)
from orlop.server.app import build_app
from orlop.server.context import ServerContext
from orlop.server.errors import PayloadTooLargeError, status_for
from orlop.server.streams import frame


def run(tmp_path: Path, body: Callable[[TestClient[Any, Any]], Awaitable[None]]) -> None:
    async def main() -> None:
        ctx = ServerContext(config=EngineConfig.from_env(str(tmp_path / "root")), workers=2,
                            body_limit=4096)
        async with TestClient(TestServer(build_app(ctx))) as client:
            await body(client)

    asyncio.run(main())


def test_status_for_maps_error_kinds_to_docker_codes() -> None:
    assert status_for(ImageNotFoundError("x")) == 404
    assert status_for(ConflictError("x")) == 409
    assert status_for(InvalidParameterError("x")) == 400
    assert status_for(UnsupportedError("x")) == 501
    assert status_for(PayloadTooLargeError("x")) == 413
    assert status_for(RuntimeError("x")) == 500


def test_frame_has_docker_stream_header() -> None:
    assert frame(2, b"ab") == b"\x02\x00\x00\x00\x00\x00\x00\x02ab"


def test_ping_versioned_and_unversioned_paths(tmp_path: Path) -> None:
    async def body(c: TestClient[Any, Any]) -> None:
        for path in ("/_ping", "/v1.41/_ping", "/v1.45/_ping"):
            r = await c.get(path)
            assert r.status == 200 and await r.text() == "OK"
            assert r.headers["Api-Version"] == "1.45"
        r = await c.head("/_ping")
        assert r.status == 200
        r = await c.get("/v1.46/_ping")
        assert r.status == 400
        r = await c.get("/v1.22/_ping")  # skopeo's docker-daemon: transport
        assert r.status == 200
        r = await c.get("/v1.12/_ping")  # dockerd 20.10's floor
        assert r.status == 200
        r = await c.get("/v1.11/_ping")
        assert r.status == 400
        assert (await r.json())["message"] == (
            "client version 1.11 is too old. Minimum supported API version is 1.12, "
            "please upgrade your client to a newer version")

    run(tmp_path, body)


def test_unknown_path_is_docker_404(tmp_path: Path) -> None:
    async def body(c: TestClient[Any, Any]) -> None:
        r = await c.get("/v1.45/no/such/thing")
        assert r.status == 404 and await r.json() == {"message": "page not found"}

    run(tmp_path, body)


def test_volume_create_inspect_list_remove_in_process(tmp_path: Path) -> None:
    async def body(c: TestClient[Any, Any]) -> None:
        r = await c.post("/volumes/create", json={"Name": "v1", "Labels": {"a": "b"}})
        assert r.status == 201 and (await r.json())["Name"] == "v1"
        r = await c.get("/volumes", params={"filters": json.dumps({"label": ["a=b"]})})
        assert [v["Name"] for v in (await r.json())["Volumes"]] == ["v1"]
        r = await c.get("/volumes/v1")
        assert (await r.json())["Labels"] == {"a": "b"}
        r = await c.delete("/volumes/v1")
        assert r.status == 204
        r = await c.get("/volumes/v1")
        assert r.status == 404 and (await r.json())["message"] == "No such volume: v1"

    run(tmp_path, body)


def test_bad_bodies_are_400_or_413(tmp_path: Path) -> None:
    async def body(c: TestClient[Any, Any]) -> None:
        hdr = {"Content-Type": "application/json"}
        for raw in (b"{", b"[]", b'{"Name": 1}', b'{"DriverOpts": "x"}'):
            r = await c.post("/volumes/create", data=raw, headers=hdr)
            assert r.status == 400, raw
        r = await c.post("/volumes/create", data=b'{"Name":"' + b"x" * 5000 + b'"}',
                         headers=hdr)
        assert r.status == 413
        r = await c.get("/volumes", params={"filters": "{bad"})
        assert r.status == 400
        r = await c.post("/containers/create", json={"Image": "busybox", "HostConfig": {
            "Mounts": [{"Type": "nope", "Target": "/x"}]}})
        assert r.status == 400
        r = await c.get("/v1.45/volumes")
        assert (await r.json())["Volumes"] == []

    run(tmp_path, body)


def test_pull_from_unreachable_registry_is_an_error_at_once(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def body(c: TestClient[Any, Any]) -> None:
        r = await c.post("/images/create",
                         params={"fromImage": f"127.0.0.1:{port}/nothere", "tag": "1"})
        assert r.status == 500
        assert "connection refused" in (await r.json())["message"]

    run(tmp_path, body)
