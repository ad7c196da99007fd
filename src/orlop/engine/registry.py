"""``pull``, ``push`` and ``login`` for the engine: the distribution client over this
engine's image store, with Docker's image events (``pull``, ``push``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orlop.distribution.credentials import Credentials
    from orlop.distribution.progress import Progress
    from orlop.engine import Engine


def pull(engine: Engine, ref: str, *, platform: str = "", progress: Progress | None = None,
         creds: Credentials | None = None) -> dict[str, Any]:
    from orlop.distribution.pull import pull_image

    engine.images.reconcile()  # what a killed pull left in tmp/
    result = pull_image(engine.images, ref, platform=platform, progress=progress, creds=creds)
    engine._image_event(result.image_id, "pull", result.name)
    return {"Id": result.image_id, "Digest": result.digest, "Name": result.name,
            "UpToDate": result.up_to_date}


def push(engine: Engine, ref: str, *, progress: Progress | None = None,
         creds: Credentials | None = None) -> dict[str, Any]:
    from orlop.distribution.push import push_image

    result = push_image(engine.images, ref, progress=progress, creds=creds)
    image = engine.images.get(ref)
    engine._image_event(image.id, "push", ref)
    return {"Tag": result.tag, "Digest": result.digest, "Size": result.size}


def login(server: str, username: str, password: str) -> str:
    """Check credentials against ``server`` (``GET /v2/``); returns the config.json key.
    Nothing is stored here: the CLI stores, as the docker CLI does after ``/auth``."""
    from orlop.distribution.client import Registry
    from orlop.distribution.credentials import Credentials
    from orlop.distribution.http import Transport
    from orlop.distribution.reference import HUB_API_HOST, HUB_INDEX_SERVER, registry_key
    from orlop.distribution.settings import RegistrySettings

    key = registry_key(server)
    host = HUB_API_HOST if key == HUB_INDEX_SERVER else key
    transport = Transport(RegistrySettings.load())
    try:
        Registry(transport, host, Credentials(username, password)).ping()
    finally:
        transport.close()
    return key


__all__ = ["login", "pull", "push"]
