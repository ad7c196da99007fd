"""``load``: images from a Docker archive (``manifest.json``) or an OCI image layout
(``index.json`` + ``blobs/``), as written by ``docker save``, ``podman save``, ``skopeo``
and Orlop's own ``save``.

Every tar is hostile (security-principles.md R8): the outer archive is extracted with
:func:`orlop.archive.extract.extract_tar` into a private staging directory (no device
nodes, no owners), and every path named by a manifest is opened below that directory
with openat2 ``RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS``: ``"Layers": ["../../etc/shadow"]``
or a blob that is a symlink to a host file is refused.

Nothing is half-loaded: every digest is checked *before* the first layer is stored —
the config blob against its name or descriptor (and so the image id), each OCI blob
against its descriptor's digest and size, each layer's uncompressed content against
the config's ``rootfs.diff_ids``.  Layers may be plain, gzip or zstd tars (and bzip2,
xz).  A truncated archive fails while the outer tar is extracted.

The config is stored verbatim (the image id is the digest of the archive's config, as
Docker's) and each layer with its tar-split, so ``save`` gives back the same config and
the same layer bytes (orlop.images.tarsplit).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from orlop.archive.extract import extract_tar
from orlop.errors import InvalidArchiveError, OrlopError
from orlop.images.archive import scan_layer
from orlop.images.reference import InvalidReferenceError, parse_tag_target
from orlop.kernel.flags import RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS
from orlop.kernel.fs import openat2

if TYPE_CHECKING:
    from orlop.images.store import ImageStore

_DIGEST = re.compile(r"sha256:([a-f0-9]{64})\Z")
_MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                   "application/vnd.docker.distribution.manifest.v2+json")
_INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
                "application/vnd.docker.distribution.manifest.list.v2+json")
_MAX_JSON = 32 << 20


@dataclass
class _Plan:
    config: dict[str, Any]
    config_digest: str
    raw: bytes  # the config as the archive holds it
    layers: list[str]  # paths below the staging dir, bottom first
    tags: list[str]


def _open(root_fd: int, path: str) -> int:
    try:
        return openat2(root_fd, path, os.O_RDONLY,
                       RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
    except OSError as err:
        why = {errno.EXDEV: "the path leaves the archive",
               errno.ELOOP: "the path goes through a symlink",
               errno.ENOENT: "no such file in the archive"}.get(err.errno or 0, err.strerror)
        raise InvalidArchiveError(f"invalid image archive: {path}: {why}") from None


def _read(root_fd: int, path: str) -> bytes:
    fd = _open(root_fd, path)
    try:
        size = os.fstat(fd).st_size
        if size > _MAX_JSON:
            raise InvalidArchiveError(f"invalid image archive: {path} is too large")
        chunks = []
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _json(root_fd: int, path: str) -> Any:
    try:
        return json.loads(_read(root_fd, path))
    except ValueError as err:
        raise InvalidArchiveError(f"invalid image archive: {path}: {err}") from None


def _blob_path(digest: str) -> str:
    m = _DIGEST.match(digest or "")
    if m is None:
        raise InvalidArchiveError(f"invalid image archive: unsupported digest {digest!r}")
    return f"blobs/sha256/{m.group(1)}"


def _file_digest(root_fd: int, path: str) -> tuple[str, int]:
    fd = _open(root_fd, path)
    try:
        h = hashlib.sha256()
        size = 0
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            h.update(b)
            size += len(b)
        return "sha256:" + h.hexdigest(), size
    finally:
        os.close(fd)


def _verify_blob(root_fd: int, desc: dict[str, Any]) -> str:
    path = _blob_path(str(desc.get("digest", "")))
    digest, size = _file_digest(root_fd, path)
    if digest != desc.get("digest"):
        raise InvalidArchiveError(
            f"invalid image archive: blob {desc.get('digest')} has digest {digest}")
    if "size" in desc and desc["size"] != size:
        raise InvalidArchiveError(
            f"invalid image archive: blob {desc.get('digest')} has size {size}, "
            f"not {desc['size']}")
    return path


def _docker_plans(root_fd: int) -> list[_Plan]:
    entries = _json(root_fd, "manifest.json")
    if not isinstance(entries, list):
        raise InvalidArchiveError("invalid image archive: manifest.json is not a list")
    plans = []
    for e in entries:
        if not isinstance(e, dict) or not isinstance(e.get("Config"), str) or \
                not isinstance(e.get("Layers"), list):
            raise InvalidArchiveError("invalid image archive: bad manifest.json entry")
        raw = _read(root_fd, e["Config"])
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        # The config's file name is its digest (<hex>.json, or blobs/sha256/<hex>).
        named = os.path.basename(e["Config"]).removesuffix(".json")
        if re.fullmatch(r"[a-f0-9]{64}", named) and "sha256:" + named != digest:
            raise InvalidArchiveError(
                f"invalid image archive: config {e['Config']} has digest {digest}")
        try:
            config = json.loads(raw)
        except ValueError as err:
            raise InvalidArchiveError(f"invalid image config: {err}") from None
        layers = [str(p) for p in e["Layers"]]
        for p in layers:
            base = os.path.basename(p)
            if p.startswith("blobs/sha256/") and re.fullmatch(r"[a-f0-9]{64}", base):
                got, _ = _file_digest(root_fd, p)
                if got != "sha256:" + base:
                    raise InvalidArchiveError(
                        f"invalid image archive: layer {p} has digest {got}")
        plans.append(_Plan(config, digest, raw, layers,
                           [str(t) for t in e.get("RepoTags") or []]))
    return plans


def _oci_manifest(root_fd: int, desc: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    path = _verify_blob(root_fd, desc)
    doc = _json(root_fd, path)
    mt = doc.get("mediaType") or desc.get("mediaType")
    if mt in _INDEX_TYPES or "manifests" in doc:
        if depth > 2:
            raise InvalidArchiveError("invalid image archive: nested indexes too deep")
        chosen = _pick_platform(doc.get("manifests") or [])
        return _oci_manifest(root_fd, chosen, depth + 1)
    return dict(doc)


def _pick_platform(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    import platform

    from orlop.images.store import _ARCH  # the one arch table

    arch = _ARCH.get(platform.machine(), platform.machine())
    for m in manifests:
        p = m.get("platform") or {}
        if p.get("os", "linux") == "linux" and p.get("architecture", arch) == arch:
            return m
    if not manifests:
        raise InvalidArchiveError("invalid image archive: empty index")
    raise InvalidArchiveError(f"the archive has no image for linux/{arch}")


def _oci_plans(root_fd: int) -> list[_Plan]:
    layout = _json(root_fd, "oci-layout")
    if not isinstance(layout, dict) or "imageLayoutVersion" not in layout:
        raise InvalidArchiveError("invalid image archive: bad oci-layout")
    index = _json(root_fd, "index.json")
    by_manifest: dict[str, _Plan] = {}
    for desc in index.get("manifests") or []:
        manifest = _oci_manifest(root_fd, desc)
        cdesc = manifest.get("config") or {}
        cpath = _verify_blob(root_fd, cdesc)
        raw = _read(root_fd, cpath)
        try:
            config = json.loads(raw)
        except ValueError as err:
            raise InvalidArchiveError(f"invalid image config: {err}") from None
        layers = [_verify_blob(root_fd, ld) for ld in manifest.get("layers") or []]
        plan = by_manifest.setdefault(str(cdesc.get("digest")),
                                      _Plan(config, str(cdesc.get("digest")), raw, layers,
                                            []))
        name = _oci_name(desc.get("annotations") or {})
        if name:
            plan.tags.append(name)
    return list(by_manifest.values())


def _oci_name(annotations: dict[str, Any]) -> str:
    """The tag an index entry gives its image, as Docker 25+ loads an OCI layout (its
    containerd image store: containerd's ``imageName``, then moby's ``LoadImage``): the
    ``io.containerd.image.name`` annotation, else ``org.opencontainers.image.ref.name``
    taken as a whole reference, so a bare ``latest`` names ``latest:latest`` as Docker
    prints it.  A name that is no valid tag (upper case, a digest) leaves the image
    untagged; Docker keeps such a name raw in containerd, where no tag can be."""
    name = str(annotations.get("io.containerd.image.name") or
               annotations.get("org.opencontainers.image.ref.name") or "")
    try:
        return parse_tag_target(name).tagged if name else ""
    except InvalidReferenceError:
        return ""


def _store_plan(store: ImageStore, root_fd: int, plan: _Plan, added: list[str],
                progress: LayerProgress | None = None) -> list[str]:
    """Store one image's layers and record the image; returns its output lines.

    ``progress`` hears of each layer not stored yet (dockerd's ``Loading layer``: a layer
    already there is not loaded again, so says nothing) as it starts and as it ends."""
    diff_ids = []
    want = (plan.config.get("rootfs") or {}).get("diff_ids") or []
    for path, diff_id_wanted in zip(plan.layers, want, strict=True):
        def reopen(path: str = path) -> BinaryIO:
            return os.fdopen(_open(root_fd, path), "rb", buffering=1 << 20)

        report = progress is not None and not store.has_layer(str(diff_id_wanted))
        layer_id = str(diff_id_wanted).removeprefix("sha256:")[:12]
        with reopen() as f:
            size = os.fstat(f.fileno()).st_size
            if report and progress is not None:
                progress(layer_id, 0, size)
            diff_id = store.add_layer(f, reopen, added)
            if report and progress is not None:
                progress(layer_id, size, size)
        diff_ids.append(diff_id)
    if diff_ids != ((plan.config.get("rootfs") or {}).get("diff_ids") or []):
        raise InvalidArchiveError(
            f"invalid image archive: layers changed while loading {plan.config_digest}")
    tags = [parse_tag_target(t).tagged for t in plan.tags]
    image = store.create_image(diff_ids, plan.config, tags[0] if tags else None,
                               raw=plan.raw)
    for tag in tags[1:]:
        store.tag(image.id, tag)
    if tags:
        return [f"Loaded image: {t}" for t in tags]
    return [f"Loaded image ID: {image.id}"]


LayerProgress = Callable[[str, int, int], None]
"""``(short layer id, bytes done, layer size)``: what ``load`` reports per layer."""


def load_archive(store: ImageStore, stream: BinaryIO,
                 progress: LayerProgress | None = None) -> list[str]:
    """Load every image in the archive; returns Docker's output lines
    (``Loaded image: busybox:latest`` or ``Loaded image ID: sha256:...``)."""
    store._ensure_dirs()
    work = store.config.tmp_dir / f"load-{os.getpid()}-{secrets.token_hex(6)}"
    os.mkdir(work, 0o700)
    try:
        root_fd = os.open(work, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            stats = extract_tar(stream, root_fd, keep_owner=False, allow_devices=False,
                                whiteouts="keep")
            if stats.entries == 0:
                raise InvalidArchiveError("invalid image archive: no entries")
            names = set(os.listdir(root_fd))
            if "manifest.json" in names:
                plans = _docker_plans(root_fd)
            elif "index.json" in names:
                plans = _oci_plans(root_fd)
            else:
                raise InvalidArchiveError(
                    "invalid image archive: neither manifest.json nor index.json found "
                    "(not a docker save / OCI image layout archive)")
            # Every layer's content against the config, before anything is stored.
            for plan in plans:
                diff_ids = ((plan.config.get("rootfs") or {}).get("diff_ids") or [])
                if len(diff_ids) != len(plan.layers):
                    raise InvalidArchiveError(
                        f"invalid image archive: {len(plan.layers)} layers for "
                        f"{len(diff_ids)} diff_ids in config {plan.config_digest}")
                for path, want in zip(plan.layers, diff_ids, strict=True):
                    fd = _open(root_fd, path)
                    with os.fdopen(fd, "rb", buffering=1 << 20) as f:
                        # Names, whiteouts and link targets too: a hostile top layer is
                        # refused before the layers below it are stored.
                        got, _ = scan_layer(f)
                    if got != want:
                        raise InvalidArchiveError(
                            f"invalid image archive: layer {path} has diff_id {got}, the "
                            f"config says {want}")
            for plan in plans:
                for tag in plan.tags:
                    parse_tag_target(tag)  # a bad tag fails before anything is stored
            lines: list[str] = []
            added: list[str] = []  # layers this load stored that were not there before
            try:
                for plan in plans:
                    lines += _store_plan(store, root_fd, plan, added, progress)
            except BaseException:
                # A layer refused while extracted (what only the filesystem can tell: a
                # hard link to a file the layer never wrote, a path through a file) must
                # not leave the layers stored before it behind, unused.
                store.discard_unused_layers(added)
                raise
            return lines
        finally:
            os.close(root_fd)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def loaded_ids(store: ImageStore, lines: list[str]) -> list[str]:
    """The ids of the images ``load`` reported (``Loaded image: ref`` / ``... ID: id``)."""
    ids: dict[str, None] = {}
    for line in lines:
        ref = line.partition(": ")[2].strip()
        with contextlib.suppress(OrlopError):
            ids[store.get(ref).id] = None
    return list(ids)


__all__ = ["load_archive", "loaded_ids"]
