"""Docker's client TLS options and how the docker CLI resolves them (flags, then
``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH``).  Standard library only and no
``http.client`` (which imports ``ssl``): ``orlop --help`` names the default paths."""

from __future__ import annotations

import os
from collections.abc import Mapping


class TLSOptions:
    """Docker's client TLS flags: ``--tls``, ``--tlsverify``, ``--tlscacert``,
    ``--tlscert``, ``--tlskey`` (and ``DOCKER_TLS_VERIFY``/``DOCKER_CERT_PATH``).

    ``verify`` False is Docker's ``--tls`` alone: encrypted, the client certificate
    presented, but the server's certificate not checked.

    Immutable; hand-written rather than a frozen dataclass because ``orlop --help``
    imports this module (for :func:`default_cert_path`) and must not pay for
    ``dataclasses``."""

    __slots__ = ("cacert", "cert", "key", "verify")
    verify: bool
    cacert: str | None
    cert: str | None
    key: str | None

    def __init__(self, verify: bool = True, cacert: str | None = None,
                 cert: str | None = None, key: str | None = None) -> None:
        object.__setattr__(self, "verify", verify)
        object.__setattr__(self, "cacert", cacert)
        object.__setattr__(self, "cert", cert)
        object.__setattr__(self, "key", key)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def _key(self) -> tuple[bool, str | None, str | None, str | None]:
        return (self.verify, self.cacert, self.cert, self.key)

    def __eq__(self, other: object) -> bool:
        return type(other) is TLSOptions and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"TLSOptions(verify={self.verify!r}, cacert={self.cacert!r}, "
                f"cert={self.cert!r}, key={self.key!r})")


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
