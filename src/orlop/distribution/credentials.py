"""Credentials in the docker CLI's ``config.json``: ``auths`` (base64 ``user:password``),
``credsStore`` (one ``docker-credential-<name>`` helper for every registry) and
``credHelpers`` (a helper per registry), read and written the way the docker CLI does,
so ``orlop login`` and ``docker login`` share one file.

The file is ``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``.  It is
rewritten atomically (temp file + rename, mode 0600) and every key Orlop does not know
is kept.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orlop.errors import InvalidParameterError, RegistryAuthError

_TOKEN_USER = "<token>"  # an identity token, stored by helpers under this user name


@dataclass(frozen=True)
class Credentials:
    username: str = ""
    password: str = ""
    identity_token: str = ""  # OAuth refresh token (Docker's "identitytoken")

    @property
    def empty(self) -> bool:
        return not (self.username or self.password or self.identity_token)


def config_path() -> Path:
    d = os.environ.get("DOCKER_CONFIG")
    if d:
        return Path(d) / "config.json"
    return Path(os.path.expanduser("~")) / ".docker" / "config.json"


def _load(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except FileNotFoundError:
        return {}
    except ValueError as err:
        raise InvalidParameterError(f"loading config file {path}: {err}") from None
    if not isinstance(doc, dict):
        raise InvalidParameterError(f"loading config file {path}: not a JSON object")
    return doc


def _save(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config.json.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent="\t")
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _helper_for(doc: dict[str, Any], key: str) -> str:
    helpers = doc.get("credHelpers") or {}
    if isinstance(helpers, dict) and isinstance(helpers.get(key), str):
        return str(helpers[key])
    store = doc.get("credsStore")
    return store if isinstance(store, str) else ""


def _run_helper(helper: str, action: str, data: str) -> str:
    prog = f"docker-credential-{helper}"
    try:
        p = subprocess.run([prog, action], input=data.encode(), capture_output=True,
                           timeout=60, check=False)
    except FileNotFoundError:
        raise RegistryAuthError(
            f'error getting credentials - err: exec: "{prog}": executable file not found '
            f"in $PATH, out: ``") from None
    out = p.stdout.decode(errors="replace").strip()
    if p.returncode != 0:
        if action == "get" and "credentials not found" in out.lower():
            return ""
        raise RegistryAuthError(f"error {'getting' if action == 'get' else 'storing'} "
                                f"credentials - err: exit status {p.returncode}, out: `{out}`")
    return out


def get(key: str, path: Path | None = None) -> Credentials:
    """The credentials stored for the registry ``key`` (empty if none)."""
    doc = _load(path or config_path())
    helper = _helper_for(doc, key)
    if helper:
        out = _run_helper(helper, "get", key)
        if not out:
            return Credentials()
        try:
            got = json.loads(out)
        except ValueError:
            raise RegistryAuthError(f"error getting credentials - bad helper output: {out}") \
                from None
        user, secret = str(got.get("Username", "")), str(got.get("Secret", ""))
        if user == _TOKEN_USER:
            return Credentials(identity_token=secret)
        return Credentials(user, secret)
    entry = (doc.get("auths") or {}).get(key)
    if not isinstance(entry, dict):
        return Credentials()
    user, password = str(entry.get("username", "")), str(entry.get("password", ""))
    if entry.get("auth"):
        try:
            decoded = base64.b64decode(str(entry["auth"])).decode()
        except (ValueError, UnicodeDecodeError):
            raise InvalidParameterError(f"invalid auth configuration for {key}") from None
        user, sep, password = decoded.partition(":")
        if not sep:
            raise InvalidParameterError(f"invalid auth configuration for {key}")
    return Credentials(user, password, str(entry.get("identitytoken", "")))


def store(key: str, creds: Credentials, path: Path | None = None) -> None:
    """Save as ``docker login`` does: through the helper when one is configured (the
    file then only lists the registry), else base64 ``user:password`` in ``auths``."""
    path = path or config_path()
    doc = _load(path)
    helper = _helper_for(doc, key)
    auths = doc.setdefault("auths", {})
    if helper:
        user, secret = ((_TOKEN_USER, creds.identity_token) if creds.identity_token
                        else (creds.username, creds.password))
        _run_helper(helper, "store", json.dumps(
            {"ServerURL": key, "Username": user, "Secret": secret}))
        auths[key] = {}
    else:
        entry: dict[str, str] = {"auth": base64.b64encode(
            f"{creds.username}:{creds.password}".encode()).decode()}
        if creds.identity_token:
            entry = {"identitytoken": creds.identity_token,
                     "auth": base64.b64encode(f"{creds.username}:".encode()).decode()}
        auths[key] = entry
    _save(path, doc)


def erase(key: str, path: Path | None = None) -> bool:
    """``docker logout``: True if something was removed."""
    path = path or config_path()
    doc = _load(path)
    helper = _helper_for(doc, key)
    found = key in (doc.get("auths") or {})
    if helper:
        try:
            _run_helper(helper, "erase", key)
            found = True
        except RegistryAuthError:
            pass
    if key in (doc.get("auths") or {}):
        del doc["auths"][key]
        _save(path, doc)
    return found


__all__ = ["Credentials", "config_path", "erase", "get", "store"]
