"""Opening a repository: settings, credentials, transport, mirrors."""

from __future__ import annotations

import urllib.parse

from orlop.distribution import credentials
from orlop.distribution.client import Registry, Repository
from orlop.distribution.credentials import Credentials
from orlop.distribution.http import Transport
from orlop.distribution.reference import RemoteReference
from orlop.distribution.settings import RegistrySettings
from orlop.images.reference import DEFAULT_DOMAIN


def open_repositories(ref: RemoteReference, *, push: bool = False,
                      settings: RegistrySettings | None = None,
                      creds: Credentials | None = None) -> tuple[Transport, list[Repository]]:
    """The repositories to try in order: for a docker.io pull the configured
    ``registry-mirrors`` (anonymous, as dockerd), then the registry itself."""
    settings = settings or RegistrySettings.load()
    transport = Transport(settings)
    if creds is None:
        creds = credentials.get(ref.auth_key)
    repos: list[Repository] = []
    if ref.domain == DEFAULT_DOMAIN and not push:
        for mirror in settings.mirrors:
            u = urllib.parse.urlsplit(mirror)
            transport.set_scheme(u.netloc, u.scheme)
            repos.append(Repository(Registry(transport, u.netloc, Credentials()), ref.path,
                                    ref.familiar))
    repos.append(Repository(Registry(transport, ref.api_host, creds), ref.path, ref.familiar,
                            push=push))
    return transport, repos


__all__ = ["open_repositories"]
