"""Container and exec endpoints: /containers/..., /exec/..."""

from __future__ import annotations

from typing import Any

from orlop.client.base import BaseClient, quote


class ContainerAPI(BaseClient):
    def containers(self, all_: bool = False) -> list[dict[str, Any]]:
        return list(self.json("GET", "/containers/json", params={"all": all_}))

    def inspect_container(self, ref: str) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", f"/containers/{quote(ref)}/json")
        return out

    def create_container(self, body: dict[str, Any], name: str = "") -> str:
        out = self.json("POST", "/containers/create", params={"name": name or None},
                        body=dict(body))
        return str(out["Id"])

    def start_container(self, ref: str) -> None:
        self.request("POST", f"/containers/{quote(ref)}/start")

    def wait_container(self, ref: str, condition: str = "not-running") -> int:
        out = self.json("POST", f"/containers/{quote(ref)}/wait",
                        params={"condition": condition})
        return int(out.get("StatusCode", 0))

    def remove_container(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        self.request("DELETE", f"/containers/{quote(ref)}",
                     params={"force": force, "v": volumes})
