"""Build small test images on top of the busybox rootfs (one layer, via `orlop import`)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path


def extend_busybox(busybox_tar: Path, out: Path, extra: list[tuple[tarfile.TarInfo, bytes]]
                   ) -> Path:
    """Write busybox's entries plus ``extra`` (TarInfo, data) to ``out``."""
    with tarfile.open(busybox_tar) as src, tarfile.open(out, "w") as dst:
        names = set()
        for m in src.getmembers():
            names.add(m.name.rstrip("/"))
            dst.addfile(m, src.extractfile(m) if m.isfile() else None)
        for info, data in extra:
            dst.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return out


def entry(name: str, *, kind: str = "file", data: bytes = b"", mode: int = 0o644,
          uid: int = 0, gid: int = 0, link: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode, info.uid, info.gid, info.mtime = mode, uid, gid, 1_700_000_000
    if kind == "dir":
        info.type = tarfile.DIRTYPE
    elif kind == "symlink":
        info.type, info.linkname = tarfile.SYMTYPE, link
    else:
        info.size = len(data)
    return info, data


def tar_bytes(members: list[tuple[tarfile.TarInfo, bytes]]) -> bytes:
    """A PAX tar of ``members`` (TarInfo, data), as bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def docker_archive(layers: list[bytes], tag: str) -> bytes:
    """A ``docker save`` archive of one image made of ``layers`` (bottom first), its
    digests all right."""
    diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    names = [f"{i}/layer.tar" for i in range(len(layers))]
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": names}])
    return tar_bytes([entry(config_name, data=config),
                      *[entry(n, data=d) for n, d in zip(names, layers, strict=True)],
                      entry("manifest.json", data=manifest.encode())])
