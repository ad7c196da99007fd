"""A small client for Docker's plugin protocol: ``POST /<Method>`` with a JSON body,
``Content-Type: application/vnd.docker.plugins.v1.2+json``, over a unix socket (or TCP
for a ``.spec``/``.json`` file naming ``tcp://host:port``).

Why not urllib: it cannot speak HTTP over a unix socket; ``http.client`` can once the
connection's socket is ours.  Why short timeouts and a short retry: moby retries a
plugin that does not answer for up to 30 s, which makes every command hang while a
plugin is down; Orlop retries for ``retry_for`` seconds (a plugin that is just starting)
and then says which plugin at which address did not answer, so the user can start it
and run the command again.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from typing import Any

from orlop.errors import PluginUnavailableError, SystemFailureError

CONTENT_TYPE = "application/vnd.docker.plugins.v1.2+json"
CONNECT_TIMEOUT = 2.0
CALL_TIMEOUT = 60.0  # a Mount may have to reach a remote: generous, but bounded
RETRY_FOR = 3.0


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        sock.settimeout(self.timeout)
        self.sock = sock


class PluginClient:
    """Calls on one plugin at ``addr`` (``unix:///path`` or ``tcp://host:port``)."""

    def __init__(self, name: str, addr: str, *, timeout: float = CALL_TIMEOUT,
                 retry_for: float = RETRY_FOR) -> None:
        self.name = name
        self.addr = addr
        self.timeout = timeout
        self.retry_for = retry_for

    def _connection(self) -> http.client.HTTPConnection:
        if self.addr.startswith("unix://"):
            return _UnixConnection(self.addr[len("unix://"):], self.timeout)
        if self.addr.startswith(("tcp://", "http://")):
            hostport = self.addr.split("://", 1)[1].rstrip("/")
            return http.client.HTTPConnection(hostport, timeout=self.timeout)
        raise SystemFailureError(f'plugin "{self.name}": unsupported address {self.addr!r} '
                                 "(unix:// and tcp:// are)")

    def call(self, method: str, body: dict[str, Any] | None = None, *,
             retry: bool = True) -> dict[str, Any]:
        """``POST /method``; the decoded answer.  A non-empty ``Err`` in it raises
        SystemFailureError with the plugin's text; a plugin that cannot be reached
        (after ``retry_for`` seconds of retries, none without ``retry``) raises
        PluginUnavailableError."""
        data = json.dumps(body or {}).encode()
        deadline = time.monotonic() + (self.retry_for if retry else 0.0)
        delay = 0.1
        while True:
            conn = self._connection()
            try:
                conn.request("POST", f"/{method}", body=data,
                             headers={"Content-Type": CONTENT_TYPE,
                                      "Accept": CONTENT_TYPE})
                resp = conn.getresponse()
                status, raw = resp.status, resp.read()
                break
            except (TimeoutError, ConnectionError, FileNotFoundError) as err:
                if time.monotonic() + delay > deadline:
                    raise PluginUnavailableError(self.name, self.addr, method,
                                                 _reason(err)) from err
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
            except OSError as err:
                raise PluginUnavailableError(self.name, self.addr, method,
                                             _reason(err)) from err
            finally:
                conn.close()
        try:
            answer = json.loads(raw) if raw.strip() else {}
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            text = raw.decode(errors="replace").strip()
            raise SystemFailureError(f'plugin "{self.name}": {method}: HTTP {status}: '
                                     f"{text or 'not a JSON object'}")
        err_text = answer.get("Err")
        if err_text:
            raise SystemFailureError(f"{method}: {err_text}")
        if status >= 400:
            raise SystemFailureError(f'plugin "{self.name}": {method}: HTTP {status}')
        return answer


def _reason(err: OSError) -> str:
    if isinstance(err, TimeoutError):
        return "timed out"
    return (err.strerror or str(err)).lower()
