"""Docker's reference rules for registries: ``busybox`` is
``docker.io/library/busybox:latest``; ``localhost:5000/x`` names the registry
``localhost:5000``.

Parsing (grammar, error texts) is :func:`orlop.images.reference.parse_reference`; this
module only adds what a registry needs: the domain, the remote path, the API host.
The image store keeps names in their familiar form (``busybox``), so
:attr:`RemoteReference.familiar` is the key under which a pulled image is tagged.
"""

from __future__ import annotations

from dataclasses import dataclass

from orlop.images.reference import (
    DEFAULT_DOMAIN,
    DEFAULT_TAG,
    OFFICIAL_NAMESPACE,
    InvalidReferenceError,
    parse_reference,
)

# Docker Hub's API lives on another host than its name; config.json keys it by the
# legacy index URL (the docker CLI's ``registry.IndexServer``).
HUB_API_HOST = "registry-1.docker.io"
HUB_INDEX_SERVER = "https://index.docker.io/v1/"


@dataclass(frozen=True)
class RemoteReference:
    """``domain/path[:tag][@digest]`` with Docker's defaults filled in."""

    domain: str  # "docker.io", "localhost:5000", "127.0.0.1:5000"
    path: str  # "library/busybox"
    tag: str = ""
    digest: str = ""

    @property
    def familiar(self) -> str:
        """The repository as ``docker images`` prints it (and the store keys it)."""
        if self.domain == DEFAULT_DOMAIN:
            ns, _, rest = self.path.partition("/")
            if ns == OFFICIAL_NAMESPACE and rest and "/" not in rest:
                return rest
            return self.path
        return f"{self.domain}/{self.path}"

    @property
    def full_name(self) -> str:
        """``docker.io/library/busybox`` (the name Docker prints after a pull)."""
        return f"{self.domain}/{self.path}"

    @property
    def reference(self) -> str:
        """The tag or digest to ask the registry for (``latest`` by default)."""
        return self.digest or self.tag or DEFAULT_TAG

    @property
    def tagged(self) -> str:
        """``familiar:tag`` (the image_tags key)."""
        return f"{self.familiar}:{self.tag or DEFAULT_TAG}"

    @property
    def api_host(self) -> str:
        """Where ``/v2/`` is served."""
        return HUB_API_HOST if self.domain == DEFAULT_DOMAIN else self.domain

    @property
    def auth_key(self) -> str:
        """The key of this registry in config.json ``auths`` (the docker CLI's)."""
        return HUB_INDEX_SERVER if self.domain == DEFAULT_DOMAIN else self.domain

    def with_tag_default(self) -> RemoteReference:
        """``busybox`` -> ``busybox:latest``; a digest reference stays as it is."""
        if self.tag or self.digest:
            return self
        return RemoteReference(self.domain, self.path, DEFAULT_TAG)

    def __str__(self) -> str:
        out = self.familiar
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def parse_push_target(text: str) -> RemoteReference:
    """What ``push`` (image or volume) writes to: a tag, ``latest`` by default."""
    ref = parse_remote(text)
    if ref.digest:
        raise InvalidReferenceError("cannot push a digest reference")
    return ref.with_tag_default()


def split_domain(name: str) -> tuple[str, str]:
    """Docker's ``splitDockerDomain``: the first component is a registry when it has a
    ``.`` or a ``:`` or is ``localhost`` (or upper case letters, which a path may not)."""
    first, sep, rest = name.partition("/")
    if sep and (("." in first) or (":" in first) or first == "localhost"
                or first != first.lower()):
        domain, path = first, rest
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == "index.docker.io":
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = f"{OFFICIAL_NAMESPACE}/{path}"
    return domain, path


def parse_remote(text: str) -> RemoteReference:
    """Parse what a user typed (``busybox``, ``127.0.0.1:5000/x:v1``, ``x@sha256:...``)."""
    ref = parse_reference(text)
    domain, path = split_domain(ref.repository)
    return RemoteReference(domain, path, ref.tag, ref.digest)


def registry_key(server: str) -> str:
    """``docker login SERVER``: the config.json key (``docker.io`` and the index URL are
    both Docker Hub; a scheme or a trailing ``/`` is dropped for others, as the CLI)."""
    s = server.strip()
    if s in ("", "docker.io", "index.docker.io", "registry-1.docker.io", HUB_INDEX_SERVER,
             "https://index.docker.io", "https://registry-1.docker.io"):
        return HUB_INDEX_SERVER
    for scheme in ("https://", "http://"):
        s = s.removeprefix(scheme)
    s = s.split("/", 1)[0]
    if not s:
        raise InvalidReferenceError(f"invalid registry address: {server!r}")
    return s


__all__ = ["HUB_API_HOST", "HUB_INDEX_SERVER", "RemoteReference", "parse_push_target",
           "parse_remote",
           "registry_key", "split_domain"]
