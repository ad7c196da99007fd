"""``pull``, ``push`` and ``login`` for the engine: the distribution client over this
engine's image store, with Docker's image events (``pull``, ``push``)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from orlop.errors import OrlopError

if TYPE_CHECKING:
    from orlop.distribution.credentials import Credentials
    from orlop.distribution.progress import Progress
    from orlop.engine import Engine


def pull(engine: Engine, ref: str, *, platform: str = "", progress: Progress | None = None,
         creds: Credentials | None = None) -> dict[str, Any]:
    from orlop.distribution.pull import pull_image

    engine.images.reconcile()  # what a killed pull left in tmp/
    result = pull_image(engine.images, ref, platform=platform, progress=progress, creds=creds)
    _event(engine, result.image_id, "pull", ref)
    return {"Id": result.image_id, "Digest": result.digest, "Name": result.name,
            "UpToDate": result.up_to_date}


def push(engine: Engine, ref: str, *, progress: Progress | None = None,
         creds: Credentials | None = None) -> dict[str, Any]:
    from orlop.distribution.push import push_image

    result = push_image(engine.images, ref, progress=progress, creds=creds)
    image = engine.images.get(ref)
    _event(engine, image.id, "push", ref)
    return {"Tag": result.tag, "Digest": result.digest, "Size": result.size}


def _event(engine: Engine, image_id: str, action: str, ref: str) -> None:
    """Docker's pull/push event (moby ``LogImageEvent(FamiliarString(ref),
    FamiliarName(ref), action)``): the actor is the reference, tag defaulted
    (``busybox:latest``, ``127.0.0.1:5000/x@sha256:...``), not the image id; ``name`` is
    the repository alone; the image's labels come along."""
    from orlop.distribution.reference import parse_remote

    r = parse_remote(ref).with_tag_default()
    labels: dict[str, str] = {}
    with contextlib.suppress(OrlopError):
        cfg = engine.images.get(image_id).config.get("config") or {}
        labels = {str(k): str(v) for k, v in (cfg.get("Labels") or {}).items()}
    engine.events.image(str(r), action, r.familiar, labels)


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
        raw = base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_",
                               validate=True)
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


def volume_push(engine: Engine, name: str, ref: str, *, progress: Progress | None = None,
                creds: Credentials | None = None) -> dict[str, Any]:
    """``volume push``: export, zstd, upload (docs/distribution.md)."""
    import os
    import secrets
    from contextlib import suppress

    from orlop.distribution.artifact import VolumeArtifact, compress_export, push_volume
    from orlop.distribution.reference import parse_remote

    parse_remote(ref)  # a bad reference fails before the export runs
    vol = engine.volumes.get(name)
    tmp = engine.config.tmp_dir
    os.makedirs(tmp, mode=0o700, exist_ok=True)
    path = tmp / f"volpush-{os.getpid()}-{secrets.token_hex(6)}"
    try:
        with open(path, "xb") as f:
            digest, size, raw_size = compress_export(
                lambda fd: engine.volume_export(name, fd, checksum="sha256"), f)
        labels = None if vol.labels is None else {
            k: v for k, v in vol.labels.items() if k != "com.docker.volume.anonymous"}
        artifact = VolumeArtifact(vol.name, vol.driver, labels, raw_size)
        mdigest = push_volume(ref, artifact, path, digest, size, progress=progress,
                              creds=creds)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(path)
    return {"Digest": mdigest, "Size": size, "ExportSize": raw_size}


def volume_pull(engine: Engine, ref: str, name: str = "", *, force: bool = False,
                progress: Progress | None = None,
                creds: Credentials | None = None) -> dict[str, Any]:
    """``volume pull``: download (digest-checked) into a private file, then ``volume
    import`` (checksum-checked, extract-then-swap); an existing volume is refused
    unless ``force``.  On failure no file is left and a volume made by this pull is gone."""
    import os
    import secrets
    from contextlib import suppress

    from orlop.distribution.artifact import VolumeArtifact, fetch_volume
    from orlop.errors import ConflictError, VolumeNotFoundError
    from orlop.volumes.names import check_create_name

    if name:
        check_create_name(name, engine.config.volumes_dir)
    target = [name]

    def check(artifact: VolumeArtifact) -> None:
        target[0] = target[0] or artifact.name
        check_create_name(target[0], engine.config.volumes_dir)
        try:
            engine.volumes.get(target[0])
        except VolumeNotFoundError:
            return
        if not force:
            raise ConflictError(f"volume {target[0]} already exists: remove it first, or "
                                "use --force to replace its content")

    tmp = engine.config.tmp_dir
    os.makedirs(tmp, mode=0o700, exist_ok=True)
    path = tmp / f"volpull-{os.getpid()}-{secrets.token_hex(6)}"
    try:
        with open(path, "w+b") as f:
            _artifact, mdigest = fetch_volume(ref, f, progress=progress, creds=creds,
                                              check=check)
            f.seek(0)
            result = engine.volume_import(target[0], f, force=force)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(path)
    if progress is not None:
        progress.message(f"Status: Downloaded volume {result.volume.name} from {ref}")
    return {"Name": result.volume.name, "Digest": mdigest, "Created": result.created}
