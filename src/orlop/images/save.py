"""``save``: images as one tar in both Docker's archive format and the OCI image layout.

The archive is what Docker >= 25 writes, so ``docker load``, ``podman load`` and
``skopeo copy oci-archive:`` / ``docker-archive:`` all read it:

* ``blobs/sha256/<hex>``: every layer (an uncompressed tar), image config and OCI
  manifest, content-addressed;
* ``oci-layout`` and ``index.json`` (one manifest descriptor per tag, annotated with
  ``io.containerd.image.name`` and ``org.opencontainers.image.ref.name``);
* ``manifest.json`` (``Config``, ``RepoTags``, ``Layers`` paths into ``blobs/``) and the
  legacy ``repositories``.

Image ids survive ``save | load`` (as Docker's): the config is written verbatim, as
stored (its digest is the id), and each layer as the exact bytes its diff_id names.
Layers are stored extracted (overlay form), so a layer tar is reassembled from the
layer's tar-split (orlop.images.tarsplit: the recorded headers and padding, file
contents read from the layer by fd, never through a symlink) and its digest checked.  A
layer without a usable split (stored by an older Orlop) is serialised canonically
(orlop.images.archive.write_layer: sorted names, whole-second times, overlay whiteouts
as OCI ``.wh.`` entries); when that digest differs from the recorded diff_id, the saved
config carries the new diff_ids and the image id in the archive is the digest of that
config: the archive still loads, under another id.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orlop.archive.tarwriter import TarWriter
from orlop.images.archive import write_layer
from orlop.images.reference import parse_reference, split_tagged
from orlop.images.tarsplit import SplitError, reassemble

if TYPE_CHECKING:
    from orlop.images.store import Image, ImageStore

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"


@dataclass
class _Blob:
    digest: str  # "sha256:<hex>"
    size: int


def full_name(tagged: str) -> str:
    """``busybox:latest`` -> ``docker.io/library/busybox:latest`` (containerd's name)."""
    repo, _tag = split_tagged(tagged)
    first = repo.split("/", 1)[0]
    if "/" not in repo:
        return f"docker.io/library/{tagged}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{tagged}"
    return tagged


def _tags_for(store: ImageStore, ref: str, image: Image) -> list[str]:
    """``save busybox:latest`` names that tag; ``save <id>`` none; ``save busybox`` every
    tag of that repository (Docker's rules)."""
    if image.id.removeprefix("sha256:").startswith(ref.removeprefix("sha256:")) and \
            ref.removeprefix("sha256:") and all(c in "0123456789abcdef"
                                                for c in ref.removeprefix("sha256:")):
        if ref not in image.repo_tags:
            return []
    try:
        parsed = parse_reference(ref)
    except Exception:
        return []
    if parsed.tag:
        return [parsed.tagged]
    tags = [t for t in image.repo_tags if split_tagged(t)[0] == parsed.repository]
    return tags or [parsed.tagged]


def save_images(store: ImageStore, refs: list[str], out_fd: int) -> int:
    """Write the archive of the images ``refs`` name to ``out_fd``; returns its size."""
    chosen: dict[str, tuple[Image, list[str]]] = {}
    for ref in refs:
        image = store.get(ref)
        tags = _tags_for(store, ref, image)
        prev = chosen.get(image.id)
        chosen[image.id] = (image, sorted({*(prev[1] if prev else []), *tags}))
    store._ensure_dirs()
    work = store.config.tmp_dir / f"save-{os.getpid()}-{secrets.token_hex(6)}"
    os.mkdir(work, 0o700)
    try:
        w = TarWriter(out_fd)
        now = time.time()
        dir_stat = os.stat(work)
        w.add_dir("blobs/", dir_stat)
        w.add_dir("blobs/sha256/", dir_stat)
        written: set[str] = set()
        index: list[dict[str, Any]] = []
        manifest_json: list[dict[str, Any]] = []
        repositories: dict[str, dict[str, str]] = {}
        layer_cache: dict[str, _Blob] = {}
        for image, tags in chosen.values():
            layers = []
            for diff_id in image.diff_ids:
                blob = layer_cache.get(diff_id)
                if blob is None:
                    blob = _write_layer(store, diff_id, work, w, written)
                    layer_cache[diff_id] = blob
                layers.append(blob)
            raw = saved_config(store, image, [b.digest for b in layers])
            cfg = _put(w, written, raw, now)
            manifest = {
                "schemaVersion": 2, "mediaType": MT_MANIFEST,
                "config": {"mediaType": MT_CONFIG, "digest": cfg.digest, "size": cfg.size},
                "layers": [{"mediaType": MT_LAYER, "digest": b.digest, "size": b.size}
                           for b in layers],
            }
            man = _put(w, written, json.dumps(manifest, separators=(",", ":")).encode(), now)
            desc = {"mediaType": MT_MANIFEST, "digest": man.digest, "size": man.size}
            if tags:
                for tag in tags:
                    index.append({**desc, "annotations": {
                        "io.containerd.image.name": full_name(tag),
                        "org.opencontainers.image.ref.name": split_tagged(tag)[1]}})
                    repo, t = split_tagged(tag)
                    if layers:
                        repositories.setdefault(repo, {})[t] = \
                            layers[-1].digest.removeprefix("sha256:")
            else:
                index.append(desc)
            manifest_json.append({
                "Config": "blobs/sha256/" + cfg.digest.removeprefix("sha256:"),
                "RepoTags": tags or None,
                "Layers": ["blobs/sha256/" + b.digest.removeprefix("sha256:") for b in layers],
            })
        w.add_bytes("index.json", json.dumps({"schemaVersion": 2, "mediaType": MT_INDEX,
                                              "manifests": index},
                                             separators=(",", ":")).encode(), mtime=now)
        w.add_bytes("manifest.json", json.dumps(manifest_json, separators=(",", ":"))
                    .encode(), mtime=now)
        w.add_bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}', mtime=now)
        if repositories:
            w.add_bytes("repositories", json.dumps(repositories, separators=(",", ":"))
                        .encode(), mtime=now)
        w.close()
        return w.size
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _put(w: TarWriter, written: set[str], data: bytes, mtime: float) -> _Blob:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if digest not in written:
        written.add(digest)
        w.add_bytes("blobs/sha256/" + digest.removeprefix("sha256:"), data, mtime=mtime)
    return _Blob(digest, len(data))


def _reproduce(store: ImageStore, diff_id: str, lfd: int, tfd: int) -> tuple[str, int]:
    """Write the layer tar to ``tfd``: from its tar-split when that gives back exactly
    ``diff_id``, else canonically.  Returns (digest, size)."""
    try:
        sfd = os.open(store.split_path(diff_id), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        sfd = -1
    if sfd >= 0:
        try:
            hasher = hashlib.sha256()
            size = reassemble(sfd, lfd, tfd, hasher)
            if "sha256:" + hasher.hexdigest() == diff_id:
                return diff_id, size
        except SplitError:
            pass  # a damaged split or a changed layer: the canonical form still loads
        finally:
            os.close(sfd)
        os.ftruncate(tfd, 0)
        os.lseek(tfd, 0, os.SEEK_SET)
    hasher = hashlib.sha256()
    size = write_layer(tfd, lfd, hasher)
    return "sha256:" + hasher.hexdigest(), size


def layer_blob(store: ImageStore, diff_id: str, out_fd: int) -> tuple[str, int]:
    """Write the layer tar exactly as ``save`` would (``push`` sends the same bytes, so
    a pushed image keeps its id); returns (digest, size)."""
    lfd = os.open(store.layer_dir(diff_id), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                  | os.O_CLOEXEC)
    try:
        return _reproduce(store, diff_id, lfd, out_fd)
    finally:
        os.close(lfd)


def saved_config(store: ImageStore, image: Image, digests: list[str]) -> bytes:
    """The config ``save`` writes: verbatim when the layer blobs are the diff_ids."""
    if digests == list(image.diff_ids):
        return store.config_bytes(image.id)
    config = json.loads(json.dumps(image.config))
    config.setdefault("rootfs", {})["type"] = "layers"
    config["rootfs"]["diff_ids"] = digests
    return json.dumps(config, separators=(",", ":"), ensure_ascii=False).encode()


def _write_layer(store: ImageStore, diff_id: str, work: os.PathLike[str], w: TarWriter,
                 written: set[str]) -> _Blob:
    """Write a layer into a scratch file (its size and digest must be known before its
    header is written), then copy it into the archive."""
    path = os.path.join(work, "layer")
    lfd = os.open(store.layer_dir(diff_id), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
                  | os.O_CLOEXEC)
    try:
        tfd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            digest, size = _reproduce(store, diff_id, lfd, tfd)
            if digest not in written:
                written.add(digest)
                os.lseek(tfd, 0, os.SEEK_SET)
                w.add_stream("blobs/sha256/" + digest.removeprefix("sha256:"), size, tfd,
                             mode=0o444, mtime=time.time())
        finally:
            os.close(tfd)
            os.unlink(path)
    finally:
        os.close(lfd)
    return _Blob(digest, size)


__all__ = ["full_name", "layer_blob", "save_images", "saved_config"]
