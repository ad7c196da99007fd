"""The client of the Docker Engine API: one method per endpoint, Docker's wire dicts in
and out, one module per endpoint group (the RemoteBackend's, and any Python caller's)."""

from __future__ import annotations

from orlop.client.archive import ArchiveAPI
from orlop.client.base import APIError
from orlop.client.containers import ContainerAPI
from orlop.client.images import BuildAPI, ImageAPI
from orlop.client.monitoring import MonitoringAPI
from orlop.client.networks import NetworkAPI
from orlop.client.registry import RegistryAPI
from orlop.client.system import SystemAPI
from orlop.client.volumes import VolumeAPI
from orlop.wire.version import API_VERSION

__all__ = ["API_VERSION", "APIClient", "APIError"]


class APIClient(ContainerAPI, ImageAPI, VolumeAPI, SystemAPI, ArchiveAPI, MonitoringAPI,
                RegistryAPI, NetworkAPI, BuildAPI):
    """All endpoint groups over one endpoint (unix socket, or TCP with TLS)."""
