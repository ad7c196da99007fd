"""Registry calls of orlopd: ``POST /images/create?fromImage=`` (pull), ``POST
/images/{name}/push``, ``POST /auth``; progress arrives as Docker's JSON messages, which
the caller renders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orlop.client.base import BaseClient, quote
from orlop.client.images import json_messages

OnMessage = Callable[[dict[str, Any]], None]


class RegistryAPI(BaseClient):
    def pull_image(self, ref: str, platform: str, auth: str, on_message: OnMessage) -> None:
        params = {"fromImage": ref, **({"platform": platform} if platform else {})}
        conn, resp = self.open_stream("POST", "/images/create", params,
                                      headers={"X-Registry-Auth": auth} if auth else {})
        try:
            for msg in json_messages(resp):
                on_message(msg)
        finally:
            conn.close()

    def push_image(self, name: str, tag: str, auth: str,
                   on_message: OnMessage) -> dict[str, Any]:
        """Returns the ``aux`` message (``Tag``, ``Digest``, ``Size``)."""
        return self._aux_stream("POST", f"/images/{quote(name)}/push",
                                {"tag": tag} if tag else {}, auth or "e30=", on_message)

    def push_volume(self, name: str, ref: str, auth: str,
                    on_message: OnMessage) -> dict[str, Any]:
        """``POST /libpod/volumes/{name}/push?reference=`` (Orlop's)."""
        return self._aux_stream("POST", f"/libpod/volumes/{quote(name)}/push",
                                {"reference": ref}, auth, on_message)

    def pull_volume(self, ref: str, name: str, force: bool, auth: str,
                    on_message: OnMessage) -> dict[str, Any]:
        """``POST /libpod/volumes/pull?reference=&name=&force=`` (Orlop's)."""
        params: dict[str, Any] = {"reference": ref, "force": force}
        if name:
            params["name"] = name
        return self._aux_stream("POST", "/libpod/volumes/pull", params, auth, on_message)

    def _aux_stream(self, method: str, path: str, params: dict[str, Any], auth: str,
                    on_message: OnMessage) -> dict[str, Any]:
        conn, resp = self.open_stream(method, path, params,
                                      headers={"X-Registry-Auth": auth} if auth else {})
        aux: dict[str, Any] = {}
        try:
            for msg in json_messages(resp):
                if isinstance(msg.get("aux"), dict):
                    aux = msg["aux"]
                else:
                    on_message(msg)
        finally:
            conn.close()
        return aux

    def login(self, server: str, username: str, password: str) -> dict[str, Any]:
        out = self.json("POST", "/auth", body={"username": username, "password": password,
                                               "serveraddress": server})
        return dict(out or {})


__all__ = ["RegistryAPI"]
