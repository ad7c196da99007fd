"""Pure logic of the registry client: references, challenges, platforms, settings,
config.json credentials."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orlop.distribution import credentials
from orlop.distribution.auth import parse_challenge
from orlop.distribution.manifest import (
    Descriptor,
    IndexEntry,
    Platform,
    choose,
    parse_platform,
)
from orlop.distribution.reference import HUB_INDEX_SERVER, parse_remote, registry_key
from orlop.distribution.settings import RegistrySettings
from orlop.errors import InvalidParameterError, NotFoundError


@pytest.mark.parametrize(("text", "domain", "path", "familiar", "reference"), [
    ("busybox", "docker.io", "library/busybox", "busybox", "latest"),
    ("docker.io/library/busybox:1.36", "docker.io", "library/busybox", "busybox", "1.36"),
    ("index.docker.io/foo/bar", "docker.io", "foo/bar", "foo/bar", "latest"),
    ("localhost:5000/x", "localhost:5000", "x", "localhost:5000/x", "latest"),
    ("localhost/x:v1", "localhost", "x", "localhost/x", "v1"),
    ("127.0.0.1:5000/a/b@sha256:" + "a" * 64, "127.0.0.1:5000", "a/b",
     "127.0.0.1:5000/a/b", "sha256:" + "a" * 64),
    ("quay.io/org/app", "quay.io", "org/app", "quay.io/org/app", "latest"),
])
def test_parse_remote_docker_rules(text: str, domain: str, path: str, familiar: str,
                                   reference: str) -> None:
    ref = parse_remote(text).with_tag_default()
    assert (ref.domain, ref.path, ref.familiar, ref.reference) == \
        (domain, path, familiar, reference)


def test_parse_remote_hub_api_host_and_auth_key() -> None:
    ref = parse_remote("busybox")
    assert ref.api_host == "registry-1.docker.io"
    assert ref.auth_key == HUB_INDEX_SERVER
    assert ref.with_tag_default().full_name == "docker.io/library/busybox"
    assert parse_remote("localhost:5000/x").auth_key == "localhost:5000"


def test_parse_remote_bad_reference_docker_text() -> None:
    with pytest.raises(InvalidParameterError, match="invalid reference format"):
        parse_remote("Busybox")


def test_registry_key_forms() -> None:
    assert registry_key("") == HUB_INDEX_SERVER
    assert registry_key("docker.io") == HUB_INDEX_SERVER
    assert registry_key("https://127.0.0.1:5000/") == "127.0.0.1:5000"


def test_parse_challenge_bearer_with_quoted_commas() -> None:
    ch = parse_challenge('Bearer realm="https://auth.example/token",service="reg",'
                         'scope="repository:a/b:pull,push"')
    assert ch is not None and ch.scheme == "bearer"
    assert ch.params == {"realm": "https://auth.example/token", "service": "reg",
                         "scope": "repository:a/b:pull,push"}
    basic = parse_challenge('Basic realm="x"')
    assert basic is not None and basic.scheme == "basic"


def _entry(arch: str, variant: str = "") -> IndexEntry:
    return IndexEntry(Descriptor("m", "sha256:" + "0" * 64, 1),
                      Platform("linux", arch, variant))


def test_choose_platform_matches_os_arch_variant() -> None:
    entries = [_entry("arm", "v6"), _entry("arm", "v7"), _entry("amd64"), _entry("arm64")]
    assert choose(entries, Platform("linux", "amd64")) is entries[2]
    assert choose(entries, Platform("linux", "arm", "v7")) is entries[1]
    assert choose(entries, Platform("linux", "arm64", "v8")) is entries[3]
    with pytest.raises(NotFoundError, match="no matching manifest for linux/s390x"):
        choose(entries, Platform("linux", "s390x"))


def test_parse_platform_forms() -> None:
    assert parse_platform("linux/arm64") == Platform("linux", "arm64")
    assert parse_platform("LINUX/arm/v7") == Platform("linux", "arm", "v7")
    with pytest.raises(InvalidParameterError):
        parse_platform("windows/amd64")
    with pytest.raises(InvalidParameterError):
        parse_platform("linux//")


def test_settings_insecure_loopback_and_configured(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "daemon.json"
    cfg.write_text(json.dumps({"insecure-registries": ["10.0.0.0/8", "reg.lan:5000"],
                               "registry-mirrors": ["https://mirror.lan/"]}))
    monkeypatch.setenv("ORLOP_CERTS_D", str(tmp_path / "certs.d"))
    s = RegistrySettings.load(str(cfg))
    assert s.is_insecure("127.0.0.1:5000") and s.is_insecure("localhost:80")
    assert s.is_insecure("[::1]:5000")
    assert s.is_insecure("10.1.2.3:5000") and s.is_insecure("reg.lan:5000")
    assert not s.is_insecure("reg.lan:5001") and not s.is_insecure("quay.io")
    assert s.mirrors == ("https://mirror.lan",)
    cfg.write_text('{"registry-mirrors": ["ftp://x"]}')
    with pytest.raises(InvalidParameterError, match="unsupported scheme"):
        RegistrySettings.load(str(cfg))


def test_credentials_round_trip_keeps_other_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {"other:1": {"auth": "eDp5"}}, "psFormat": "x"}))
    credentials.store("127.0.0.1:5000", credentials.Credentials("alice", "pw:with:colons"),
                      path)
    doc = json.loads(path.read_text())
    assert doc["psFormat"] == "x" and "other:1" in doc["auths"]
    assert credentials.get("127.0.0.1:5000", path) == \
        credentials.Credentials("alice", "pw:with:colons")
    assert credentials.get("other:1", path) == credentials.Credentials("x", "y")
    assert credentials.erase("127.0.0.1:5000", path)
    assert not credentials.erase("127.0.0.1:5000", path)
    assert credentials.get("127.0.0.1:5000", path).empty
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_credentials_helper_protocol(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """credsStore: `docker-credential-<name> get|store|erase` with the server on stdin."""
    store_file = tmp_path / "helper-store.json"
    helper = tmp_path / "bin" / "docker-credential-testhelper"
    helper.parent.mkdir()
    helper.write_text(f"""#!/usr/bin/env python3
import json, sys
f = {str(store_file)!r}
try:
    db = json.load(open(f))
except FileNotFoundError:
    db = {{}}
action, data = sys.argv[1], sys.stdin.read()
if action == "store":
    d = json.loads(data); db[d["ServerURL"]] = d
    json.dump(db, open(f, "w"))
elif action == "get":
    if data not in db:
        print("credentials not found in native keychain"); sys.exit(1)
    print(json.dumps(db[data]))
elif action == "erase":
    db.pop(data, None); json.dump(db, open(f, "w"))
""")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper.parent}:{__import__('os').environ['PATH']}")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"credsStore": "testhelper"}))
    assert credentials.get("reg:1", path).empty
    credentials.store("reg:1", credentials.Credentials("bob", "secret"), path)
    assert json.loads(path.read_text())["auths"] == {"reg:1": {}}
    assert credentials.get("reg:1", path) == credentials.Credentials("bob", "secret")
    assert credentials.erase("reg:1", path)
    assert credentials.get("reg:1", path).empty


def test_terminal_progress_rewrites_a_layer_line_in_place() -> None:
    import io

    from orlop.cli.progress import PlainProgress, TerminalProgress

    out = io.StringIO()
    p = TerminalProgress(out)
    p.message("Pulling from library/busybox", "latest")
    p.layer("aaaaaaaaaaaa", "Pulling fs layer")
    p.layer("bbbbbbbbbbbb", "Waiting")
    p.layer("aaaaaaaaaaaa", "Downloading", 500_000, 1_000_000)
    text = out.getvalue()
    assert text.startswith("latest: Pulling from library/busybox\naaaaaaaaaaaa: Pulling fs "
                           "layer\nbbbbbbbbbbbb: Waiting\n")
    # two lines up, clear, rewrite, two lines down
    assert text.endswith("\x1b[2A\x1b[2K\raaaaaaaaaaaa: Downloading [" + "=" * 25 + ">"
                         + " " * 24 + "]    500kB/1MB\x1b[2B\r")
    plain = io.StringIO()
    q = PlainProgress(plain)
    q.layer("aaaaaaaaaaaa", "Downloading", 1, 2)
    q.layer("aaaaaaaaaaaa", "Pull complete")
    assert plain.getvalue() == "aaaaaaaaaaaa: Pull complete\n"


def test_x_registry_auth_header_forms() -> None:
    import base64

    from orlop.engine.registry import credentials_from_header

    def enc(doc: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    assert credentials_from_header("").empty
    assert credentials_from_header(enc({})).empty
    assert credentials_from_header(enc({"username": "u", "password": "p"})) == \
        credentials.Credentials("u", "p")
    assert credentials_from_header(enc({"auth": base64.b64encode(b"a:b:c").decode()})) == \
        credentials.Credentials("a", "b:c")
    with pytest.raises(InvalidParameterError):
        credentials_from_header("%%%")
