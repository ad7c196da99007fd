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




def distribution_inspect(ref: str, creds: Credentials | None = None) -> dict[str, Any]:
    from orlop.distribution.inspect import distribution_inspect as inspect

    return inspect(ref, creds)


def credentials_from_header(value: str) -> Credentials:
    """``X-Registry-Auth``: base64url JSON (``username``, ``password``, ``auth``,
    ``identitytoken``), as the docker CLI and docker-py send it; empty means anonymous."""
    import base64
    import binascii
    import json

    from orlop.distribution.credentials import Credentials
    from orlop.errors import InvalidParameterError

    value = value.strip()
    if not value:
        return Credentials()
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        doc = json.loads(raw) if raw.strip() else {}
    except (ValueError, binascii.Error):
        raise InvalidParameterError("invalid X-Registry-Auth header") from None
    if not isinstance(doc, dict):
        raise InvalidParameterError("invalid X-Registry-Auth header")
    user, password = str(doc.get("username") or ""), str(doc.get("password") or "")
    if not user and doc.get("auth"):
        try:
            user, _, password = base64.b64decode(str(doc["auth"])).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise InvalidParameterError("invalid X-Registry-Auth header") from None
    token = str(doc.get("identitytoken") or "")
    return Credentials(user, password, token)


__all__ = ["credentials_from_header", "distribution_inspect", "login", "pull", "push"]
