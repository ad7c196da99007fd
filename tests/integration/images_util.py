"""Build small test images on top of the busybox rootfs (one layer, via `orlop import`)."""

from __future__ import annotations

import io
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
