"""``GET /distribution/{name}/json``: what a reference resolves to on its registry (the
manifest or index descriptor, and the platforms it offers), without pulling it."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

from orlop.distribution.manifest import ACCEPT, kind, parse_index, parse_manifest
from orlop.distribution.reference import parse_remote
from orlop.distribution.session import open_repositories

if TYPE_CHECKING:
    from orlop.distribution.credentials import Credentials

_MAX_CONFIG = 32 << 20


def distribution_inspect(name: str, creds: Credentials | None = None) -> dict[str, Any]:
    ref = parse_remote(name).with_tag_default()
    transport, repos = open_repositories(ref, creds=creds)
    try:
        repo = repos[-1]
        body, media_type, digest = repo.get_manifest(ref.reference, ACCEPT)
        platforms: list[dict[str, str]] = []
        if kind(body, media_type) == "index":
            for e in parse_index(body):
                if e.platform is not None:
                    p = {"architecture": e.platform.architecture, "os": e.platform.os}
                    if e.platform.variant:
                        p["variant"] = e.platform.variant
                    platforms.append(p)
        else:
            manifest = parse_manifest(body, media_type)
            if manifest.config.size <= _MAX_CONFIG:
                buf = io.BytesIO()
                repo.fetch_blob(manifest.config.digest, manifest.config.size, buf)
                cfg = json.loads(buf.getvalue())
                platforms.append({"architecture": str(cfg.get("architecture", "")),
                                  "os": str(cfg.get("os", ""))})
        mt = str(json.loads(body).get("mediaType") or media_type)
        return {"Descriptor": {"mediaType": mt, "digest": digest, "size": len(body)},
                "Platforms": platforms}
    finally:
        transport.close()


__all__ = ["distribution_inspect"]
