"""A hijacked stream's first bytes wait until the client has read the 101 head.

docker-py reads the head with http.client's buffered reader and the stream from the raw
socket: output sent right behind the head was lost in that buffer, and docker-py's own
``attach(logs=True, stream=False)`` test returned b'' now and then on a loaded machine
(server/streams.py ``_head_read``)."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from .conftest import Server

JSON = {"Content-Type": "application/json"}


def _read_all(s: socket.socket) -> bytes:
    out = b""
    while chunk := s.recv(65536):
        out += chunk
    return out


def test_an_exited_containers_logs_follow_the_head_only_once_it_is_read(bbd: Server) -> None:
    status, _, out = bbd.raw("POST", "/v1.41/containers/create?name=echoer",
                             json.dumps({"Image": "busybox",
                                         "Cmd": ["echo", "hello"]}).encode(), JSON)
    assert status == 201, out
    assert bbd.raw("POST", "/v1.41/containers/echoer/start")[0] == 204
    status, _, out = bbd.raw("POST", "/v1.41/containers/echoer/wait")
    assert status == 200 and json.loads(out)["StatusCode"] == 0
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(15)
        s.connect(str(bbd.socket))
        s.sendall(b"POST /v1.41/containers/echoer/attach?logs=1&stdout=1&stderr=1&stream=0"
                  b" HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                  b"Content-Length: 0\r\n\r\n")
        time.sleep(0.2)  # a slow client: the logs are ready long before it reads
        head = s.recv(65536)
        assert head.startswith(b"HTTP/1.1 101 UPGRADED\r\n") and head.endswith(b"\r\n\r\n")
        rest = _read_all(s)
    assert rest == b"\x01\x00\x00\x00\x00\x00\x00\x06hello\n"


def test_docker_py_attach_without_stream_gets_the_logs_every_time(client: Any) -> None:
    """docker-py's own test (api_container_test.py::test_attach_no_stream), repeated."""
    api = client.api
    for _ in range(10):
        ct = api.create_container("busybox", "echo hello")
        api.start(ct)
        api.wait(ct, condition="not-running")
        assert api.attach(ct, stream=False, logs=True) == b"hello\n"
        api.remove_container(ct)
