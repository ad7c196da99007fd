"""``pull``: an image from a registry into the image store, the way Docker pulls.

1. The manifest for the tag or digest (``Accept``: OCI and Docker indexes and manifests);
   an index is resolved to the manifest of the wanted platform (the host's by default).
2. The config blob, digest-checked: its digest is the image id, its ``rootfs.diff_ids``
   say what each layer must uncompress to.
3. Layers whose diff_id is already stored are skipped (``Already exists``); the others
   are handled three at a time, each in one thread: downloaded into a private file under
   the store's tmp dir (size and digest checked as it streams), then extracted by
   :meth:`ImageStore.add_layer` — the same safe extraction as ``load``, a pulled layer is
   as untrusted as a loaded one — which computes the diff_id in that single pass and
   refuses content the config does not name before it is published.
4. The image is recorded with its config verbatim (so its id is the config digest, as in
   Docker and as ``save``/``load`` give), tagged, and its RepoDigest written.

A failure anywhere removes the downloaded files and takes back the layers this pull
registered that no image uses.  A killed pull leaves only ``tmp/layer-<pid>-*`` files,
which the store's reconcile (run by the next pull) removes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from orlop.distribution.client import Repository
from orlop.distribution.manifest import (
    ACCEPT,
    LAYER_TYPES,
    Descriptor,
    Platform,
    choose,
    host_platform,
    kind,
    parse_index,
    parse_manifest,
    parse_platform,
)
from orlop.distribution.progress import Progress, Silent, short
from orlop.distribution.reference import RemoteReference, parse_remote
from orlop.distribution.session import open_repositories
from orlop.errors import (
    DigestMismatchError,
    NotFoundError,
    OrlopError,
    RegistryError,
)

if TYPE_CHECKING:
    from orlop.distribution.credentials import Credentials
    from orlop.distribution.settings import RegistrySettings
    from orlop.images.store import ImageStore

MAX_CONFIG = 32 << 20
MAX_CONCURRENT_DOWNLOADS = 3  # dockerd's max-concurrent-downloads default


@dataclass(frozen=True)
class PullResult:
    image_id: str
    digest: str  # the manifest (or index) digest the reference resolved to
    name: str  # "docker.io/library/busybox:latest", what Docker prints last
    up_to_date: bool


class _AbortedError(Exception):
    """Another download failed: stop this one."""


@dataclass
class _Resolved:
    repo: Repository
    digest: str
    manifest_body: bytes
    media_type: str


def _resolve(repos: list[Repository], ref: RemoteReference, want: Platform) -> _Resolved:
    last: Exception | None = None
    for repo in repos:
        try:
            body, mt, digest = repo.get_manifest(ref.reference, ACCEPT)
        except OrlopError as err:
            last = err
            continue
        if kind(body, mt) == "index":
            entry = choose(parse_index(body), want)
            mbody, mmt, _ = repo.get_manifest(entry.descriptor.digest, ACCEPT)
            if kind(mbody, mmt) != "manifest":
                raise RegistryError("invalid manifest list: an entry is not an image manifest")
            return _Resolved(repo, digest, mbody, mmt)
        return _Resolved(repo, digest, body, mt)
    assert last is not None
    raise last


def _check_platform(config: dict[str, Any], want: Platform, ref: RemoteReference) -> None:
    got = Platform(str(config.get("os", "")), str(config.get("architecture", "")),
                   str(config.get("variant", "")))
    if got.os != want.os or got.architecture != want.architecture:
        raise NotFoundError(
            f"image with reference {ref} was found but does not match the specified "
            f"platform: wanted {want}, actual: {got}")


def pull_image(store: ImageStore, text: str, *, platform: str = "",
               progress: Progress | None = None, settings: RegistrySettings | None = None,
               creds: Credentials | None = None,
               concurrency: int = MAX_CONCURRENT_DOWNLOADS) -> PullResult:
    """Pull ``text`` (``busybox``, ``127.0.0.1:5000/x:v1``, ``x@sha256:...``)."""
    progress = progress or Silent()
    ref = parse_remote(text).with_tag_default()
    want = parse_platform(platform) if platform else host_platform()
    transport, repos = open_repositories(ref, settings=settings, creds=creds)
    try:
        resolved = _resolve(repos, ref, want)
        repo = resolved.repo
        progress.message(f"Pulling from {ref.path}", ref.digest or ref.tag)
        manifest = parse_manifest(resolved.manifest_body, resolved.media_type)
        if manifest.config.size > MAX_CONFIG:
            raise RegistryError(f"image config {manifest.config.digest} is too large")
        buf = io.BytesIO()
        repo.fetch_blob(manifest.config.digest, manifest.config.size, buf)
        raw = buf.getvalue()
        try:
            config = json.loads(raw)
        except ValueError as err:
            raise RegistryError(f"invalid image config: {err}") from None
        if not isinstance(config, dict):
            raise RegistryError("invalid image config: not a JSON object")
        if platform:
            _check_platform(config, want, ref)
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        if len(diff_ids) != len(manifest.layers):
            raise RegistryError(f"invalid image: {len(manifest.layers)} layers for "
                                f"{len(diff_ids)} diff_ids in its config")
        for d in diff_ids:
            if not isinstance(d, str):
                raise RegistryError("invalid image config: bad diff_id")
            store.layer_dir(d)  # validates the form
        for desc in manifest.layers:
            if desc.media_type not in LAYER_TYPES:
                raise RegistryError(f"unsupported layer media type: {desc.media_type}")
        image_id = "sha256:" + hashlib.sha256(raw).hexdigest()
        tagged = ref.tagged if not ref.digest else None
        before = _tagged_id(store, tagged) if tagged else None
        if not _have_image(store, image_id, diff_ids):
            _fetch_layers(store, repo, manifest.layers, diff_ids, progress, concurrency)
        image = store.create_image(diff_ids, config, tagged, raw=raw)
        if image.id != image_id:
            raise DigestMismatchError(
                f"image config {image_id} was stored as {image.id}: not UTF-8 JSON")
        store.add_repo_digest(image.id, f"{ref.familiar}@{resolved.digest}")
        progress.message(f"Digest: {resolved.digest}")
        shown = tagged or f"{ref.familiar}@{ref.digest}"
        up_to_date = before == image.id
        status = "Image is up to date" if up_to_date else "Downloaded newer image"
        progress.message(f"Status: {status} for {shown}")
        name = f"{ref.full_name}:{ref.tag}" if not ref.digest else \
            f"{ref.full_name}@{ref.digest}"
        return PullResult(image.id, resolved.digest, name, up_to_date)
    finally:
        transport.close()


def _have_image(store: ImageStore, image_id: str, diff_ids: list[str]) -> bool:
    """The image and all its layers are stored: nothing to download (Docker then prints
    no layer lines at all)."""
    from orlop.errors import ImageNotFoundError

    try:
        store.get(image_id)
    except ImageNotFoundError:
        return False
    return all(store.has_layer(d) for d in diff_ids)


def _tagged_id(store: ImageStore, tagged: str) -> str | None:
    from orlop.errors import ImageNotFoundError

    try:
        return store.get(tagged).id
    except ImageNotFoundError:
        return None


def _fetch_layers(store: ImageStore, repo: Repository, layers: tuple[Descriptor, ...],
                  diff_ids: list[str], progress: Progress, concurrency: int) -> None:
    """Download and extract missing layers, ``concurrency`` at a time, each in one
    thread from its first byte to its registration: the blob is checked against its
    digest as it streams into a private file, then extracted by the store in one pass
    that computes the diff_id and refuses a layer whose content is not the config's.
    On any failure the other downloads stop, their files go, and the layers this pull
    registered are taken back if no image uses them."""
    store._ensure_dirs()
    abort = threading.Event()
    todo: list[tuple[Descriptor, str]] = []
    seen: set[str] = set()
    for desc, diff_id in zip(layers, diff_ids, strict=True):
        if store.has_layer(diff_id):
            progress.layer(short(desc.digest), "Already exists")
        elif diff_id not in seen:
            seen.add(diff_id)
            progress.layer(short(desc.digest), "Pulling fs layer")
            todo.append((desc, diff_id))
    for desc, _ in todo[concurrency:]:
        progress.layer(short(desc.digest), "Waiting")
    registered: list[str] = []

    def one(desc: Descriptor, diff_id: str) -> None:
        sid = short(desc.digest)
        path = store.config.tmp_dir / f"layer-{os.getpid()}-{secrets.token_hex(8)}"

        def tick(done: int) -> None:
            if abort.is_set():
                raise _AbortedError()
            progress.layer(sid, "Downloading", done, desc.size)

        try:
            if abort.is_set():
                return
            with open(path, "xb") as out:
                repo.fetch_blob(desc.digest, desc.size, out, tick)
                progress.layer(sid, "Verifying Checksum")
            progress.layer(sid, "Download complete")
            progress.layer(sid, "Extracting", desc.size, desc.size)

            def reopen() -> BinaryIO:
                return open(path, "rb", buffering=1 << 20)

            with reopen() as f:
                # Only layers this pull registered go on the list (list.append is
                # atomic): a layer another pull stored meanwhile is never taken back.
                store.add_layer(f, reopen, added=registered, expected=diff_id)
            progress.layer(sid, "Pull complete")
        finally:
            with suppress(FileNotFoundError):
                os.unlink(path)

    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="pull")
    try:
        futures: list[Future[None]] = [pool.submit(one, d, i) for d, i in todo]
        for fut in futures:
            fut.result()
    except BaseException:
        abort.set()
        pool.shutdown(wait=True, cancel_futures=True)
        if registered:
            store.discard_unused_layers(registered)
        raise
    finally:
        pool.shutdown(wait=True)


__all__ = ["PullResult", "pull_image"]
