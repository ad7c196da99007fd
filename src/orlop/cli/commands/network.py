"""`orlop network create | connect | disconnect | inspect | ls | prune | rm`: Docker's
flags, output and exit codes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from orlop.cli.context import (
    Context,
    Parser,
    UsageError,
    add_prune_flags,
    dispatch,
    parse_filter_flags,
    parse_no_args,
    parse_with_args,
)
from orlop.cli.output import write_inspect, write_listing
from orlop.errors import NotFoundError, OrlopError

REMOTE = frozenset({"network"})

_ALIASES = {"list": "ls", "remove": "rm"}
_HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
            "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS",
            "CreatedAt": "CREATED AT"}


def main(name: str, argv: list[str], ctx: Context) -> int:
    if not argv:  # main() answers `orlop network` and `orlop network --help`
        raise UsageError('"orlop network" requires a command.')
    sub = _ALIASES.get(argv[0], argv[0])
    return dispatch("network", argv, sub, _COMMANDS, ctx)


def _kv(values: list[str], flag: str) -> dict[str, str]:
    out = {}
    for raw in values:
        key, _, value = raw.partition("=")
        if not key:
            raise UsageError(f'invalid argument "{raw}" for "--{flag}" flag')
        out[key] = value
    return out


def _driver_opts(values: list[str]) -> dict[str, str]:
    """The docker CLI's convertDriverOpt: KEY=VALUE, both trimmed."""
    out = {}
    for raw in values:
        key, sep, value = raw.partition("=")
        if not sep:
            raise UsageError("invalid key/value pair format in driver options")
        out[key.strip()] = value.strip()
    return out


def _csv(values: list[str]) -> list[str]:
    """A pflag StringSlice: each use of the flag may hold several comma-separated
    values."""
    return [v for raw in values for v in raw.split(",") if v]


def _matches(subnet: str, data: str) -> bool:
    """The docker CLI's subnetMatches: whether ``data`` (an address or a CIDR) lies in
    ``subnet``."""
    import ipaddress

    try:
        net = ipaddress.ip_network(subnet, strict=False)
    except ValueError:
        raise UsageError(f"invalid subnet: invalid CIDR address: {subnet}") from None
    try:
        ip = ipaddress.ip_interface(data).ip if "/" in data else ipaddress.ip_address(data)
    except ValueError:
        if "/" in data:
            raise UsageError(f"invalid CIDR address: {data}") from None
        return False
    return ip.version == net.version and ip in net


def consolidate_ipam(subnets: list[str], ranges: list[str], gateways: list[str],
                     aux: dict[str, str]) -> list[dict[str, Any]]:
    """The docker CLI's consolidateIpam: one IPAM config per --subnet, with the
    --ip-range, --gateway and --aux-address that lie in it (its checks and texts)."""
    if len(subnets) < len(ranges) or len(subnets) < len(gateways):
        raise UsageError("every ip-range or gateway must have a corresponding subnet")
    data: dict[str, dict[str, Any]] = {}
    for s in subnets:
        for k in data:
            if _matches(s, k.split("/")[0]) or _matches(k, s.split("/")[0]):
                raise UsageError("multiple overlapping subnet configuration is not supported")
        data[s] = {"Subnet": s}
    for what, values, key in (("range", ranges, "IPRange"), ("gateway", gateways, "Gateway")):
        for r in values:
            match = False
            for s in subnets:
                if not _matches(s, r):
                    continue
                if data[s].get(key):
                    plural = "ranges" if key == "IPRange" else "gateways"
                    prep = "on" if key == "IPRange" else "for"
                    raise UsageError(f"cannot configure multiple {plural} ({r}, "
                                     f"{data[s][key]}) {prep} the same subnet ({s})")
                data[s][key] = r
                match = True
            if not match:
                raise UsageError(f"no matching subnet for {what} {r}")
    for name, addr in aux.items():
        match = False
        for s in subnets:
            if _matches(s, addr):
                data[s].setdefault("AuxiliaryAddresses", {})[name] = addr
                match = True
        if not match:
            raise UsageError(f"no matching subnet for aux-address {addr}")
    return [data[s] for s in subnets]


def _create(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop network create", add_help=False)
    p.add_argument("-d", "--driver", default="bridge",
                   help="Driver to manage the Network")
    p.add_argument("--subnet", action="append", default=[],
                   help="Subnet in CIDR format that represents a network segment")
    p.add_argument("--gateway", action="append", default=[],
                   help="IPv4 Gateway for the master subnet")
    p.add_argument("--ip-range", action="append", default=[],
                   help="Allocate container ip from a sub-range")
    p.add_argument("--internal", action="store_true",
                   help="Restrict external access to the network")
    p.add_argument("--ipv6", action="store_true", help="Enable IPv6 networking")
    p.add_argument("--attachable", action="store_true",
                   help="Enable manual container attachment")
    p.add_argument("--label", action="append", default=[],
                   help="Set metadata on a network")
    p.add_argument("-o", "--opt", action="append", default=[],
                   help="Set driver specific options")
    p.add_argument("--ipam-driver", default="default", help="IP Address Management Driver")
    p.add_argument("--aux-address", action="append", default=[],
                   help="Auxiliary IPv4 or IPv6 addresses used by Network driver")
    args = parse_with_args(p, argv, "network create", exactly=1, positional="names")
    configs = consolidate_ipam(args.subnet, args.ip_range, args.gateway,
                               _kv(args.aux_address, "aux-address"))
    body = {"Name": args.names[0], "Driver": args.driver, "Internal": args.internal,
            "Attachable": args.attachable, "CheckDuplicate": True,
            "Labels": _kv(args.label, "label"), "Options": _kv(args.opt, "opt"),
            "EnableIPv6": args.ipv6,
            "IPAM": {"Driver": args.ipam_driver, "Config": configs, "Options": {}}}
    out = ctx.backend().network_create(body)
    print(out["Id"], file=ctx.stdout)
    return 0


def _connect(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop network connect", add_help=False)
    p.add_argument("--alias", action="append", default=[],
                   help="Add network-scoped alias for the container")
    p.add_argument("--ip", default="", help="IPv4 address (e.g., 172.30.100.104)")
    p.add_argument("--ip6", default="", help="IPv6 address (e.g., 2001:db8::33)")
    p.add_argument("--link-local-ip", action="append", default=[],
                   help="Add a link-local address for the container")
    p.add_argument("--driver-opt", action="append", default=[],
                   help="driver options for the network")
    p.add_argument("--link", action="append", default=[],
                   help="Add link to another container")
    args = parse_with_args(p, argv, "network connect", exactly=2)
    ctx.backend().network_connect(args.args[0], args.args[1], args.ip, list(args.alias),
                                  list(args.link), ip6=args.ip6,
                                  link_local_ips=_csv(args.link_local_ip),
                                  driver_opts=_driver_opts(_csv(args.driver_opt)))
    return 0


def _disconnect(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop network disconnect", add_help=False)
    p.add_argument("-f", "--force", action="store_true",
                   help="Force the container to disconnect from a network")
    args = parse_with_args(p, argv, "network disconnect", exactly=2)
    ctx.backend().network_disconnect(args.args[0], args.args[1], args.force)
    return 0


def _inspect(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop network inspect", add_help=False)
    p.add_argument("-f", "--format", default="",
                   help="Format output using a custom template")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="Verbose output for diagnostics")
    args = parse_with_args(p, argv, "network inspect", at_least=1, positional="names")
    backend = ctx.backend()
    found: list[dict[str, Any]] = []
    errors: list[str] = []
    for ref in args.names:
        try:
            found.append(backend.network_inspect(ref))
        except NotFoundError:
            errors.append(f"No such network: {ref}")
    return write_inspect(ctx.stdout, ctx.stderr, found, errors, args.format)


def _ls_object(n: Mapping[str, Any], trunc: bool) -> dict[str, str]:
    labels = ",".join(f"{k}={v}" for k, v in sorted((n.get("Labels") or {}).items()))
    return {"ID": n["Id"][:12] if trunc else n["Id"], "Name": n["Name"],
            "Driver": n["Driver"], "Scope": n.get("Scope") or "local",
            "IPv6": str(bool(n.get("EnableIPv6"))).lower(),
            "Internal": str(bool(n.get("Internal"))).lower(), "Labels": labels,
            "CreatedAt": str(n.get("Created") or "")}


def _ls(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop network ls", add_help=False)
    p.add_argument("-q", "--quiet", action="store_true", help="Only display network IDs")
    p.add_argument("-f", "--filter", action="append", default=[],
                   help="Provide filter values (e.g. 'driver=bridge')")
    p.add_argument("--format", default="", help="Format output using a custom template")
    p.add_argument("--no-trunc", action="store_true", help="Do not truncate the output")
    args = parse_no_args(p, argv, "network ls")
    nets = ctx.backend().network_list(parse_filter_flags(args.filter) or None)
    nets.sort(key=lambda n: n["Name"])
    objs = [_ls_object(n, not args.no_trunc) for n in nets]
    write_listing(ctx.stdout, objs, args.format, quiet=args.quiet, key="ID", headers=_HEADERS,
                  body="{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}")
    return 0


def _rm(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop network rm", add_help=False)
    p.add_argument("-f", "--force", action="store_true",
                   help="Do not error if the network does not exist")
    args = parse_with_args(p, argv, "network rm", at_least=1, positional="names")
    backend = ctx.backend()
    failed = False
    for ref in args.names:
        try:
            backend.network_remove(ref)
        except NotFoundError:
            if args.force:
                continue
            print(f"Error: No such network: {ref}", file=ctx.stderr)
            failed = True
            continue
        except OrlopError as err:
            print(f"Error response from daemon: {err}", file=ctx.stderr)
            failed = True
            continue
        print(ref, file=ctx.stdout)
    return 1 if failed else 0


def _prune(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop network prune", add_help=False)
    add_prune_flags(p, "'until=<timestamp>'", metavar=None)
    args = parse_no_args(p, argv, "network prune")
    filters = parse_filter_flags(args.filter)
    if not args.force:
        from orlop.cli.commands.container import confirm

        if not confirm(ctx, "WARNING! This will remove all custom networks not used by at "
                            "least one container."):
            return 0
    removed = ctx.backend().network_prune(filters or None)
    if removed:
        ctx.stdout.write("Deleted Networks:\n" + "".join(f"{n}\n" for n in removed) + "\n")
    return 0


_COMMANDS: dict[str, Callable[[list[str], Context], int]] = {
    "create": _create, "connect": _connect, "disconnect": _disconnect, "inspect": _inspect,
    "ls": _ls, "prune": _prune, "rm": _rm,
}
