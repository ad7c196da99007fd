"""Docker's container links: recorded at create (or ``network connect``), applied at
start, shown by inspect, removed by ``rm --link``.

Two kinds, as in dockerd:

* legacy links (``--link target:alias`` / ``HostConfig.Links`` on the default bridge):
  the target must exist at create and run at start; the linking container gets an
  ``/etc/hosts`` line ``IP alias target-hostname target-name`` and the link's variables
  (``ALIAS_NAME``, ``ALIAS_PORT_...``, ``ALIAS_ENV_...``: linkenv.py).  Stored by the
  target's id (state/schema.py, version 5), so a rename of either container keeps the
  link and a removal of either one drops it, as dockerd's link index does; inspect shows
  dockerd's ``/target:/this/alias``.
* an endpoint's ``Links`` on a user network (``network connect --link``, ``run
  --network N --link``, compose's ``links:``): kept as given (``target:alias``), shown in
  ``NetworkSettings.Networks[N].Links``.  dockerd answers the alias from its embedded DNS,
  for the linking container only.  Orlop has no per-container DNS: the alias is an
  ``/etc/hosts`` line of the linking container when the target runs on that network at
  the linking container's start (or connect), and a DNS name of the target on that
  network (aardvark-dns, so every container there resolves it) when the target starts
  after it (docs/networking.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from orlop.engine import store
from orlop.engine.net.linkenv import link_env, parse_link
from orlop.errors import (
    ContainerNotFoundError,
    InvalidParameterError,
    SystemFailureError,
)
from orlop.records import FrozenRecord, Record

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from orlop.engine.models import Container
    from orlop.engine.runoptions import RunOptions
    from orlop.engine.services import Services
    from orlop.engine.store import ContainerStore
    from orlop.network.model import Endpoint, Network
    from orlop.state.sqlite import sqlite3

_HOST_CONFLICT = ("conflicting options: host type networking can't be used with links. "
                  "This would result in undefined behavior")
_CONTAINER_CONFLICT = ("conflicting options: container type network can't be used with "
                       "links. This would result in undefined behavior")


class LinkPlan(Record):
    """What a create records: legacy links (alias, target id) and endpoint links by the
    network name they were given for ((target name, alias) pairs)."""

    _fields = ("legacy", "endpoint")
    __slots__ = _fields
    legacy: list[tuple[str, str]]
    endpoint: dict[str, list[tuple[str, str]]]

    def __init__(self, legacy: list[tuple[str, str]] | None = None,
                 endpoint: dict[str, list[tuple[str, str]]] | None = None) -> None:
        self.legacy = [] if legacy is None else legacy
        self.endpoint = {} if endpoint is None else endpoint

    def for_network(self, n: Network) -> list[tuple[str, str]]:
        return [pair for key in dict.fromkeys((n.name, n.id))
                for pair in self.endpoint.get(key, [])]


def _target(containers: ContainerStore, name: str) -> Container:
    """The container a legacy link names (through ``container:`` network modes, as
    moby's ``registerLinks``), checked as dockerd does at create."""
    ref = name
    try:
        t = containers.resolve(ref)
        for _ in range(16):
            mode = t.host_config.network_mode or ""
            if not mode.startswith("container:"):
                break
            ref = mode.partition(":")[2]
            t = containers.resolve(ref)
    except ContainerNotFoundError as e:
        raise InvalidParameterError(f"could not get container for {ref}: {e}") from None
    if t.host_config.network_mode == "host":
        raise InvalidParameterError(_HOST_CONFLICT)
    return t


def plan(containers: ContainerStore, opts: RunOptions) -> LinkPlan:
    """Check a create's links (``opts.links``: HostConfig.Links; ``opts.endpoint_links``:
    each endpoint's Links) before anything is made."""
    mode = opts.network or "default"
    links = [parse_link(t) for t in opts.links]
    endpoint = {net: [parse_link(t) for t in texts]
                for net, texts in opts.endpoint_links.items() if texts}
    out = LinkPlan()
    if links and mode == "host":
        raise InvalidParameterError(_HOST_CONFLICT)
    if links and mode.startswith("container:"):
        raise InvalidParameterError(_CONTAINER_CONFLICT)
    if links and mode == "none":
        raise InvalidParameterError(
            "links need a network: this container has --network none")
    if mode in ("default", "bridge"):
        # The docker CLI sends --link in both HostConfig.Links and the endpoint's Links;
        # on the default bridge only the former mean anything.
        for net in ("default", "bridge"):
            stray = [f"{n}:{a}" for n, a in endpoint.pop(net, []) if (n, a) not in links]
            if stray:
                raise InvalidParameterError(
                    f"links on the default bridge network are HostConfig.Links "
                    f"(--link), not an endpoint's Links: {', '.join(stray)}")
        for name, alias in dict.fromkeys(links):
            out.legacy.append((alias, _target(containers, name).id))
    elif links:
        # dockerd keeps no legacy link on a user network; the docker CLI sends --link
        # there as the endpoint's Links as well, and those are applied.
        endpoint[mode] = list(dict.fromkeys([*endpoint.get(mode, []), *links]))
    out.endpoint = endpoint
    return out


def record(conn: sqlite3.Connection, container_id: str, link_plan: LinkPlan,
           endpoints: Sequence[tuple[Network, Endpoint]]) -> None:
    """The planned links, in the create's transaction (after its endpoints)."""
    if link_plan.legacy:
        store.insert_legacy_links(conn, container_id, link_plan.legacy)
    for n, _ep in endpoints:
        pairs = link_plan.for_network(n)
        if pairs:
            if n.predefined:
                raise InvalidParameterError(
                    "links on the default bridge network are HostConfig.Links (--link), "
                    "not an endpoint's Links")
            store.insert_endpoint_links(conn, container_id, n.id, pairs)


def parse_endpoint_links(texts: Sequence[str]) -> list[tuple[str, str]]:
    return list(dict.fromkeys(parse_link(t) for t in texts))


# --- start ------------------------------------------------------------------------


class Applied(FrozenRecord):
    """What a start gives the container for its links: /etc/hosts lines (names, ip)
    and the legacy links' variables; ``parents``: the containers with a legacy link to
    it ((id, alias): :func:`refresh_parents`)."""

    _fields = ("hosts", "env", "parents")
    __slots__ = _fields
    hosts: list[tuple[str, str]]
    env: list[str]
    parents: list[tuple[str, str]]

    def __init__(self, hosts: list[tuple[str, str]] | None = None,
                 env: list[str] | None = None,
                 parents: list[tuple[str, str]] | None = None) -> None:
        self._set(hosts=[] if hosts is None else hosts, env=[] if env is None else env,
                  parents=[] if parents is None else parents)


def at_start(svc: Services, c: Container) -> Applied:
    """The /etc/hosts lines and variables of ``c``'s links; Docker's refusals when a
    legacy link's target does not run or is not on the default bridge."""
    with svc.containers.read() as conn:  # one read for a container with no links
        legacy = store.legacy_links(conn, c.id)
        by_net = store.endpoint_links(conn, c.id)
        parents = store.legacy_parents(conn, c.id)
    if not legacy and not by_net:
        return Applied(parents=parents)
    mine = {n.id: n for n, _ep in svc.networks.endpoints(c.id)}
    hosts: list[tuple[str, str]] = []
    env: list[str] = []
    if legacy and any(n.predefined for n in mine.values()):
        image_env = _image_env(svc)
        for alias, target_id in legacy:
            t = svc.containers.get(target_id)
            if t is None:
                continue
            if t.status != "running":
                raise SystemFailureError(
                    f"Cannot link to a non running container: /{t.name} AS /{c.name}/{alias}")
            ip = next((ep.ip for n, ep in svc.networks.endpoints(t.id) if n.predefined), "")
            if not ip:
                raise SystemFailureError(
                    f"Cannot link to /{t.name}, as it does not belong to the default network")
            hosts.append((_legacy_names(alias, t), ip))
            env += link_env(f"/{c.name}/{alias}", ip, image_env(t),
                            (t.config.exposed_ports or {}).keys())
    for net_id, pairs in by_net.items():
        if net_id in mine:
            hosts += _endpoint_hosts(svc, net_id, pairs)
    return Applied(hosts, env, parents)


def refresh_parents(svc: Services, c: Container, parents: Sequence[tuple[str, str]]
                    ) -> None:
    """After ``c``'s network is set up: the running containers with a legacy link to it
    (``parents``: (id, alias)) get its (maybe new) address in their /etc/hosts line for
    the link (moby's ``addLegacyLinks``, its parents' ``UpdateHostsEntry``)."""
    if not parents:
        return
    ip = next((ep.ip for n, ep in svc.networks.endpoints(c.id) if n.predefined), "")
    if not ip:
        return
    for parent_id, alias in parents:
        p = svc.containers.get(parent_id)
        if p is not None and p.status in ("running", "paused"):
            _edit_hosts(svc, p, _readdress(alias, ip))


def _readdress(alias: str, ip: str) -> Callable[[list[str]], list[str]]:
    def edit(words: list[str]) -> list[str]:
        return [ip, *words[1:]] if words[1:2] == [alias] else words

    return edit


def _legacy_names(alias: str, t: Container) -> str:
    """moby's ``addLegacyLinks``: the alias, the target's hostname, and its name when
    the alias is not already that."""
    names = [alias, t.config.hostname or t.short_id]
    if alias != t.name:
        names.append(t.name)
    return " ".join(names)


def _image_env(svc: Services) -> Callable[[Container], list[str]]:
    """The target's ``Config.Env`` as dockerd records it: the image's with the
    container's on top (Orlop keeps the container's own only)."""
    from orlop.images.configenv import config_env

    def env(t: Container) -> list[str]:
        try:
            img = svc.images.get(t.image_id).container_config.get("Env") or []
        except Exception:
            img = []
        return list(config_env(img, t.config.env))

    return env


def _endpoint_hosts(svc: Services, net_id: str, pairs: Sequence[tuple[str, str]]
                    ) -> list[tuple[str, str]]:
    """(alias, ip) for each endpoint link whose target runs on that network now."""
    out = []
    for target, alias in pairs:
        try:
            t = svc.containers.resolve(target)
        except (ContainerNotFoundError, InvalidParameterError):
            continue
        if t.status not in ("running", "paused"):
            continue
        ip = next((ep.ip for n, ep in svc.networks.endpoints(t.id) if n.id == net_id), "")
        if ip:
            out.append((alias, ip))
    return out


def dns_aliases(conn: sqlite3.Connection, c: Container, n: Network) -> list[str]:
    """The aliases other containers' endpoint links on ``n`` give ``c`` (by its name,
    short or full id): names of ``c`` in the network's DNS while it runs there."""
    if n.predefined:
        return []
    names = {c.name, c.id, c.short_id}
    return list(dict.fromkeys(alias for _cid, target, alias in store.endpoint_links_on(
        conn, n.id) if target.removeprefix("/") in names))


def with_dns_aliases(containers: ContainerStore, c: Container,
                     endpoints: list[tuple[Network, Endpoint]]
                     ) -> list[tuple[Network, Endpoint]]:
    """``endpoints`` with the link aliases of :func:`dns_aliases` added (for netavark's
    setup; the stored endpoints keep their own aliases)."""
    if all(n.predefined for n, _ep in endpoints):
        return endpoints
    out = []
    with containers.read() as conn:
        for n, ep in endpoints:
            extra = [a for a in dns_aliases(conn, c, n) if a not in ep.aliases]
            out.append((n, ep.replace(aliases=[*ep.aliases, *extra])
                        if extra else ep))
    return out


# --- inspect and rm --link --------------------------------------------------------


def inspect_legacy(svc: Services, c: Container) -> list[str] | None:
    """``HostConfig.Links`` as dockerd shows it: ``/target:/this/alias``, or null."""
    with svc.containers.read() as conn:
        links = store.legacy_links(conn, c.id)
        out = []
        for alias, target_id in links:
            t = store.get_by_id(conn, target_id)
            if t is not None:
                out.append(f"/{t.name}:/{c.name}/{alias}")
    return out or None


def inspect_endpoint(svc: Services, c: Container) -> dict[str, list[str]]:
    """network id -> the endpoint's ``Links`` as given (``target:alias``)."""
    with svc.containers.read() as conn:
        return {net: [f"{t}:{a}" for t, a in pairs]
                for net, pairs in store.endpoint_links(conn, c.id).items()}


def remove_link(svc: Services, ref: str) -> None:
    """``rm --link /this/alias`` (``DELETE /containers/{name}?link=1``): the link goes,
    both containers stay; the linking container's /etc/hosts line goes if it runs."""
    name = ref if ref.startswith("/") else "/" + ref
    parent, _, alias = name.rpartition("/")
    if not parent:
        svc.get_container(ref)  # No such container: ...
        raise SystemFailureError(
            "Conflict, cannot remove the default link name of the container")
    with svc.containers.write() as conn:
        try:
            p = store.resolve(conn, parent)
        except ContainerNotFoundError:
            raise ContainerNotFoundError(ref) from None
        if store.delete_legacy_link(conn, p.id, alias) is None:
            raise ContainerNotFoundError(ref)
    if p.status in ("running", "paused"):
        _drop_hosts_line(svc, p, alias)


def _drop_hosts_line(svc: Services, c: Container, alias: str) -> None:
    _edit_hosts(svc, c, lambda ws: [] if ws[1:2] == [alias] else ws)


def _edit_hosts(svc: Services, c: Container,
                edit: Callable[[list[str]], list[str]]) -> None:
    """Rewrite a running container's bind-mounted /etc/hosts in place (same inode):
    ``edit`` maps each line's words to new words ([] drops the line); the lines it
    leaves alone are kept as they are (the user may have edited the file)."""
    path = svc.config.containers_dir / c.id / "hosts"
    try:
        with open(path, "r+") as f:
            lines = f.read().splitlines()
            out = []
            for ln in lines:
                words = ln.split()
                new = edit(words) if words else words
                if new != words:
                    if new:
                        out.append(f"{new[0]}\t{' '.join(new[1:])}")
                    continue
                out.append(ln)
            if out != lines:
                f.seek(0)
                f.write("\n".join(out) + "\n")
                f.truncate()
    except OSError:
        pass  # it stopped meanwhile


# --- network connect --------------------------------------------------------------


def connect_links(svc: Services, c: Container, n: Network, texts: Sequence[str]
                  ) -> list[tuple[str, str]]:
    """``network connect --link``: the endpoint's links, recorded (the endpoint exists);
    the /etc/hosts lines to add if the container runs."""
    pairs = parse_endpoint_links(texts)
    if not pairs:
        return []
    with svc.containers.write() as conn:
        store.insert_endpoint_links(conn, c.id, n.id, pairs)
    return _endpoint_hosts(svc, n.id, pairs)
