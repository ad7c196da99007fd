"""Registry authentication: anonymous, Basic, and the Bearer token challenge flow.

A request goes out with what is known for its scope; a ``401`` with
``WWW-Authenticate: Bearer realm=...,service=...,scope=...`` makes the client fetch a
token from ``realm`` (GET with Basic credentials when there are any, or the OAuth2
``refresh_token`` POST for an identity token, as Docker's client) and send the request
again once.  ``Basic`` challenges are answered with the credentials directly.  Tokens are
cached per scope for the session.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import urllib.parse
from dataclasses import dataclass, field

from orlop.distribution.credentials import Credentials
from orlop.distribution.http import Response, Transport
from orlop.errors import LoginFailedError, RegistryAuthError, RegistryError

_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_MAX_TOKEN_RESPONSE = 1 << 20


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "bearer" | "basic"
    params: dict[str, str] = field(default_factory=dict)


def parse_challenge(header: str) -> Challenge | None:
    """The first challenge of a ``WWW-Authenticate`` header."""
    header = header.strip()
    if not header:
        return None
    scheme, _, rest = header.partition(" ")
    params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
              for m in _PARAM.finditer(rest)}
    return Challenge(scheme.lower(), params)


class Authorizer:
    """The Authorization header for each request to one registry host."""

    def __init__(self, transport: Transport, creds: Credentials) -> None:
        self.transport = transport
        self.creds = creds
        self.challenge: Challenge | None = None
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def header(self, scope: str) -> dict[str, str]:
        ch = self.challenge
        if ch is None:
            return {}
        if ch.scheme == "basic":
            if self.creds.empty:
                return {}
            raw = f"{self.creds.username}:{self.creds.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        if ch.scheme == "bearer":
            with self._lock:
                token = self._tokens.get(scope)
            if token is None:
                token = self._fetch_token(ch, scope)
                with self._lock:
                    self._tokens[scope] = token
            return {"Authorization": f"Bearer {token}"} if token else {}
        return {}

    def on_unauthorized(self, resp: Response, scope: str) -> bool:
        """Learn from a 401; True if the request is worth sending again."""
        ch = parse_challenge(resp.header("WWW-Authenticate"))
        if ch is None or ch.scheme not in ("basic", "bearer"):
            return False
        first = self.challenge is None or self.challenge != ch
        self.challenge = ch
        with self._lock:
            had = self._tokens.pop(scope, None)
        if ch.scheme == "bearer":
            # A new challenge (scope widened) or a token the registry no longer takes.
            return first or had is not None
        return first and not self.creds.empty

    def _fetch_token(self, ch: Challenge, scope: str) -> str:
        realm = ch.params.get("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise RegistryAuthError(f"invalid token realm {realm!r}")
        service = ch.params.get("service", "")
        scopes = [s for s in (scope, ch.params.get("scope", "")) if s]
        if self.creds.identity_token:
            form = {"grant_type": "refresh_token", "refresh_token": self.creds.identity_token,
                    "client_id": "orlop", "service": service, "scope": " ".join(scopes)}
            resp = self.transport.request(
                "POST", realm, {"Content-Type": "application/x-www-form-urlencoded"},
                urllib.parse.urlencode(form).encode())
        else:
            q = [("service", service)] if service else []
            q += [("scope", s) for s in dict.fromkeys(scopes)]
            if self.creds.username:
                q.append(("account", self.creds.username))
            url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(q)
            hdrs = {}
            if not self.creds.empty:
                raw = f"{self.creds.username}:{self.creds.password}".encode()
                hdrs["Authorization"] = "Basic " + base64.b64encode(raw).decode()
            resp = self.transport.request("GET", url, hdrs)
        try:
            body = resp.read(_MAX_TOKEN_RESPONSE)
        finally:
            resp.close()
        if resp.status in (401, 403):
            raise LoginFailedError("unauthorized: incorrect username or password"
                                    if not self.creds.empty else
                                    "unauthorized: authentication required")
        if resp.status != 200:
            raise RegistryError(f"token server {realm} answered {resp.status}")
        try:
            doc = json.loads(body)
        except ValueError:
            raise RegistryError(f"token server {realm} sent invalid JSON") from None
        token = doc.get("token") or doc.get("access_token") or ""
        if not isinstance(token, str) or not token:
            raise RegistryError(f"token server {realm} sent no token")
        return token


__all__ = ["Authorizer", "Challenge", "parse_challenge"]
