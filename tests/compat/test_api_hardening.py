"""Bad input answered with Docker's errors; the socket's permissions; a client flood."""

from __future__ import annotations

import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor

from .conftest import Server


def test_socket_is_0660_root_owned(orlopd: Server) -> None:
    st = os.stat(orlopd.socket)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert (st.st_uid, st.st_gid) == (0, 0)


def test_ping_head_and_get_carry_api_version(orlopd: Server) -> None:
    for method in ("GET", "HEAD"):
        status, headers, body = orlopd.raw(method, "/_ping")
        assert status == 200 and headers["Api-Version"] == "1.45"
        assert body == (b"OK" if method == "GET" else b"")


def test_unknown_endpoint_is_404_page_not_found(orlopd: Server) -> None:
    for path in ("/nope", "/v1.45/nope", "/v1.45/volumes/x/y/z"):
        status, _, body = orlopd.raw("GET", path)
        assert status == 404 and json.loads(body) == {"message": "page not found"}


def test_version_too_new_is_400(orlopd: Server) -> None:
    status, _, body = orlopd.raw("GET", "/v1.99/version")
    assert status == 400 and "too new" in json.loads(body)["message"]
    assert orlopd.raw("GET", "/v1.41/version")[0] == 200


def test_malformed_json_and_wrong_types_are_400_and_create_nothing(orlopd: Server) -> None:
    hdr = {"Content-Type": "application/json"}
    cases = [b"{", b"[1]", b'{"Name": 5}', b'{"Labels": {"a": 1}}', b'{"Name": "a/b"}',
             b'{"Name": ".."}', b'{"Name": "a\\u0000b"}', b'{"Name": "a%2Fb"}']
    for body in cases:
        status, _, out = orlopd.raw("POST", "/v1.45/volumes/create", body, hdr)
        assert status == 400, (body, out)
        assert "message" in json.loads(out)
    status, _, out = orlopd.raw("GET", "/v1.45/volumes")
    assert json.loads(out)["Volumes"] == []
    status, _, out = orlopd.raw("POST", "/v1.45/containers/create", b'{"Image": 1}', hdr)
    assert status == 400


def test_oversized_body_is_413(orlopd: Server) -> None:
    big = b'{"Name": "' + b"a" * (2 << 20) + b'"}'
    status, _, out = orlopd.raw("POST", "/v1.45/volumes/create", big,
                                {"Content-Type": "application/json"})
    assert status == 413 and "too large" in json.loads(out)["message"]


def test_cross_origin_request_is_refused(orlopd: Server) -> None:
    status, _, _ = orlopd.raw("GET", "/v1.45/volumes", headers={"Origin": "http://evil"})
    assert status == 403


def test_server_survives_200_concurrent_requests(orlopd: Server) -> None:
    orlopd.raw("POST", "/volumes/create", b'{"Name": "flood"}',
               {"Content-Type": "application/json"})

    def one(i: int) -> int:
        path = "/v1.45/volumes" if i % 2 else "/v1.45/volumes/flood"
        return orlopd.raw("GET", path)[0]

    with ThreadPoolExecutor(max_workers=200) as pool:
        statuses = list(pool.map(one, range(200)))
    assert statuses == [200] * 200
    assert orlopd.raw("GET", "/_ping")[0] == 200
