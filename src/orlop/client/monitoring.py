"""Monitoring endpoints: /events, /containers/{id}/stats, /containers/{id}/update."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from orlop.client.base import BaseClient, quote


class MonitoringAPI(BaseClient):
    def events(self, since: str = "", until: str = "",
               filters: Mapping[str, Sequence[str]] | None = None) -> Iterator[dict[str, Any]]:
        """``GET /events``: one dict per event as the server sends it (for ever without
        ``until``).  The request is made before this returns, so an error (a bad
        filter) is raised here, not at the first ``next``."""
        params = {"since": since or None, "until": until or None,
                  "filters": {k: list(v) for k, v in filters.items()} if filters else None}
        conn, resp = self.open_stream("GET", "/events", params)
        return _json_lines(conn, resp)

    def container_stats(self, ref: str, *, stream: bool = True,
                        one_shot: bool = False) -> Iterator[dict[str, Any]]:
        """``GET /containers/{id}/stats``: Docker's stats objects, one per second while
        ``stream``, else one."""
        conn, resp = self.open_stream(
            "GET", f"/containers/{quote(ref)}/stats",
            {"stream": stream, "one-shot": one_shot if one_shot else None})
        return _json_lines(conn, resp)

    def update_container(self, ref: str, body: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = self.json("POST", f"/containers/{quote(ref)}/update",
                                        body=dict(body))
        return out


def _json_lines(conn: Any, resp: Any) -> Iterator[dict[str, Any]]:
    try:
        while True:
            line = resp.readline()
            if not line:
                return
            if line.strip():
                yield json.loads(line)
    finally:
        conn.close()
