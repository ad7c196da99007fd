"""Request bodies are read as dockerd reads them (moby's ``httputils.ReadJSON``): JSON only
with ``Content-Type: application/json``, one JSON value and nothing after it, and no body
at all after ``Content-Length: 0``.

A browser may send a cross-site POST without a CORS preflight only with ``text/plain``,
``application/x-www-form-urlencoded`` or ``multipart/form-data`` (CSRF against Docker's
API); a JSON endpoint that accepted those would let any web page create containers.
"""

from __future__ import annotations

import json
import socket

from .conftest import Server

JSON = {"Content-Type": "application/json"}


def _volumes(server: Server) -> list[str]:
    status, _, out = server.raw("GET", "/v1.45/volumes")
    assert status == 200
    return sorted(v["Name"] for v in json.loads(out)["Volumes"])


def _message(out: bytes) -> str:
    message: str = json.loads(out)["message"]
    return message


def test_json_body_with_a_cross_site_content_type_is_400(orlopd: Server) -> None:
    body = json.dumps({"Name": "csrf"}).encode()
    for ctype in ("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
                  "multipart/form-data; boundary=x", "application/jsonx", "text/json"):
        for path in ("/v1.45/volumes/create", "/volumes/create", "/v1.41/containers/create",
                     "/v1.45/containers/nope/exec", "/v1.45/containers/nope/update",
                     "/v1.45/commit?container=nope", "/v1.45/exec/nope/start"):
            status, _, out = orlopd.raw("POST", path, body, {"Content-Type": ctype})
            assert status == 400, (ctype, path, out)
            assert _message(out) == (f"unsupported Content-Type header ({ctype}): must be "
                                     "'application/json'"), out
    # A body without any Content-Type is no JSON either (moby: "mime: no media type").
    status, _, out = orlopd.raw("POST", "/v1.45/volumes/create", body)
    assert status == 400
    assert _message(out) == "malformed Content-Type header (): mime: no media type"
    status, _, out = orlopd.raw("POST", "/v1.45/volumes/create", body,
                                {"Content-Type": "application/"})
    assert status == 400 and _message(out).startswith("malformed Content-Type header "
                                                      "(application/): mime: "), out
    assert _volumes(orlopd) == []


def test_json_content_types_dockerd_accepts_are_accepted(orlopd: Server) -> None:
    for i, ctype in enumerate(("application/json", "application/json; charset=utf-8",
                               "Application/JSON", 'application/json ; charset="utf-8"')):
        status, _, out = orlopd.raw("POST", "/v1.45/volumes/create",
                                    json.dumps({"Name": f"ok{i}"}).encode(),
                                    {"Content-Type": ctype})
        assert status == 201, (ctype, out)
    # No body and no Content-Type where the body is optional: a volume with a new name.
    status, _, out = orlopd.raw("POST", "/v1.45/volumes/create")
    assert status == 201, out
    assert len(json.loads(out)["Name"]) == 64
    status, _, out = orlopd.raw("POST", "/v1.45/volumes/create", b"", JSON)
    assert status == 201, out
    assert [n for n in _volumes(orlopd) if n.startswith("ok")] == ["ok0", "ok1", "ok2", "ok3"]


def test_invalid_or_trailing_json_is_400_and_creates_nothing(orlopd: Server) -> None:
    cases = {
        b'{"Name": "t1"} {"Name": "t2"}': "unexpected content after JSON",
        b'{"Name": "t1"}x': "unexpected content after JSON",
        b'{"Name": "t1"}\n{}': "unexpected content after JSON",
        b'{"Name": "t1"}}': "unexpected content after JSON",
    }
    for body, want in cases.items():
        status, _, out = orlopd.raw("POST", "/v1.45/volumes/create", body, JSON)
        assert status == 400, (body, out)
        assert _message(out) == want, (body, out)
    for body in (b"{", b'{"Name": "t1",}', b"\xff\xfe", b"nul"):
        status, _, out = orlopd.raw("POST", "/v1.45/volumes/create", body, JSON)
        assert status == 400, (body, out)
        assert _message(out).startswith("invalid JSON: "), (body, out)
    # Trailing whitespace (Go's json.Encoder ends with a newline) is not content.
    status, _, out = orlopd.raw("POST", "/v1.45/volumes/create", b'{"Name": "t3"}\r\n \n', JSON)
    assert status == 201, out
    # A required body that is empty: Go's decoder hits EOF.
    status, _, out = orlopd.raw("POST", "/v1.45/containers/create", b"", JSON)
    assert status == 400
    assert _message(out) == "invalid JSON: got EOF while reading request body"
    assert _volumes(orlopd) == ["t3"]


def _response_head(s: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, data
        data += chunk
    return data


def test_bytes_after_content_length_zero_are_not_the_body(orlopd: Server) -> None:
    """``Content-Length: 0`` ends the request: what follows is the next request on the
    connection (here not HTTP at all, answered 400), never this one's body.  This held
    before the body checks (aiohttp's parser); the test keeps it so."""
    smuggled = json.dumps({"Name": "smuggled"}).encode()
    head = (b"POST /v1.45/volumes/create HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 0\r\n\r\n")
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(15)
        s.connect(str(orlopd.socket))
        s.sendall(head)
        assert _response_head(s).startswith(b"HTTP/1.1 201 ")
        s.sendall(smuggled)
        assert _response_head(s).startswith(b"HTTP/1.0 400 ")
    # In one write: at worst the whole write is refused as a bad request.
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(15)
        s.connect(str(orlopd.socket))
        s.sendall(head + smuggled)
        assert _response_head(s).split(b" ")[1] in (b"201", b"400")
    names = _volumes(orlopd)
    assert "smuggled" not in names and 1 <= len(names) <= 2
    assert all(len(n) == 64 for n in names)


def test_answers_are_compact_utf8_json_as_dockerd_writes_them(bbd: Server) -> None:
    """dockerd 20.10's bytes, seen here for the same requests: compact JSON (Go's
    encoder), UTF-8 kept, U+2028 and \\b \\f as \\u escapes, ``<>&`` literal, a trailing
    newline on a body; ``\\r\\n`` after each message of a jsonmessage stream."""
    label = "é<>&\u2028\b\f\u0001\n\t/"
    status, _, out = bbd.raw("POST", "/v1.41/containers/create?name=tl",
                             json.dumps({"Image": "busybox", "Cmd": ["true"],
                                         "Labels": {"a": label}}).encode(), JSON)
    assert status == 201, out
    assert out.startswith(b'{"Id":"') and out.endswith(b'","Warnings":[]}\n')
    status, _, out = bbd.raw("GET", "/v1.41/containers/tl/json")
    assert status == 200
    assert ('"Labels":{"a":"é<>&\\u2028\\u0008\\u000c\\u0001\\n\\t/"}'.encode()) in out
    assert out.endswith(b"}\n") and b'": ' not in out and b'", "' not in out
    status, _, out = bbd.raw("GET", "/v1.41/containers/nope/json")
    assert (status, out) == (404, b'{"message":"No such container: nope"}\n')
    status, _, out = bbd.raw("POST", "/v1.41/images/create?fromSrc=-&repo=e&tag=1", b"",
                             {"Content-Type": "application/x-tar"})
    assert status == 200 and out.startswith(b'{"status":"sha256:') and out.endswith(b'"}\r\n')
