"""The stores and services of one engine root, without the verbs.

What the container verbs below the facade (engine/containers/, files/, net/, repair.py)
are handed when they need most of them: a container run touches the container
records, the images, the volumes, the networks and the event log.  A verb that needs
fewer takes only those.  A monitor or prober process makes its own from the
configuration; the CLI and orlopd use them as engine/root.py's ``RootServices`` (roots
prepared, state reconciled), which the facade (engine/engine.py) extends with the verbs
and the CLI's volume verbs use alone.
"""

from __future__ import annotations

import contextlib
from functools import cached_property

from orlop.errors import OrlopError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms)
if TYPE_CHECKING:
    from collections.abc import Mapping

    from orlop.config import EngineConfig
    from orlop.engine.events import EventLog
    from orlop.engine.models import Container
    from orlop.engine.store import ContainerStore
    from orlop.images.store import ImageStore
    from orlop.network.service import NetworkService
    from orlop.state import Database
    from orlop.volumes.service import VolumeService


class Services:
    """Opened lazily: a command pays only for the services it uses."""

    def __init__(self, config: EngineConfig, db: Database) -> None:
        self.config = config
        self.db = db

    @cached_property
    def containers(self) -> ContainerStore:
        """The container records; opened on first use, so that `volume ls` does not import
        the container models."""
        from orlop.engine.store import ContainerStore

        return ContainerStore(self.db)

    @cached_property
    def images(self) -> ImageStore:
        from orlop.images.store import ImageStore

        store = ImageStore(self.config, self.db)
        store.on_event = self.image_event
        return store

    @cached_property
    def volumes(self) -> VolumeService:
        from orlop.volumes.service import VolumeService

        service = VolumeService(self.config, self.db)
        service.on_event = self.volume_event
        # Reconciled before first use: a `volume rm` right after a killed `run` must
        # not find the volume "in use" by references the kill left.
        self.__dict__["volumes"] = service  # reconcile() uses it: no second one
        self.reconcile()
        return service

    @cached_property
    def networks(self) -> NetworkService:
        from orlop.network.service import NetworkService

        service = NetworkService(self.config, self.db)
        service.on_event = self.events.network
        return service

    @cached_property
    def events(self) -> EventLog:
        """The event log (engine/events.py): every verb records Docker's events in it."""
        from orlop.engine.events import EventLog

        return EventLog(self.config.root)

    def reconcile(self, force: bool = False) -> None:
        """Repair what a killed process left behind: the facade's to do
        (engine/engine.py); a container's monitor never does, or it would take its own
        container for dead."""

    def get_container(self, ref: str) -> Container:
        """By full id, name or unique id prefix, once the state is reconciled."""
        self.reconcile()
        return self.containers.resolve(ref)

    def list_containers(self, all_: bool = False) -> list[Container]:
        """Newest first, once the state is reconciled; without ``all_`` the live ones."""
        self.reconcile()
        cs = self.containers.list_all()
        return cs if all_ else [c for c in cs if c.alive]

    def volume_event(self, name: str, action: str, attributes: Mapping[str, str]) -> None:
        """A volume event into the log, opened at the first one (``volume ls`` and
        ``inspect`` record none, and do not import the event log's module)."""
        self.events.volume(name, action, attributes)

    def image_event(self, image_id: str, action: str, name: str) -> None:
        """Image events carry the image's labels (moby LogImageEvent), unless it is gone."""
        labels: dict[str, str] = {}
        if action != "delete":
            with contextlib.suppress(OrlopError):
                cfg = self.images.get(image_id).config.get("config") or {}
                labels = {str(k): str(v) for k, v in (cfg.get("Labels") or {}).items()}
        self.events.image(image_id, action, name, labels)

    def close(self) -> None:
        if "events" in self.__dict__:
            self.events.close()
        self.db.close()


def open_services(config: EngineConfig) -> Services:
    """The services of ``config``'s root, for a process of its own (a container's
    monitor): no reconciliation, which is the CLI's and the server's to run."""
    from orlop.state import Database

    return Services(config, Database(config.db_path))
