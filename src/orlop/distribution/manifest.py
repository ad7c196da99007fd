"""Manifests and indexes (Docker schema2 and OCI), and the platform choice.

Only what a pull needs is kept, as typed objects: the config and layer descriptors of
an image manifest, the platform entries of an index.  Schema 1 (deprecated, unsigned
content) is refused with Docker's own text.
"""

from __future__ import annotations

import json
import platform as _platform
from dataclasses import dataclass
from typing import Any

from orlop.distribution.client import check_digest
from orlop.errors import InvalidParameterError, NotFoundError, RegistryError

MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MT_DOCKER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MT_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
              "application/vnd.docker.distribution.manifest.v1+prettyjws")

ACCEPT = [MT_OCI_INDEX, MT_DOCKER_LIST, MT_OCI_MANIFEST, MT_DOCKER_MANIFEST]
INDEX_TYPES = (MT_OCI_INDEX, MT_DOCKER_LIST)
MANIFEST_TYPES = (MT_OCI_MANIFEST, MT_DOCKER_MANIFEST)
# Layer media types a pull extracts: tar, tar+gzip, tar+zstd (OCI and Docker names).
LAYER_TYPES = (MT_DOCKER_LAYER, MT_OCI_LAYER, MT_OCI_LAYER + "+gzip", MT_OCI_LAYER + "+zstd",
               "application/vnd.oci.image.layer.nondistributable.v1.tar",
               "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
               "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
               MT_DOCKER_FOREIGN)
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "armv6l": "arm",
         "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    urls: tuple[str, ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, d: Any, what: str) -> Descriptor:
        if not isinstance(d, dict):
            raise RegistryError(f"invalid {what} descriptor")
        size = d.get("size")
        if not isinstance(size, int) or size < 0:
            raise RegistryError(f"invalid {what} descriptor: bad size")
        urls = d.get("urls") or []
        ann = d.get("annotations") or {}
        return cls(str(d.get("mediaType", "")), check_digest(str(d.get("digest", ""))), size,
                   tuple(str(u) for u in urls),
                   tuple(sorted((str(k), str(v)) for k, v in ann.items()))
                   if isinstance(ann, dict) else ())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest,
                               "size": self.size}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True)
class ImageManifest:
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    artifact_type: str = ""


@dataclass(frozen=True)
class IndexEntry:
    descriptor: Descriptor
    platform: Platform | None


def host_platform() -> Platform:
    m = _platform.machine()
    arch = _ARCH.get(m, m)
    variant = "v8" if arch == "arm64" else ("v7" if m == "armv7l" else "")
    return Platform("linux", arch, variant)


def parse_platform(text: str) -> Platform:
    """``--platform os[/arch[/variant]]`` (Docker's ``platforms.Parse``, lower-cased)."""
    parts = text.strip().lower().split("/")
    if not parts[0] or len(parts) > 3 or any(not p for p in parts):
        raise InvalidParameterError(f'"{text}": unknown operating system or architecture: '
                                    "invalid argument")
    host = host_platform()
    os_ = parts[0]
    arch = _ARCH.get(parts[1], parts[1]) if len(parts) > 1 else host.architecture
    variant = parts[2] if len(parts) > 2 else ""
    if os_ != "linux":
        raise InvalidParameterError(f'"{text}": operating system {os_} is not supported')
    return Platform(os_, arch, variant)


def _json(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except ValueError as err:
        raise RegistryError(f"invalid manifest: {err}") from None
    if not isinstance(doc, dict):
        raise RegistryError("invalid manifest: not a JSON object")
    return doc


def kind(body: bytes, media_type: str) -> str:
    """``index`` or ``manifest`` (the body's own mediaType wins over the header)."""
    doc = _json(body)
    mt = str(doc.get("mediaType") or media_type)
    if mt in MT_SCHEMA1 or doc.get("schemaVersion") == 1:
        raise RegistryError(
            "[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image manifest version 2, "
            "schema 1 support is disabled by default; Orlop does not pull it")
    if mt in INDEX_TYPES or ("manifests" in doc and "config" not in doc):
        return "index"
    if mt in MANIFEST_TYPES or "config" in doc:
        return "manifest"
    raise RegistryError(f"unsupported manifest media type: {mt}")


def parse_index(body: bytes) -> list[IndexEntry]:
    doc = _json(body)
    out = []
    for m in doc.get("manifests") or []:
        desc = Descriptor.parse(m, "manifest")
        p = m.get("platform")
        plat = (Platform(str(p.get("os", "")), str(p.get("architecture", "")),
                         str(p.get("variant", ""))) if isinstance(p, dict) else None)
        out.append(IndexEntry(desc, plat))
    return out


def parse_manifest(body: bytes, media_type: str) -> ImageManifest:
    doc = _json(body)
    if doc.get("schemaVersion") != 2:
        raise RegistryError("invalid manifest: schemaVersion is not 2")
    config = Descriptor.parse(doc.get("config"), "config")
    layers = tuple(Descriptor.parse(d, "layer") for d in doc.get("layers") or [])
    return ImageManifest(str(doc.get("mediaType") or media_type), config, layers,
                         str(doc.get("artifactType", "")))


def choose(entries: list[IndexEntry], want: Platform) -> IndexEntry:
    """containerd's matcher, as Docker uses it: same os and architecture; the variant
    must match when asked for (arm64 accepts none or v8)."""
    best: IndexEntry | None = None
    for e in entries:
        p = e.platform
        if p is None or p.os != want.os or p.architecture != want.architecture:
            continue
        if want.variant and p.variant and p.variant != want.variant:
            continue
        if want.variant and not p.variant and want.architecture != "arm64":
            continue
        if best is None or (p.variant == want.variant):
            best = e
    if best is None:
        raise NotFoundError(f"no matching manifest for {want} in the manifest list entries")
    return best


__all__ = ["ACCEPT", "Descriptor", "ImageManifest", "IndexEntry", "Platform", "choose",
           "host_platform", "kind", "parse_index", "parse_manifest", "parse_platform"]
