"""Registry settings: ``insecure-registries``, ``registry-mirrors`` and TLS trust.

They are read from a ``daemon.json``-style file, as dockerd reads its own:
``$ORLOP_REGISTRY_CONFIG``, else ``/etc/orlop/daemon.json`` (a missing file means the
defaults).  Per-registry CAs and client certificates follow Docker's ``certs.d`` layout,
``<dir>/<host:port>/ca.crt`` (any ``*.crt``) and ``client.cert``/``client.key``, looked up
in ``$ORLOP_CERTS_D`` (``:``-separated) or ``/etc/orlop/certs.d`` then
``/etc/docker/certs.d``, so a host already set up for Docker works unchanged.

As in Docker, ``localhost`` and 127.0.0.0/8 (and ``::1``) are insecure by default: they
are tried over HTTPS first and fall back to plain HTTP.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from orlop.errors import InvalidParameterError

DEFAULT_DAEMON_JSON = "/etc/orlop/daemon.json"
DEFAULT_CERTS_DIRS = ("/etc/orlop/certs.d", "/etc/docker/certs.d")
_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@dataclass(frozen=True)
class RegistrySettings:
    insecure: tuple[str, ...] = ()  # host[:port] names and CIDRs
    mirrors: tuple[str, ...] = ()  # URLs, tried for docker.io only (as dockerd)
    certs_dirs: tuple[Path, ...] = field(default_factory=lambda: tuple(
        Path(d) for d in DEFAULT_CERTS_DIRS))

    @classmethod
    def load(cls, path: str | None = None) -> RegistrySettings:
        path = path or os.environ.get("ORLOP_REGISTRY_CONFIG") or DEFAULT_DAEMON_JSON
        certs_env = os.environ.get("ORLOP_CERTS_D")
        certs = tuple(Path(d) for d in certs_env.split(":") if d) if certs_env else \
            tuple(Path(d) for d in DEFAULT_CERTS_DIRS)
        try:
            with open(path, "rb") as f:
                doc = json.load(f)
        except FileNotFoundError:
            return cls(certs_dirs=certs)
        except ValueError as err:
            raise InvalidParameterError(f"invalid registry configuration {path}: {err}") \
                from None
        if not isinstance(doc, dict):
            raise InvalidParameterError(f"invalid registry configuration {path}: not an object")
        insecure = doc.get("insecure-registries") or []
        mirrors = doc.get("registry-mirrors") or []
        if not all(isinstance(x, str) for x in [*insecure, *mirrors]):
            raise InvalidParameterError(
                f"invalid registry configuration {path}: lists of strings expected")
        for m in mirrors:
            if not m.startswith(("http://", "https://")):
                raise InvalidParameterError(
                    f"invalid mirror: unsupported scheme {m!r} in {path}")
        return cls(tuple(insecure), tuple(m.rstrip("/") for m in mirrors), certs)

    def is_insecure(self, host: str) -> bool:
        """May ``host`` (``name[:port]``) be spoken to over plain HTTP / unverified TLS?"""
        name = _hostname(host)
        if name == "localhost":
            return True
        try:
            ip = ipaddress.ip_address(name)
        except ValueError:
            ip = None
        if ip is not None and any(ip in net for net in _LOOPBACK):
            return True
        for entry in self.insecure:
            if entry in (host, name):
                return True
            if "/" in entry and ip is not None:
                try:
                    if ip in ipaddress.ip_network(entry, strict=False):
                        return True
                except ValueError:
                    continue
        return False

    def cert_dir(self, host: str) -> Path | None:
        """The first ``certs.d/<host>`` directory that exists (no symlink check needed:
        these are the administrator's own files)."""
        for d in self.certs_dirs:
            p = d / host
            if p.is_dir():
                return p
        return None


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


__all__ = ["RegistrySettings"]
