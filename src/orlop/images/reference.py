"""Image references (``busybox``, ``busybox:1.36``, ``registry:5000/team/app:v1``).

The grammar is Docker's (distribution/reference ``regexp.go``), with Docker's
texts for the errors, so ``invalid reference format`` reads the same.  Names are
kept in their *familiar* form, the way ``docker images`` prints them: the
default registry ``docker.io`` and its ``library/`` namespace are dropped, so
``docker.io/library/busybox`` and ``busybox`` are the same tag.  No registry is
ever contacted: the domain is only part of the name.
"""

from __future__ import annotations

import re

from orlop.errors import InvalidParameterError
from orlop.records import FrozenRecord

DEFAULT_TAG = "latest"
DEFAULT_DOMAIN = "docker.io"
_LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_NAMESPACE = "library"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

# \Z, not $: "$" would accept a trailing newline (security-principles.md G4).
_REFERENCE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?\Z"
)
# The same with upper case allowed in the path, to tell "must be lowercase" apart: only
# an invalid reference needs it, compiled then (re's cache), not at every start (0.5 ms).
_ANY_CASE_REFERENCE = _REFERENCE.pattern.replace("[a-z0-9]+", "[a-zA-Z0-9]+")
_HEX64 = re.compile(r"[a-f0-9]{64}\Z")


class InvalidReferenceError(InvalidParameterError):
    """Docker's ``invalid reference format`` family."""


class Reference(FrozenRecord):
    """A parsed reference: ``repository`` in familiar form, ``tag`` ("" if none given)."""

    _fields = ("repository", "tag", "digest")
    __slots__ = _fields
    repository: str
    tag: str
    digest: str

    def __init__(self, repository: str, tag: str = "", digest: str = "") -> None:
        self._set(repository=repository, tag=tag, digest=digest)

    @property
    def tagged(self) -> str:
        """``repository:tag`` with the default tag filled in: the key of image_tags."""
        return f"{self.repository}:{self.tag or DEFAULT_TAG}"

    def __str__(self) -> str:
        out = self.repository
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def _familiar(name: str) -> str:
    first, _, rest = name.partition("/")
    if rest and (first in (DEFAULT_DOMAIN, _LEGACY_DOMAIN)):
        name = rest
        ns, _, tail = name.partition("/")
        if ns == OFFICIAL_NAMESPACE and tail and "/" not in tail:
            name = tail
    return name


def parse_reference(text: str) -> Reference:
    """Parse a reference as ``docker tag``/``docker import`` do; raise Docker's texts."""
    m = _REFERENCE.match(text)
    if m is None:
        if text and re.match(_ANY_CASE_REFERENCE, text):
            raise InvalidReferenceError(
                "invalid reference format: repository name must be lowercase")
        raise InvalidReferenceError("invalid reference format")
    name = m.group("name")
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReferenceError(
            f"invalid reference format: repository name must not be more than "
            f"{NAME_TOTAL_LENGTH_MAX} characters")
    familiar = _familiar(name)
    if _HEX64.match(familiar):
        raise InvalidReferenceError(
            f"invalid repository name ({familiar}), cannot specify 64-byte hexadecimal strings")
    return Reference(familiar, m.group("tag") or "", m.group("digest") or "")


def parse_tag_target(text: str) -> Reference:
    """A reference that a tag is written to (``tag``, ``import``, ``commit``): no digest."""
    ref = parse_reference(text)
    if ref.digest:
        raise InvalidReferenceError("refusing to create a tag with a digest reference")
    return ref


def split_tagged(tagged: str) -> tuple[str, str]:
    """``repo:tag`` (as stored) -> (repo, tag); the tag is after the last colon past any
    ``/``, so ``registry:5000/app:v1`` splits as ("registry:5000/app", "v1")."""
    slash = tagged.rfind("/")
    colon = tagged.rfind(":")
    if colon > slash:
        return tagged[:colon], tagged[colon + 1:]
    return tagged, ""
