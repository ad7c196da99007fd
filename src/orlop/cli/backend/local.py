"""The in-process backend: the engine, called directly (podman's "abi" side)."""

from __future__ import annotations

from orlop.cli.backend.containers import LocalContainers
from orlop.cli.backend.data import LocalData
from orlop.cli.backend.images import LocalImages
from orlop.cli.backend.monitoring import LocalMonitoring
from orlop.cli.backend.networks import LocalNetworks
from orlop.cli.backend.system import LocalSystem
from orlop.cli.backend.volumes import LocalVolumes

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from orlop.engine import Engine


class LocalBackend(LocalContainers, LocalImages, LocalVolumes, LocalSystem, LocalData,
                   LocalMonitoring, LocalNetworks):
    remote = False
    engine: Engine

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
