"""What a create's network options mean, checked before anything is made: the
NetworkMode as Docker records it, the endpoints to record, the port bindings, the
exposed ports (image's ``EXPOSE``, ``--expose``, and every published port)."""

from __future__ import annotations

import os

from orlop.engine.runoptions import RunOptions
from orlop.errors import InvalidParameterError
from orlop.network.model import EndpointRequest
from orlop.records import Record

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any

    from orlop.engine.store import ContainerStore
    from orlop.network.service import NetworkService


class NetPlan(Record):
    _fields = ("mode", "requests", "port_bindings", "exposed_ports", "default_hostname")
    __slots__ = _fields
    mode: str
    requests: list[EndpointRequest]
    port_bindings: dict[str, list[dict[str, str]]]
    exposed_ports: dict[str, dict[str, Any]]
    default_hostname: str

    def __init__(self, mode: str, requests: list[EndpointRequest] | None = None,
                 port_bindings: dict[str, list[dict[str, str]]] | None = None,
                 exposed_ports: dict[str, dict[str, Any]] | None = None,
                 default_hostname: str = "") -> None:
        self.mode = mode
        self.requests = [] if requests is None else requests
        self.port_bindings = {} if port_bindings is None else port_bindings
        self.exposed_ports = {} if exposed_ports is None else exposed_ports
        self.default_hostname = default_hostname


def _conflict(what: str) -> InvalidParameterError:
    return InvalidParameterError(f"conflicting options: {what} and the network mode")


def check(containers: ContainerStore, networks: NetworkService, opts: RunOptions,
          image_exposed: dict[str, Any] | None = None) -> NetPlan:
    from orlop.network import ports
    from orlop.network.service import resolve_requests

    mode = opts.network or "default"
    bindings: dict[str, list[dict[str, str]]] = {k: [dict(b) for b in v]
                                                 for k, v in opts.port_bindings.items()}
    for key, binds in ports.parse_publish_all(opts.publish).items():
        bindings.setdefault(key, []).extend(binds)
    exposed = {**(image_exposed or {}), **opts.exposed_ports,
               **ports.parse_expose(opts.expose)}
    publishes = bool(bindings or opts.publish_all)
    plan = NetPlan(mode=mode)
    if mode.startswith("container:"):
        if opts.hostname:
            raise _conflict("hostname")
        if opts.dns or opts.dns_search or opts.dns_options:
            raise _conflict("dns")
        if opts.add_host:
            raise InvalidParameterError(
                "conflicting options: custom host-to-IP mapping and the network mode")
        if opts.mac_address:
            raise _conflict("mac-address")
        if publishes or opts.expose:
            raise InvalidParameterError(
                "conflicting options: port publishing and the container type network mode")
        containers.resolve(mode.partition(":")[2])  # No such container: ...
        return plan
    if mode == "host":
        if opts.mac_address:
            raise _conflict("mac-address")
        if opts.ip or opts.ip6 or opts.network_aliases:
            raise InvalidParameterError(
                "user specified IP address and aliases are supported on user defined "
                "networks only")
        # Docker discards published ports with the host's network (the ports are the
        # host's own); it keeps them exposed.
        plan.exposed_ports = {**exposed, **{k: {} for k in bindings}}
        plan.default_hostname = os.uname().nodename  # gethostname(2) is uname's nodename
        return plan
    if mode == "none":
        if publishes:
            raise InvalidParameterError(
                "port publishing needs a network: this container has --network none")
        if opts.ip or opts.ip6 or opts.network_aliases or opts.mac_address \
                or opts.link_local_ips:
            raise InvalidParameterError(
                "--ip, --ip6, --link-local-ip, --network-alias and --mac-address need a "
                "network: this container has --network none")
        plan.exposed_ports = exposed
        return plan
    target = "bridge" if mode == "default" else mode
    main = EndpointRequest(network=target, ip=opts.ip,
                           aliases=tuple(opts.network_aliases), mac=opts.mac_address,
                           ip6=opts.ip6, link_local_ips=tuple(opts.link_local_ips),
                           driver_opts=dict(opts.endpoint_driver_opts))
    more = opts.extra_endpoints
    extra = [EndpointRequest(network=name, ip=ip, aliases=tuple(aliases),
                             ip6=more[name].ip6 if name in more else "",
                             link_local_ips=more[name].link_local_ips if name in more else (),
                             driver_opts=dict(more[name].driver_opts) if name in more else {})
             for name, (ip, aliases) in opts.extra_networks.items() if name != target]
    # Every named network must exist before anything is made (Docker's error).
    for req in [main, *extra]:
        networks.get(req.network)
    plan.requests = resolve_requests(mode, [main, *extra])
    plan.port_bindings = bindings
    plan.exposed_ports = {**exposed, **{k: {} for k in bindings}}
    return plan
