"""The remote backend: orlopd through the Docker Engine API (podman's "tunnel" side)."""

from __future__ import annotations

from orlop.cli.backend.containers import RemoteContainers
from orlop.cli.backend.data import RemoteData
from orlop.cli.backend.images import RemoteImages
from orlop.cli.backend.monitoring import RemoteMonitoring
from orlop.cli.backend.networks import RemoteNetworks
from orlop.cli.backend.system import RemoteSystem
from orlop.cli.backend.volumes import RemoteVolumes
from orlop.client import APIClient, TLSOptions


class RemoteBackend(RemoteContainers, RemoteImages, RemoteVolumes, RemoteSystem, RemoteData,
                   RemoteMonitoring, RemoteNetworks):
    remote = True

    def __init__(self, host: str, tls: TLSOptions | None = None) -> None:
        self.api = APIClient(host, tls)
