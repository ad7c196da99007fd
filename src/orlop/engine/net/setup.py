"""A container's network at start and stop: the glue between the container record,
the network service (addresses), netavark (interfaces, firewall, DNS) and the bundle.

At start (``attach``): a new network namespace held by a descriptor of this process
(kernel/netns.py: never a mount, so nothing reaches the host's mount table), netavark
``setup`` for the container's endpoints and published ports given
``/proc/PID/fd/FD``, and the resolv.conf/hosts/hostname contents; the bundle names that
path and the runtime joins it (setns).  The holder is the foreground CLI or the
detached monitor (the descriptor is inherited across its execs, so its finish phase
still holds it).  At exit (``detach``): netavark ``teardown`` with the very JSON setup
used (kept as ``RUNROOT/netns/<id>.json``), then the descriptor is closed (a foreground
run's teardown may first keep the interface on its bridge a little: ``_linger``).  When the
holder died (kill -9 of the CLI, monitor or orlopd), its namespace went with it;
reconcile then tears down through a fresh namespace holding stand-in interfaces, which
removes the rules, the DNS entries and an unused bridge.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from orlop.config import EngineConfig, env_number
from orlop.engine.models import Container
from orlop.errors import ContainerStateError, InvalidParameterError, OrlopError
from orlop.network.model import Endpoint, PortMapping
from orlop.records import FrozenRecord

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any

    from orlop.engine.store import ContainerStore
    from orlop.network.model import Network
    from orlop.network.service import NetworkService


class Attachment(FrozenRecord):
    _fields = ("netns", "hostname", "hosts", "resolv")
    __slots__ = _fields
    netns: str  # "" = a new, empty namespace (none) or none at all (host)
    hostname: str
    hosts: str
    resolv: str

    def __init__(self, netns: str, hostname: str, hosts: str, resolv: str) -> None:
        self._set(netns=netns, hostname=hostname, hosts=hosts, resolv=resolv)


def netns_dir(config: EngineConfig) -> Path:
    return config.run_root / "netns"


# container id -> the descriptor of its namespace, held by this process
HELD: dict[str, int] = {}
HOLDER = "orlop_netns"  # key of the state file: the holder's /proc/PID/fd/FD path


def _write_state(config: EngineConfig, cid: str, doc: dict[str, object]) -> None:
    state = _state_path(config, cid)
    tmp = state.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    os.replace(tmp, state)


def read_state(config: EngineConfig, cid: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(_state_path(config, cid).read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def write_state(config: EngineConfig, cid: str, doc: dict[str, Any]) -> None:
    _write_state(config, cid, doc)


def has_network(config: EngineConfig, cid: str) -> bool:
    return _state_path(config, cid).exists()


def aardvark_dir(config: EngineConfig) -> Path:
    return config.run_root / "netavark"


def _state_path(config: EngineConfig, cid: str) -> Path:
    return netns_dir(config) / f"{cid}.json"


def published(config: EngineConfig, cid: str) -> list[PortMapping]:
    """The ports a running container publishes (what its setup was given)."""
    from orlop.network.ports import from_mapping_json

    try:
        doc = json.loads(_state_path(config, cid).read_text())
    except (OSError, ValueError):
        return []
    return from_mapping_json(doc.get("port_mappings") or [])


def _taken_ports(config: EngineConfig) -> set[tuple[int, str]]:
    taken: set[tuple[int, str]] = set()
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(netns_dir(config)):
            if name.endswith(".json"):
                for m in published(config, name[:-5]):
                    taken.update((m.host_port + i, m.protocol) for i in range(m.range))
    return taken


def attach(cfg: EngineConfig, networks: NetworkService, containers: ContainerStore,
           c: Container, link_hosts: Sequence[tuple[str, str]] = ()) -> Attachment:
    """Make the container's network ready before its runtime starts; ``link_hosts``:
    the /etc/hosts lines of its links (engine/net/links.py), after ``--add-host``'s."""
    from orlop.network import files, ports

    hc = c.host_config
    mode = hc.network_mode or "default"
    hostname = c.config.hostname or c.id[:12]
    dns_opts: dict[str, list[str]] = {"dns": hc.dns or [], "search": hc.dns_search or [],
                                      "options": hc.dns_options or []}
    if mode == "host":
        return Attachment("", hostname,
                          files.hosts_file(hostname, c.config.domainname, [], [],
                                           _extra_hosts(hc.extra_hosts, "")),
                          files.resolv_conf(files.host_resolv(), network_dns=[],
                                            dns=dns_opts["dns"], search=dns_opts["search"],
                                            options=dns_opts["options"], keep_loopback=True))
    if mode.startswith("container:"):
        return _join(cfg, containers, mode.partition(":")[2], hostname)
    endpoints = networks.endpoints(c.id)
    if not endpoints:  # none
        return Attachment("", hostname,
                          files.hosts_file(hostname, c.config.domainname, [], [],
                                           _extra_hosts(hc.extra_hosts, "")),
                          files.resolv_conf(files.host_resolv(), network_dns=[],
                                            dns=dns_opts["dns"], search=dns_opts["search"],
                                            options=dns_opts["options"]))
    wanted = ports.requested(hc.port_bindings, (c.config.exposed_ports or {}).keys(),
                             hc.publish_all)
    netns_dir(cfg).mkdir(parents=True, exist_ok=True, mode=0o700)
    detach(cfg, c.id)  # what a previous run of this container may have left
    poolable = not wanted and _poolable(endpoints)
    warm, keeper = _take_warm(cfg, networks, c, endpoints) if poolable else (None, True)
    if warm is not None:
        endpoints = warm
    else:
        mappings = ports.allocate(wanted, _taken_ports(cfg))
        from orlop.engine.net.links import with_dns_aliases

        _setup(cfg, networks, c, with_dns_aliases(containers, c, endpoints), mappings)
        if not keeper:  # after this start's own setup, which it would otherwise delay
            from orlop.engine.net.poolwire import spawn_keeper

            spawn_keeper(cfg)
    first: Network = endpoints[0][0]
    aliases = [a for _n, ep in endpoints for a in ep.aliases]
    hosts = files.hosts_file(hostname, c.config.domainname, [endpoints[0][1].ip], aliases,
                             [*_extra_hosts(hc.extra_hosts, first.gateway), *link_hosts])
    path = f"/proc/{os.getpid()}/fd/{HELD[c.id]}"
    return Attachment(path, hostname, hosts, resolv_for(c, [n for n, _ep in endpoints]))


def _setup(cfg: EngineConfig, networks: NetworkService, c: Container,
           endpoints: list[tuple[Network, Endpoint]], mappings: list[PortMapping]) -> None:
    """A new namespace for the container, set up by netavark (the cold path)."""
    from orlop.kernel.netns import new_netns_fd
    from orlop.network import netavark

    doc = netavark.options_json(c.id, c.name, endpoints, mappings, c.host_config.dns or [])
    fd = new_netns_fd()
    HELD[c.id] = fd
    path = f"/proc/{os.getpid()}/fd/{fd}"
    _write_state(cfg, c.id, {**doc, HOLDER: path})  # first: a crash mid-setup is undone
    try:
        status = netavark.setup(path, doc, aardvark_dir(cfg))
        for _n, ep in endpoints:
            add_link_local(path, ep)
    except BaseException:
        detach(cfg, c.id)
        raise
    macs = netavark.macs_of(status)
    for n, ep in endpoints:
        mac = macs.get(netavark.key(n))
        if mac and mac != ep.mac:
            networks.set_mac(c.id, n.id, mac)


def add_link_local(netns: str, ep: Endpoint) -> None:
    """The endpoint's IPAMConfig.LinkLocalIPs on its interface, after netavark's setup
    (libnetwork adds them as extra addresses; netavark has no field for them)."""
    from orlop.errors import SystemFailureError
    from orlop.kernel.netns import add_addresses
    from orlop.network.ipam import link_local_cidrs

    if not ep.link_local_ips:
        return
    try:
        add_addresses(netns, ep.interface, link_local_cidrs(ep.link_local_ips))
    except (OSError, ValueError) as err:
        raise SystemFailureError(f"link-local address of {ep.interface}: {err}") from err


def _poolable(endpoints: Sequence[tuple[Network, Endpoint]]) -> bool:
    """Whether a warm namespace is exactly what this container's own setup would make:
    one endpoint, on the default bridge (IPv4 only), with a pool address and Docker's MAC
    for it (no --mac-address), no link-local addresses, no published ports (checked by
    the caller)."""
    from orlop.network.ipam import mac_from_ip, parse_ip

    if len(endpoints) != 1:
        return False
    n, ep = endpoints[0]
    return (n.predefined and not ep.static_ip and ep.position == 0 and not n.ipv6
            and not ep.link_local_ips and ep.mac == mac_from_ip(parse_ip(ep.ip)))


def _take_warm(cfg: EngineConfig, networks: NetworkService, c: Container,
               endpoints: list[tuple[Network, Endpoint]]
               ) -> tuple[list[tuple[Network, Endpoint]] | None, bool]:
    """A namespace from the root's keeper (engine/net/pool.py), its address moved to the
    container's endpoint, and whether a keeper runs (or the pool is off); no namespace
    when the pool is off, has none ready, or the slot is no longer reserved."""
    from orlop.engine.net import poolwire

    if not poolwire.usable(cfg):
        return None, True
    n = endpoints[0][0]
    taken, alive = poolwire.take(cfg, n.id)
    if taken is None:
        return None, alive
    try:
        ep = networks.adopt_slot(c.id, n.id, taken.slot)
    except BaseException:
        os.close(taken.fd)
        raise
    if ep is None:
        os.close(taken.fd)
        return None, True
    from orlop.network import netavark

    HELD[c.id] = taken.fd
    path = f"/proc/{os.getpid()}/fd/{taken.fd}"
    doc = netavark.options_json(c.id, c.name, [(n, ep)], [], c.host_config.dns or [])
    _write_state(cfg, c.id, {**doc, HOLDER: path})
    return [(n, ep)], True


def resolv_for(c: Container, nets: Sequence[Network]) -> str:
    """The container's resolv.conf on these networks: the first one's DNS server
    (aardvark-dns on its gateway) when one has DNS, else the host's servers."""
    from orlop.network import files

    hc = c.host_config
    return files.resolv_conf(files.host_resolv(),
                             network_dns=[n.gateway for n in nets if n.dns][:1],
                             dns=hc.dns or [], search=hc.dns_search or [],
                             options=hc.dns_options or [])


def host_names(c: Container) -> list[str]:
    """The names /etc/hosts gives the container's own addresses."""
    hostname = c.config.hostname or c.id[:12]
    dom = c.config.domainname
    return [f"{hostname}.{dom}", hostname] if dom else [hostname]


def _extra_hosts(specs: list[str] | None, gateway: str) -> list[tuple[str, str]]:
    from orlop.network.files import parse_add_host

    out = []
    for spec in specs or []:
        name, ip = parse_add_host(spec)
        if ip == "host-gateway":
            if not gateway:
                raise InvalidParameterError(
                    "host-gateway needs a bridge network: this container has none")
            ip = gateway
        out.append((name, ip))
    return out


def _join(cfg: EngineConfig, containers: ContainerStore, ref: str, hostname: str
          ) -> Attachment:
    """``--network container:NAME``: the other container's namespace and files."""
    other = containers.resolve(ref)
    if other.status != "running" or not other.pid:
        raise ContainerStateError(
            f"cannot join network of a non running container: {other.id}")
    ns = f"/proc/{other.pid}/ns/net"
    odir = cfg.containers_dir / other.id

    def read(name: str) -> str:
        try:
            return (odir / name).read_text()
        except OSError:
            return ""

    return Attachment(ns, read("hostname").strip() or hostname, read("hosts"),
                      read("resolv.conf"))


def detach(config: EngineConfig, cid: str, handoff: bool = False) -> None:
    """Undo ``attach``; safe to call twice, from several processes, or for a container
    that never had a network.  The state file is claimed by renaming it, so only one
    process runs the teardown.  ``handoff``: the root's namespace keeper may do it
    (engine/net/pool.py), so that what follows an exit (an auto-remove, the reply to a
    ``wait``) does not wait for netavark; not where the caller needs the namespace gone
    before it goes on (a start clearing what a previous run left)."""
    claimed = _claim(config, cid)
    if claimed is None:
        _release(cid)
        return
    if handoff and _hand_to_keeper(config, cid, claimed):
        return
    teardown_claimed(config, cid, claimed)


def _hand_to_keeper(config: EngineConfig, cid: str, claimed: Path) -> bool:
    """Give the claimed teardown and the namespace to the root's keeper, if one runs and
    this process holds the namespace (HELD, or a descriptor inherited across exec as the
    monitor's finish phase has it); True when the keeper took both."""
    if not os.path.isdir(config.run_root / "netpool"):
        return False
    fd = HELD.get(cid, -1)
    inherited = fd < 0
    if inherited:
        doc = read_doc(claimed)
        fd = _own_fd(str((doc or {}).get(HOLDER, "")))
    if fd < 0:
        return False
    from orlop.engine.net.poolwire import hand_teardown

    if not hand_teardown(config, cid, claimed.name, fd):
        return False
    _release(cid)
    if inherited:
        os.close(fd)
    return True


def detach_later(config: EngineConfig, cid: str) -> None:
    """``detach`` in a detached child, so that the foreground CLI reports the exit
    without waiting for netavark (25-150 ms); handed to the root's namespace keeper
    instead when one runs (engine/net/pool.py: no fork of this process at all).  The
    child inherits the namespace's descriptor and claims the teardown under its own pid
    before the caller returns, so no reconcile takes it for abandoned; the next setup
    waits for it (netavark's lock).
    Only from a single-threaded process (the CLI): orlopd detaches in place."""
    claimed = _claim(config, cid)
    if claimed is None:
        _release(cid)
        return
    import threading  # here: a container without a network namespace never needs it

    if _hand_to_keeper(config, cid, claimed):
        return  # the root's keeper took the namespace and the claim: no fork on the way out
    if threading.active_count() > 1:
        teardown_claimed(config, cid, claimed)
        return
    r, w = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked child
        code = 0
        try:
            os.close(r)
            os.setsid()
            if os.fork() == 0:
                mine = claimed.with_name(f"{cid}.{os.getpid()}.teardown")
                os.rename(claimed, mine)
                doc = read_doc(mine)  # before the caller goes on (and may delete the root)
                # Nothing of the CLI's but the namespace: not its container lock (the
                # `rm` of --rm takes it next), not its terminal, not the pipe.
                keep = {HELD.get(cid, -1)}
                for name in os.listdir("/proc/self/fd"):
                    if int(name) not in keep:
                        with contextlib.suppress(OSError):
                            os.close(int(name))
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    if fd != null:
                        os.dup2(null, fd)
                _linger(cid, mine, doc)
                teardown_claimed(config, cid, mine, doc)
            os._exit(0)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    try:
        os.read(r, 1)  # EOF once the grandchild has renamed the claim (or died)
        os.waitpid(child, 0)
    finally:
        os.close(r)
    _release(cid)


# How long a foreground run's teardown keeps the bridge for the next container
# ($ORLOP_NET_LINGER seconds; 0 tears down at once, as the test suite does outside the
# tests of the linger itself: docs/networking.md).
LINGER_SECONDS = 2.0


def linger_seconds() -> float:
    return env_number("ORLOP_NET_LINGER", LINGER_SECONDS, 0.0, 60.0)


def read_doc(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _linger(cid: str, claimed: Path, doc: dict[str, Any] | None) -> None:
    """Keep the exited container's interface on its bridge a little (down, without
    its address) when it may be the last one: netavark's teardown of a bridge's last
    interface deletes the bridge and its chains (about 150 ms here), and the next
    container's setup makes them again (about 40 ms more than joining).  Sequential
    ``run --rm`` on the default bridge pays neither while they come within
    LINGER_SECONDS; the teardown follows as soon as another container joins the
    bridge.  Not with published ports or DNS (their rules and names are the
    container's, and its address may be handed out again meanwhile).  The linger ends
    if the claim goes (the root deleted: a script's temporary root); the teardown uses
    the JSON read before, so it still happens."""
    import time

    from orlop.kernel.netns import quiesce

    fd = HELD.get(cid, -1)
    seconds = linger_seconds()
    if doc is None or seconds <= 0:
        return
    infos = list((doc.get("network_info") or {}).values())
    if fd < 0 or not infos or doc.get("port_mappings") or any(
            i.get("dns_enabled") for i in infos):
        return
    bridges = [f"/sys/class/net/{i.get('network_interface')}/brif" for i in infos]
    try:
        quiesce(fd, [str(p.get("interface_name")) for p in doc["networks"].values()])
    except Exception:
        return
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and claimed.exists():
        try:
            if all(len(os.listdir(b)) > 1 for b in bridges):
                break  # another container is on each bridge: the teardown is cheap
        except OSError:
            break
        time.sleep(0.05)


def _claim(config: EngineConfig, cid: str) -> Path | None:
    state = _state_path(config, cid)
    claimed = state.with_name(f"{cid}.{os.getpid()}.teardown")
    try:
        os.rename(state, claimed)
    except FileNotFoundError:
        return None
    return claimed


def teardown_claimed(config: EngineConfig, cid: str, claimed: Path,
                      doc: dict[str, Any] | None = None) -> None:
    """netavark teardown with the claimed JSON (``doc``: as read before, if the file
    may be gone); with the root deleted, netavark's config goes to a temporary
    directory rather than re-creating the root's."""
    import shutil
    import tempfile

    from orlop.network import netavark

    fd = -1
    scratch = ""
    try:
        if doc is None:
            doc = json.loads(claimed.read_text())
        holder = str(doc.pop(HOLDER, ""))
        own = HELD.get(cid, -1)
        if own < 0:
            own = _own_fd(holder)
        if doc.get("networks"):
            if own >= 0:
                path = f"/proc/{os.getpid()}/fd/{own}"
            else:  # the holder died, and the namespace with it: stand-in interfaces
                from orlop.kernel.netns import new_netns_fd

                names = [str(per.get("interface_name") or "eth0")
                         for per in doc["networks"].values()]
                fd = new_netns_fd(names)
                path = f"/proc/{os.getpid()}/fd/{fd}"
            conf = aardvark_dir(config)
            if not config.run_root.is_dir():
                conf = Path(scratch := tempfile.mkdtemp(prefix="orlop-netavark-"))
            with contextlib.suppress(OrlopError):
                netavark.teardown(path, doc, conf)
        if own >= 0 and HELD.get(cid) != own:  # inherited across exec: ours to close
            fd = own
    except (OSError, ValueError):
        pass
    finally:
        if fd >= 0:
            os.close(fd)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        _release(cid)
        with contextlib.suppress(FileNotFoundError):
            claimed.unlink()


def _own_fd(holder: str) -> int:
    """The descriptor number if ``holder`` (``/proc/PID/fd/FD``) is this process's
    (the monitor's finish phase is the same process as its start, after execs)."""
    prefix = f"/proc/{os.getpid()}/fd/"
    if holder.startswith(prefix) and holder[len(prefix):].isdigit():
        fd = int(holder[len(prefix):])
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("net:"):
                return fd
        except OSError:
            pass
    return -1


def _release(cid: str) -> None:
    fd = HELD.pop(cid, -1)
    if fd >= 0:
        with contextlib.suppress(OSError):
            os.close(fd)
