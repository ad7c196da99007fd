"""``push``: an image from the store to a registry, as exactly what ``save`` writes.

Each layer is the tar ``save`` would write (its tar-split reassembled: the bytes its
diff_id names), the config is stored verbatim, the manifest is ``save``'s OCI manifest;
so the image pulls back, in Orlop or Docker, under the same image id.  Layers go up
uncompressed (``application/vnd.oci.image.layer.v1.tar``): no recompression can change
a digest, at the price of bytes on the wire (docs/distribution.md).

Per layer, as Docker: ``HEAD`` first (``Layer already exists``), then a cross-repository
mount from another repository of the same registry the image came from or went to
(``Mounted from ...``), else an upload (monolithic, or PATCH chunks for big layers).
The config follows, the manifest last, so a registry never names a missing blob.
"""

from __future__ import annotations

import json
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from orlop.distribution.client import Repository
from orlop.distribution.progress import Progress, Silent, short
from orlop.distribution.reference import RemoteReference, parse_push_target, split_domain
from orlop.distribution.session import open_repositories
from orlop.errors import ImageNotFoundError, NotFoundError
from orlop.images.reference import split_tagged
from orlop.images.save import MT_CONFIG, MT_LAYER, MT_MANIFEST, layer_blob, saved_config

if TYPE_CHECKING:
    from orlop.distribution.credentials import Credentials
    from orlop.distribution.settings import RegistrySettings
    from orlop.images.store import Image, ImageStore

MAX_CONCURRENT_UPLOADS = 3


@dataclass(frozen=True)
class PushResult:
    tag: str
    digest: str
    size: int


def _mount_sources(store: ImageStore, image: Image, ref: RemoteReference) -> list[str]:
    """Other repositories of the same registry known to hold this image."""
    names = [split_tagged(t)[0] for t in image.repo_tags]
    names += [d.split("@", 1)[0] for d in image.repo_digests]
    out = []
    for n in dict.fromkeys(names):
        domain, path = split_domain(n)
        if domain == ref.domain and path != ref.path:
            out.append(path)
    return out


def push_image(store: ImageStore, text: str, *, progress: Progress | None = None,
               settings: RegistrySettings | None = None,
               creds: Credentials | None = None) -> PushResult:
    progress = progress or Silent()
    ref = parse_push_target(text)
    try:
        image = store.get(ref.tagged)
    except ImageNotFoundError:
        raise NotFoundError(
            f"An image does not exist locally with the tag: {ref.familiar}") from None
    progress.message(f"The push refers to repository [{ref.full_name}]")
    transport, repos = open_repositories(ref, push=True, settings=settings, creds=creds)
    repo = repos[-1]
    sources = _mount_sources(store, image, ref)
    store._ensure_dirs()
    try:
        order = list(reversed(image.diff_ids))  # Docker lists the top layer first
        for d in order:
            progress.layer(short(d), "Preparing")
        results: dict[str, tuple[str, int]] = {}

        def one(diff_id: str) -> None:
            results[diff_id] = _push_layer(store, repo, diff_id, sources, progress)

        with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_UPLOADS,
                                thread_name_prefix="push") as pool:
            for fut in [pool.submit(one, d) for d in dict.fromkeys(order)]:
                fut.result()
        layers = [results[d] for d in image.diff_ids]
        raw = saved_config(store, image, [dg for dg, _ in layers])
        _push_bytes(repo, raw)
        manifest = {
            "schemaVersion": 2, "mediaType": MT_MANIFEST,
            "config": {"mediaType": MT_CONFIG, "digest": _digest(raw), "size": len(raw)},
            "layers": [{"mediaType": MT_LAYER, "digest": dg, "size": size}
                       for dg, size in layers],
        }
        body = json.dumps(manifest, separators=(",", ":")).encode()
        digest = repo.put_manifest(ref.tag, body, MT_MANIFEST)
        store.add_repo_digest(image.id, f"{ref.familiar}@{digest}")
        progress.message(f"{ref.tag}: digest: {digest} size: {len(body)}")
        return PushResult(ref.tag, digest, len(body))
    finally:
        transport.close()


def _digest(data: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


def _push_bytes(repo: Repository, data: bytes) -> None:
    import io

    digest = _digest(data)
    if not repo.blob_exists(digest):
        repo.upload_blob(digest, len(data), lambda: io.BytesIO(data))


def _push_layer(store: ImageStore, repo: Repository, diff_id: str, sources: list[str],
                progress: Progress) -> tuple[str, int]:
    sid = short(diff_id)
    path = store.config.tmp_dir / f"layer-{os.getpid()}-{secrets.token_hex(8)}"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    try:
        try:
            digest, size = layer_blob(store, diff_id, fd)
        finally:
            os.close(fd)
        if repo.blob_exists(digest):
            progress.layer(sid, "Layer already exists")
            return digest, size
        for src in sources:
            if repo.mount_blob(digest, src):
                progress.layer(sid, f"Mounted from {_familiar(src, repo)}")
                return digest, size

        def body() -> BinaryIO:
            return open(path, "rb", buffering=1 << 20)

        progress.layer(sid, "Pushing", 0, size)
        repo.upload_blob(digest, size, body, lambda n: progress.layer(sid, "Pushing", n, size))
        progress.layer(sid, "Pushed")
        return digest, size
    finally:
        with suppress(FileNotFoundError):
            os.unlink(path)


def _familiar(path: str, repo: Repository) -> str:
    ns, _, rest = path.partition("/")
    if repo.registry.host == "registry-1.docker.io":
        return rest if ns == "library" and rest and "/" not in rest else path
    return path


__all__ = ["PushResult", "push_image"]
