"""``orlop dashboard``'s loopback port without an orlopd: the token, the Host check, the
paths it forwards, and a clear 502 when the socket does not answer."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import ClientSession

from orlop.cli.dashboardproxy import DashboardProxy


def test_gate_and_unreachable_socket(tmp_path: Path) -> None:
    async def go() -> None:
        proxy = DashboardProxy(str(tmp_path / "missing.sock"))
        await proxy.start()
        base = f"http://127.0.0.1:{proxy.port}"
        try:
            async with ClientSession() as s:
                async with s.get(base + "/dashboard/") as r:
                    assert r.status == 403
                async with s.get(base + "/dashboard/?token=x" + proxy.token) as r:
                    assert r.status == 403
                async with s.get(proxy.url, allow_redirects=False) as r:
                    assert r.status == 303 and r.headers["Location"] == "/dashboard/"
                    cookie = r.cookies[proxy.cookie]
                    assert cookie.value == proxy.token and cookie["httponly"]
                jar = {"Cookie": f"{proxy.cookie}={proxy.token}"}
                async with s.get(base + "/info", headers=jar) as r:
                    assert r.status == 404
                async with s.get(base + "/dashboard/", headers={
                        **jar, "Host": f"rebound.example:{proxy.port}"}) as r:
                    assert r.status == 403
                async with s.get(base + "/dashboard/", headers=jar) as r:
                    assert r.status == 502 and "did not answer" in await r.text()
        finally:
            await proxy.close()

    asyncio.run(go())
