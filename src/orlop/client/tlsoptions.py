"""Docker's client TLS options and how the docker CLI resolves them (flags, then
``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH``).  Standard library only and no
``http.client`` (which imports ``ssl``): ``orlop --help`` names the default paths."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class TLSOptions:
    """Docker's client TLS flags: ``--tls``, ``--tlsverify``, ``--tlscacert``,
    ``--tlscert``, ``--tlskey`` (and ``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH``).

    ``verify`` False is Docker's ``--tls`` alone: encrypted, the client certificate
    presented, but the server's certificate not checked."""

    verify: bool = True
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None


def default_cert_path(environ: Mapping[str, str] | None = None) -> str:
    """``$DOCKER_CERT_PATH``, else the docker CLI's config directory (``$DOCKER_CONFIG``,
    else ``~/.docker``), as the docker CLI resolves it."""
    env = os.environ if environ is None else environ
    return (env.get("DOCKER_CERT_PATH") or env.get("DOCKER_CONFIG")
            or os.path.join(os.path.expanduser("~"), ".docker"))


def resolve_tls(*, tls: bool = False, verify: bool = False, cacert: str | None = None,
                cert: str | None = None, key: str | None = None,
                environ: Mapping[str, str] | None = None) -> TLSOptions | None:
    """The docker CLI's TLS resolution (``cli/flags.ClientOptions.SetDefaultOptions``).

    ``--tlsverify``, or any non-empty ``DOCKER_TLS_VERIFY`` (even "0", as in Docker),
    turns TLS on and verifies the server; ``--tls`` alone turns TLS on without
    verification.  Unset paths default to ``ca.pem``, ``cert.pem`` and ``key.pem`` in
    :func:`default_cert_path`; a default client certificate or key that does not exist
    is dropped (an explicit one must exist).  None: no TLS."""
    env = os.environ if environ is None else environ
    verify = verify or bool(env.get("DOCKER_TLS_VERIFY"))
    if not (tls or verify):
        return None
    base = default_cert_path(env)

    def default(name: str) -> str | None:
        path = os.path.join(base, name)
        return path if os.path.exists(path) else None

    return TLSOptions(verify=verify,
                      cacert=cacert or os.path.join(base, "ca.pem"),
                      cert=cert or default("cert.pem"),
                      key=key or default("key.pem"))
