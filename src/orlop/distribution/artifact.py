"""Volumes through a registry: a volume export stored as an OCI artifact.

The artifact is an OCI image manifest (``schemaVersion`` 2) whose

* ``artifactType`` is ``application/vnd.orlop.volume.v1`` (registries that predate
  OCI 1.1 keep it as an ordinary field; ``oras`` lists and fetches by it);
* ``config`` is a small JSON blob, ``application/vnd.orlop.volume.config.v1+json``:
  ``{"name", "driver", "labels", "size"}`` (``size``: bytes of the uncompressed export);
* single layer is what ``orlop volume export`` writes (the self-describing tar, with its
  own checksum trailer), zstd-compressed:
  ``application/vnd.orlop.volume.export.v1.tar+zstd``, annotated with
  ``org.opencontainers.image.title: <volume>.tar.zst``.

Push streams the export through zstd into a private temp file (its digest and size must
be known before the upload), then uploads it like an image layer: ``HEAD`` first, then a
monolithic or chunked upload, the config, the manifest last.  Pull checks the manifest
and blob digests as they stream (the client does), then hands the blob to ``volume
import``, which verifies the export's own checksum before the volume is made visible.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast

from orlop.distribution.progress import Progress, Silent, short
from orlop.distribution.reference import parse_push_target, parse_remote
from orlop.distribution.session import open_repositories
from orlop.errors import RegistryError

if TYPE_CHECKING:
    from orlop.distribution.credentials import Credentials
    from orlop.distribution.settings import RegistrySettings

ARTIFACT_TYPE = "application/vnd.orlop.volume.v1"
MT_CONFIG = "application/vnd.orlop.volume.config.v1+json"
MT_EXPORT = "application/vnd.orlop.volume.export.v1.tar+zstd"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_MAX_CONFIG = 1 << 20
ZSTD_LEVEL = 3


@dataclass(frozen=True)
class VolumeArtifact:
    name: str
    driver: str
    labels: dict[str, str] | None
    size: int


def compress_export(write_export: Callable[[int], int], out: BinaryIO) -> tuple[str, int, int]:
    """Run ``write_export(fd)`` into a pipe and zstd the stream into ``out``; returns
    (sha256 digest of the compressed bytes, compressed size, export size)."""
    import zstandard

    class _Hashing(io.RawIOBase):
        def __init__(self) -> None:
            self.hasher = hashlib.sha256()
            self.size = 0

        def writable(self) -> bool:
            return True

        def write(self, b: Any) -> int:
            data = bytes(b)
            self.hasher.update(data)
            self.size += len(data)
            out.write(data)
            return len(data)

    sink = _Hashing()
    rfd, wfd = os.pipe()
    result: dict[str, Any] = {}

    def produce() -> None:
        try:
            result["size"] = write_export(wfd)
        except BaseException as err:  # handed to the caller below
            result["error"] = err
        finally:
            os.close(wfd)

    t = threading.Thread(target=produce, name="volume-export")
    t.start()
    try:
        cctx = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=-1)
        with os.fdopen(rfd, "rb", buffering=0) as src:
            cctx.copy_stream(src, cast(IO[bytes], sink), read_size=1 << 20,
                             write_size=1 << 20)
    finally:
        t.join()
    if "error" in result:
        raise result["error"]
    out.flush()
    return "sha256:" + sink.hasher.hexdigest(), sink.size, int(result.get("size", 0))


def push_volume(text: str, artifact: VolumeArtifact, blob: Path, digest: str, size: int,
                *, progress: Progress | None = None, settings: RegistrySettings | None = None,
                creds: Credentials | None = None) -> str:
    """Upload the compressed export ``blob`` and its manifest; returns the manifest digest."""
    progress = progress or Silent()
    ref = parse_push_target(text)
    progress.message(f"The push refers to repository [{ref.full_name}]")
    transport, repos = open_repositories(ref, push=True, settings=settings, creds=creds)
    repo = repos[-1]
    try:
        sid = short(digest)
        if repo.blob_exists(digest):
            progress.layer(sid, "Layer already exists")
        else:
            progress.layer(sid, "Pushing", 0, size)
            repo.upload_blob(digest, size, lambda: open(blob, "rb", buffering=1 << 20),
                             lambda n: progress.layer(sid, "Pushing", n, size))
            progress.layer(sid, "Pushed")
        config = json.dumps({"name": artifact.name, "driver": artifact.driver,
                             "labels": artifact.labels, "size": artifact.size},
                            separators=(",", ":"), sort_keys=True).encode()
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        if not repo.blob_exists(config_digest):
            repo.upload_blob(config_digest, len(config), lambda: io.BytesIO(config))
        manifest = {
            "schemaVersion": 2, "mediaType": MT_MANIFEST, "artifactType": ARTIFACT_TYPE,
            "config": {"mediaType": MT_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": MT_EXPORT, "digest": digest, "size": size,
                        "annotations": {"org.opencontainers.image.title":
                                        f"{artifact.name}.tar.zst"}}],
            "annotations": {"org.opencontainers.image.title": artifact.name},
        }
        body = json.dumps(manifest, separators=(",", ":")).encode()
        mdigest = repo.put_manifest(ref.tag, body, MT_MANIFEST)
        progress.message(f"{ref.tag}: digest: {mdigest} size: {len(body)}")
        return mdigest
    finally:
        transport.close()


def fetch_volume(text: str, out: BinaryIO, *, progress: Progress | None = None,
                 settings: RegistrySettings | None = None,
                 creds: Credentials | None = None,
                 check: Callable[[VolumeArtifact], None] | None = None
                 ) -> tuple[VolumeArtifact, str]:
    """Download the artifact's export into ``out`` (digest-checked); ``check`` sees the
    artifact's description before the download starts (to refuse an existing volume).
    Returns the description and the manifest digest."""
    from orlop.distribution.manifest import parse_manifest

    progress = progress or Silent()
    ref = parse_remote(text).with_tag_default()
    transport, repos = open_repositories(ref, settings=settings, creds=creds)
    repo = repos[-1]
    try:
        body, media_type, mdigest = repo.get_manifest(ref.reference, [MT_MANIFEST])
        progress.message(f"Pulling from {ref.path}", ref.digest or ref.tag)
        manifest = parse_manifest(body, media_type)
        if manifest.artifact_type != ARTIFACT_TYPE and \
                manifest.config.media_type != MT_CONFIG:
            raise RegistryError(
                f"{ref} is not an Orlop volume (artifactType "
                f"{manifest.artifact_type or manifest.config.media_type!r}, not "
                f"{ARTIFACT_TYPE})")
        if len(manifest.layers) != 1 or manifest.layers[0].media_type != MT_EXPORT:
            raise RegistryError(f"{ref}: a volume artifact has one {MT_EXPORT} layer")
        if manifest.config.size > _MAX_CONFIG:
            raise RegistryError(f"{ref}: volume config too large")
        buf = io.BytesIO()
        repo.fetch_blob(manifest.config.digest, manifest.config.size, buf)
        try:
            cfg = json.loads(buf.getvalue())
            labels = cfg.get("labels")
            artifact = VolumeArtifact(
                str(cfg["name"]), str(cfg.get("driver") or "local"),
                {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict)
                else None, int(cfg.get("size") or 0))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise RegistryError(f"{ref}: invalid volume config") from None
        if check is not None:
            check(artifact)
        layer = manifest.layers[0]
        sid = short(layer.digest)
        repo.fetch_blob(layer.digest, layer.size, out,
                        lambda n: progress.layer(sid, "Downloading", n, layer.size))
        progress.layer(sid, "Download complete")
        progress.message(f"Digest: {mdigest}")
        return artifact, mdigest
    finally:
        transport.close()


__all__ = ["ARTIFACT_TYPE", "MT_CONFIG", "MT_EXPORT", "VolumeArtifact", "compress_export",
           "fetch_volume", "push_volume"]
