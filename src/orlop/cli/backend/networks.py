"""Network calls of the backends: Docker's network dicts, from the engine in-process or
from orlopd's ``/networks`` routes (which call the same engine functions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any

    from orlop.client import APIClient
    from orlop.engine import Engine


class LocalNetworks:
    engine: Engine

    def network_create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        from orlop.wire.networks import create_network

        return create_network(self.engine, body)

    def network_inspect(self, ref: str) -> dict[str, Any]:
        from orlop.wire.networks import inspect_network

        return inspect_network(self.engine, ref)

    def network_list(self, filters: Mapping[str, list[str]] | None) -> list[dict[str, Any]]:
        from orlop.wire.networks import list_networks

        return list_networks(self.engine, filters)

    def network_remove(self, ref: str) -> None:
        from orlop.engine.net.networks import remove_network

        remove_network(self.engine, ref)

    def network_prune(self, filters: Mapping[str, list[str]] | None) -> list[str]:
        from orlop.engine.net.networks import prune_networks

        return prune_networks(self.engine, filters)

    def network_connect(self, net: str, container: str, ip: str, aliases: Sequence[str],
                        links: Sequence[str] = (), *, ip6: str = "",
                        link_local_ips: Sequence[str] = (),
                        driver_opts: Mapping[str, str] | None = None) -> None:
        from orlop.engine.net.networks import connect

        connect(self.engine, net, container, ip, aliases, links=links, ip6=ip6,
                link_local_ips=link_local_ips, driver_opts=driver_opts)

    def network_disconnect(self, net: str, container: str, force: bool) -> None:
        from orlop.engine.net.networks import disconnect

        disconnect(self.engine, net, container, force)


class RemoteNetworks:
    api: APIClient

    def network_create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.api.create_network(body)

    def network_inspect(self, ref: str) -> dict[str, Any]:
        return self.api.inspect_network(ref)

    def network_list(self, filters: Mapping[str, list[str]] | None) -> list[dict[str, Any]]:
        return self.api.networks(filters)

    def network_remove(self, ref: str) -> None:
        self.api.remove_network(ref)

    def network_prune(self, filters: Mapping[str, list[str]] | None) -> list[str]:
        return self.api.prune_networks(filters)

    def network_connect(self, net: str, container: str, ip: str, aliases: Sequence[str],
                        links: Sequence[str] = (), *, ip6: str = "",
                        link_local_ips: Sequence[str] = (),
                        driver_opts: Mapping[str, str] | None = None) -> None:
        self.api.connect_network(net, container, ip, aliases, links, ip6=ip6,
                                 link_local_ips=link_local_ips, driver_opts=driver_opts)

    def network_disconnect(self, net: str, container: str, force: bool) -> None:
        self.api.disconnect_network(net, container, force)
