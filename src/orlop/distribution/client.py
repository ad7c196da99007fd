"""One repository on one registry, as the distribution API v2 sees it.

Every manifest and blob is checked while it streams: its size may not exceed what its
descriptor says and its sha256 must match its digest; a mismatch raises
:class:`DigestMismatchError` and the caller keeps nothing.  Manifests are refused above
4 MiB (Docker's ``maxManifestBodySize``).  A blob download that breaks is resumed with
``Range`` where the registry allows it (else restarted), up to three times.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import Callable
from typing import Any, BinaryIO

from orlop.distribution.auth import Authorizer
from orlop.distribution.credentials import Credentials
from orlop.distribution.http import Response, Transport
from orlop.errors import (
    DigestMismatchError,
    LoginFailedError,
    ManifestNotFoundError,
    PullAccessDeniedError,
    RegistryAuthError,
    RegistryError,
)

MAX_MANIFEST = 4 << 20
CHUNK = 1 << 20
CHUNKED_UPLOAD_OVER = 64 << 20  # bigger blobs go up in PATCH chunks of this size
_RETRIES = 3

Progress = Callable[[int], None]  # bytes done so far


def check_digest(digest: str) -> str:
    """Only ``sha256:<64 hex>`` (what Docker writes and the store understands)."""
    algo, _, hexd = digest.partition(":")
    if algo != "sha256" or len(hexd) != 64 or any(c not in "0123456789abcdef" for c in hexd):
        raise DigestMismatchError(f"unsupported digest: {digest!r}")
    return digest


class Registry:
    """A registry host with its transport and credentials (one per pull/push)."""

    def __init__(self, transport: Transport, host: str, creds: Credentials) -> None:
        self.transport = transport
        self.host = host
        self.auth = Authorizer(transport, creds)

    def url(self, path: str) -> str:
        return self.transport.base_url(self.host) + path

    def request(self, method: str, path_or_url: str, scope: str,
                headers: dict[str, str] | None = None,
                body: bytes | Callable[[], BinaryIO] | None = None,
                *, follow: bool = True) -> Response:
        """A request with auth; a 401 is answered once (challenge, token, retry)."""
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        # Credentials go to this registry only, never to a host a Location names.
        ours = urllib.parse.urlsplit(url).netloc == self.host
        for attempt in (0, 1):
            hdrs = {**(headers or {}), **(self.auth.header(scope) if ours else {})}
            if callable(body):
                with body() as stream:  # http.client sends it all inside request()
                    resp = self.transport.request(method, url, hdrs, stream, follow=follow)
            else:
                resp = self.transport.request(method, url, hdrs, body, follow=follow)
            if resp.status != 401 or attempt == 1 or not self.auth.on_unauthorized(resp, scope):
                return resp
            resp.read(1 << 16)
            resp.close()
        raise RegistryError("unreachable")

    def ping(self) -> None:
        """``docker login``: ``GET /v2/`` with the credentials; raises on refusal."""
        resp = self.request("GET", "/v2/", "")
        try:
            body = resp.read(1 << 16)
        finally:
            resp.close()
        if resp.status == 401:
            raise LoginFailedError(
                f"login attempt to {self.url('/v2/')} failed with status: 401 Unauthorized")
        if resp.status != 200:
            raise RegistryError(f"{self.url('/v2/')}: {resp.status} {_errors_text(body)}")


class Repository:
    """``/v2/<path>/...`` of one repository."""

    def __init__(self, registry: Registry, path: str, name: str, *,
                 push: bool = False) -> None:
        self.registry = registry
        self.path = path
        self.name = name  # familiar name, for Docker's error texts
        self.scope = f"repository:{path}:pull" + (",push" if push else "")

    def _req(self, method: str, sub: str, headers: dict[str, str] | None = None,
             body: bytes | Callable[[], BinaryIO] | None = None,
             *, follow: bool = True, scope: str | None = None) -> Response:
        path = sub if "://" in sub else f"/v2/{self.path}/{sub}"
        return self.registry.request(method, path, scope or self.scope, headers, body,
                                     follow=follow)

    # --- manifests ---------------------------------------------------------------

    def get_manifest(self, reference: str, accept: list[str]) -> tuple[bytes, str, str]:
        """(bytes, media type, digest) of ``reference`` (tag or digest); a digest
        reference is verified, and a registry's ``Docker-Content-Digest`` must match."""
        resp = self._req("GET", f"manifests/{reference}", {"Accept": ", ".join(accept)})
        try:
            if resp.status != 200:
                raise _error(resp, self.name, reference)
            length = resp.header("Content-Length")
            if length.isdigit() and int(length) > MAX_MANIFEST:
                raise RegistryError(f"manifest {reference} is too large ({length} bytes, "
                                    f"at most {MAX_MANIFEST})")
            body = resp.read(MAX_MANIFEST)
        finally:
            resp.close()
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            raise DigestMismatchError(
                f"manifest verification failed for digest {reference}: got {digest}")
        sent = resp.header("Docker-Content-Digest")
        if sent.startswith("sha256:") and sent != digest:
            raise DigestMismatchError(
                f"manifest {reference}: the registry says {sent}, the content is {digest}")
        media = resp.header("Content-Type").split(";")[0].strip()
        return body, media, digest

    def put_manifest(self, reference: str, body: bytes, media_type: str) -> str:
        resp = self._req("PUT", f"manifests/{reference}", {"Content-Type": media_type}, body)
        try:
            resp.read(1 << 16)
            if resp.status not in (200, 201, 202):
                raise _error(resp, self.name, reference, push=True)
        finally:
            resp.close()
        return "sha256:" + hashlib.sha256(body).hexdigest()

    # --- blobs -------------------------------------------------------------------

    def fetch_blob(self, digest: str, size: int, out: BinaryIO,
                   progress: Progress | None = None) -> None:
        """Write the blob to ``out`` (an empty file), checking size and digest as it
        streams; resumed with ``Range`` if the connection breaks."""
        check_digest(digest)
        hasher = hashlib.sha256()
        done = 0
        failures = 0
        while True:
            headers = {"Range": f"bytes={done}-"} if done else {}
            try:
                resp = self._req("GET", f"blobs/{digest}", headers)
            except RegistryError:
                failures += 1
                if failures >= _RETRIES:
                    raise
                continue
            try:
                if done and resp.status == 200:  # no ranges: start again
                    hasher, done = hashlib.sha256(), 0
                    out.seek(0)
                    out.truncate()
                elif resp.status not in (200, 206):
                    raise _error(resp, self.name, digest, blob=True)
                try:
                    while True:
                        chunk = resp.raw.read(CHUNK)
                        if not chunk:
                            break
                        done += len(chunk)
                        if done > size:
                            raise DigestMismatchError(
                                f"blob {digest}: more than the {size} bytes its "
                                "descriptor says")
                        hasher.update(chunk)
                        out.write(chunk)
                        if progress is not None:
                            progress(done)
                except (OSError, ValueError) as err:
                    if isinstance(err, DigestMismatchError):
                        raise
                    failures += 1
                    if failures >= _RETRIES:
                        raise RegistryError(f"blob {digest}: download failed: {err}") from None
                    continue
            finally:
                resp.close(reuse=False)
            if done < size:
                failures += 1
                if failures >= _RETRIES:
                    raise RegistryError(f"blob {digest}: unexpected EOF after {done} of "
                                        f"{size} bytes")
                continue
            break
        got = "sha256:" + hasher.hexdigest()
        if got != digest:
            raise DigestMismatchError(f"filesystem layer verification failed for digest "
                                      f"{digest}: got {got}")
        out.flush()

    def blob_exists(self, digest: str) -> bool:
        resp = self._req("HEAD", f"blobs/{digest}")
        resp.close(reuse=False)
        if resp.status == 200:
            return True
        if resp.status == 404:
            return False
        raise _error(resp, self.name, digest, blob=True, push=True)

    def mount_blob(self, digest: str, source_path: str) -> bool:
        """Cross-repository mount; True if the registry mounted it (201)."""
        q = urllib.parse.urlencode({"mount": digest, "from": source_path})
        scope = f"{self.scope} repository:{source_path}:pull"
        resp = self._req("POST", f"blobs/uploads/?{q}", {"Content-Length": "0"}, b"",
                         follow=False, scope=scope)
        try:
            resp.read(1 << 16)
        finally:
            resp.close()
        if resp.status == 201:
            return True
        if resp.status == 202:  # not mountable: an upload was started; leave it
            loc = resp.header("Location")
            if loc:
                self._cancel(loc)
            return False
        if resp.status in (401, 403, 404):
            return False
        raise _error(resp, self.name, digest, blob=True, push=True)

    def _cancel(self, location: str) -> None:
        try:
            r = self._req("DELETE", self._abs(location))
            r.close(reuse=False)
        except RegistryError:
            pass

    def _abs(self, location: str) -> str:
        return urllib.parse.urljoin(self.registry.url(f"/v2/{self.path}/blobs/uploads/"),
                                    location)

    def upload_blob(self, digest: str, size: int, open_body: Callable[[], BinaryIO],
                    progress: Progress | None = None) -> None:
        """Upload: monolithic (one PUT) up to 64 MiB, PATCH chunks above; the registry
        checks the digest at the final PUT."""
        resp = self._req("POST", "blobs/uploads/", {"Content-Length": "0"}, b"", follow=False)
        try:
            resp.read(1 << 16)
            if resp.status != 202:
                raise _error(resp, self.name, digest, blob=True, push=True)
        finally:
            resp.close()
        location = self._abs(resp.header("Location"))
        try:
            if size > CHUNKED_UPLOAD_OVER:
                location = self._patch_chunks(location, size, open_body, progress)
                body: bytes | Callable[[], BinaryIO] = b""
                length = 0
            else:
                body, length = open_body, size
            sep = "&" if "?" in location else "?"
            url = f"{location}{sep}{urllib.parse.urlencode({'digest': digest})}"
            resp = self._req("PUT", url, {"Content-Type": "application/octet-stream",
                                          "Content-Length": str(length)}, body, follow=False)
            try:
                resp.read(1 << 16)
                if resp.status not in (201, 204):
                    raise _error(resp, self.name, digest, blob=True, push=True)
            finally:
                resp.close()
        except BaseException:
            self._cancel(location)
            raise
        if progress is not None:
            progress(size)

    def _patch_chunks(self, location: str, size: int, open_body: Callable[[], BinaryIO],
                      progress: Progress | None) -> str:
        with open_body() as f:
            sent = 0
            while sent < size:
                data = f.read(min(CHUNKED_UPLOAD_OVER, size - sent))
                if not data:
                    raise RegistryError("blob shrank while it was uploaded")
                resp = self._req("PATCH", location, {
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(len(data)),
                    "Content-Range": f"{sent}-{sent + len(data) - 1}"}, data, follow=False)
                try:
                    resp.read(1 << 16)
                    if resp.status != 202:
                        raise _error(resp, self.name, "", blob=True, push=True)
                finally:
                    resp.close()
                sent += len(data)
                location = self._abs(resp.header("Location") or location)
                if progress is not None:
                    progress(sent)
        return location


def _errors_text(body: bytes) -> str:
    """``code: message`` of a registry's ``{"errors": [...]}`` (Docker's errcode text:
    lower case code words, then the message)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body.decode(errors="replace").strip()[:200]
    errs: list[Any] = doc.get("errors") or [] if isinstance(doc, dict) else []
    out = []
    for e in errs:
        if isinstance(e, dict):
            code = str(e.get("code", "")).lower().replace("_", " ")
            msg = str(e.get("message", ""))
            out.append(f"{code}: {msg}" if msg else code)
    return "; ".join(out)


def _error(resp: Response, name: str, reference: str, *, blob: bool = False,
           push: bool = False) -> Exception:
    try:
        body = resp.read(1 << 16) if resp.raw.fp is not None else b""
    except (OSError, RegistryError):
        body = b""
    text = _errors_text(body) or f"{resp.status} {resp.raw.reason}"
    codes = text.split(":", 1)[0]
    if resp.status in (401, 403) or codes in ("name unknown", "unauthorized", "denied"):
        if push:
            return RegistryAuthError(text if resp.status != 401 else
                                     "unauthorized: authentication required")
        return PullAccessDeniedError(
            f"pull access denied for {name}, repository does not exist or may require "
            f"'docker login': {text or 'denied: requested access to the resource is denied'}")
    if resp.status == 404 and not blob:
        return ManifestNotFoundError(f"manifest for {name}:{reference} not found: {text}"
                                     if not reference.startswith("sha256:") else
                                     f"manifest for {name}@{reference} not found: {text}")
    return RegistryError(text if text else f"{resp.status} from {resp.url}")


__all__ = ["MAX_MANIFEST", "Registry", "Repository", "check_digest"]
