"""The contents of a container's /etc/resolv.conf and /etc/hosts (Docker's rules).

The engine writes them into the container's directory and bind-mounts them, so they
never land in the container's layer (as Docker)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence


def _is_loopback(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr.split("%")[0]).is_loopback
    except ValueError:
        return False


def host_resolv(path: str = "/etc/resolv.conf") -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def resolv_conf(host_text: str, *, network_dns: Sequence[str], dns: Sequence[str],
                search: Sequence[str], options: Sequence[str], keep_loopback: bool = False
                ) -> str:
    """Docker's resolv.conf: ``--dns`` first, else the network's DNS server (user
    networks), else the host's nameservers without loopback ones (they mean nothing in
    another namespace; with none left, Google's as Docker does).  ``keep_loopback``:
    the host's own namespace (``--network host``)."""
    host_ns: list[str] = []
    host_search: list[str] = []
    host_opts: list[str] = []
    for line in host_text.splitlines():
        words = line.split()
        if not words or words[0].startswith(("#", ";")):
            continue
        if words[0] == "nameserver" and len(words) > 1:
            if keep_loopback or not _is_loopback(words[1]):
                host_ns.append(words[1])
        elif words[0] in ("search", "domain"):
            host_search = words[1:]
        elif words[0] == "options":
            host_opts.extend(words[1:])
    servers = list(dns) or list(network_dns) or host_ns or ["8.8.8.8", "8.8.4.4"]
    out = [f"nameserver {s}" for s in servers]
    srch = list(search) or host_search
    if srch and srch != ["."]:
        out.append("search " + " ".join(srch))
    opts = list(options) or host_opts
    if network_dns and not dns and not options and not any(
            o.startswith("ndots:") for o in opts):
        opts.append("ndots:0")  # Docker's, for the network's DNS server
    if opts:
        out.append("options " + " ".join(opts))
    return "\n".join(out) + "\n"


def hosts_file(hostname: str, domainname: str, ips: Sequence[str],
               aliases: Sequence[str], extra: Sequence[tuple[str, str]]) -> str:
    """Docker's /etc/hosts: localhost lines, ``--add-host`` entries, then the
    container's own address with its hostname (and aliases)."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
             "fe00::0\tip6-localnet", "ff00::0\tip6-mcastprefix", "ff02::1\tip6-allnodes",
             "ff02::2\tip6-allrouters"]
    for name, ip in extra:
        lines.append(f"{ip}\t{name}")
    names = [f"{hostname}.{domainname}", hostname] if domainname else [hostname]
    names += [a for a in aliases if a not in names]
    if ips:
        for ip in ips:
            lines.append(f"{ip}\t{' '.join(names)}")
    else:
        lines.append(f"127.0.1.1\t{' '.join(names)}")
    return "\n".join(lines) + "\n"


def add_hosts_entry(text: str, ip: str, names: Sequence[str]) -> str:
    """The running container's /etc/hosts after ``network connect``: a line for its
    address on the new network (libnetwork's ``updateHostsFile`` on join)."""
    kept = remove_hosts_entry(text, ip)
    return kept + f"{ip}\t{' '.join(dict.fromkeys(names))}\n"


def remove_hosts_entry(text: str, ip: str) -> str:
    """... and after ``network disconnect``: that address's line gone, the rest kept
    (the user may have edited the file)."""
    lines = [ln for ln in text.splitlines() if not ln.split() or ln.split()[0] != ip]
    return "\n".join(lines) + "\n" if lines else ""


def parse_add_host(spec: str) -> tuple[str, str]:
    """``name:ip`` (``host-gateway`` resolved by the caller) -> (name, ip)."""
    from orlop.errors import InvalidParameterError

    name, sep, ip = spec.partition(":")
    if not sep:
        name, sep, ip = spec.partition("=")
    if not sep or not name or not ip:
        raise InvalidParameterError(f"bad format for add-host: {spec!r}")
    if ip != "host-gateway":
        try:
            ipaddress.ip_address(ip.strip("[]"))
        except ValueError:
            raise InvalidParameterError(f"invalid IP address in add-host: {ip!r}") from None
    return name, ip.strip("[]")
