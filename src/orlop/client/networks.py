"""Network endpoints: /networks, /networks/create, /networks/{id}, /networks/prune,
/networks/{id}/connect and /disconnect."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from orlop.client.base import BaseClient, quote


class NetworkAPI(BaseClient):
    def networks(self, filters: Mapping[str, list[str]] | None = None
                 ) -> list[dict[str, Any]]:
        data = self.json("GET", "/networks", params={"filters": dict(filters)} if filters
                         else None)
        return list(data or [])

    def create_network(self, body: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = self.json("POST", "/networks/create", body=dict(body))
        return out

    def inspect_network(self, ref: str) -> dict[str, Any]:
        out: dict[str, Any] = self.json("GET", f"/networks/{quote(ref)}")
        return out

    def remove_network(self, ref: str) -> None:
        self.request("DELETE", f"/networks/{quote(ref)}")

    def prune_networks(self, filters: Mapping[str, list[str]] | None = None) -> list[str]:
        out = self.json("POST", "/networks/prune", params={"filters": dict(filters)}
                        if filters else None)
        return list(out.get("NetworksDeleted") or [])

    def connect_network(self, net: str, container: str, ip: str = "",
                        aliases: Sequence[str] = (), links: Sequence[str] = (), *,
                        ip6: str = "", link_local_ips: Sequence[str] = (),
                        driver_opts: Mapping[str, str] | None = None) -> None:
        endpoint: dict[str, Any] = {}
        ipam = {k: v for k, v in (("IPv4Address", ip), ("IPv6Address", ip6),
                                  ("LinkLocalIPs", list(link_local_ips))) if v}
        if ipam:
            endpoint["IPAMConfig"] = ipam
        if aliases:
            endpoint["Aliases"] = list(aliases)
        if links:
            endpoint["Links"] = list(links)
        if driver_opts:
            endpoint["DriverOpts"] = dict(driver_opts)
        self.request("POST", f"/networks/{quote(net)}/connect",
                     body={"Container": container, "EndpointConfig": endpoint or None})

    def disconnect_network(self, net: str, container: str, force: bool = False) -> None:
        self.request("POST", f"/networks/{quote(net)}/disconnect",
                     body={"Container": container, "Force": force})
