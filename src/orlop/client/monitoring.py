"""Monitoring endpoints: /events, /containers/{id}/stats, /containers/{id}/update."""

from __future__ import annotations

from orlop.client.base import BaseClient


class MonitoringAPI(BaseClient):
    pass
