"""`orlop stats` and `orlop update`: resource usage and limits of containers.

``stats`` shows the docker CLI's table (CONTAINER ID, NAME, CPU %, MEM USAGE / LIMIT,
MEM %, NET I/O, BLOCK I/O, PIDS) with its formulas: CPU % from two samples (the
container's CPU time over the host's, times the number of CPUs), memory without the
inactive page cache.  Each container's stats come from its own stream (a thread, as
the docker CLI's goroutines); the table is redrawn every half second, or printed once
with ``--no-stream``.  ``update`` changes limits as ``docker update`` does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from orlop.cli.context import Context, Parser, UsageError, for_each, parse_with_args
from orlop.cli.output import FORMAT_TABLE, format_template, tabwrite
from orlop.errors import OrlopError
from orlop.units import bytes_size, human_size

REMOTE = frozenset({"stats", "update"})

DEFAULT_FORMAT = ("table {{.ID}}\\t{{.Name}}\\t{{.CPUPerc}}\\t{{.MemUsage}}\\t{{.MemPerc}}"
                  "\\t{{.NetIO}}\\t{{.BlockIO}}\\t{{.PIDs}}")
_HEADERS = {"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME",
            "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %",
            "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}


@dataclass
class StatsEntry:
    """The docker CLI's StatsEntry, from one stats object."""

    container: str
    id: str = ""
    name: str = ""
    cpu: float = 0.0
    memory: float = 0.0
    memory_limit: float = 0.0
    memory_perc: float = 0.0
    net_rx: float = 0.0
    net_tx: float = 0.0
    block_read: float = 0.0
    block_write: float = 0.0
    pids: int = 0
    invalid: bool = False

    @classmethod
    def from_stats(cls, container: str, s: dict[str, Any]) -> StatsEntry:
        cpu, pre = s.get("cpu_stats") or {}, s.get("precpu_stats") or {}
        total = (cpu.get("cpu_usage") or {}).get("total_usage", 0)
        pre_total = (pre.get("cpu_usage") or {}).get("total_usage", 0)
        cpu_delta = float(total) - float(pre_total)
        sys_delta = float(cpu.get("system_cpu_usage", 0)) - float(pre.get("system_cpu_usage", 0))
        ncpu = float(cpu.get("online_cpus") or
                     len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []))
        percent = cpu_delta / sys_delta * ncpu * 100.0 if sys_delta > 0 and cpu_delta > 0 \
            else 0.0
        mem = s.get("memory_stats") or {}
        usage, raw = float(mem.get("usage", 0)), mem.get("stats") or {}
        if "total_inactive_file" in raw and raw["total_inactive_file"] < usage:
            usage -= raw["total_inactive_file"]  # cgroup v1
        elif raw.get("inactive_file", 0) < usage:
            usage -= raw.get("inactive_file", 0)  # cgroup v2
        limit = float(mem.get("limit", 0))
        rx = sum(float(n.get("rx_bytes", 0)) for n in (s.get("networks") or {}).values())
        tx = sum(float(n.get("tx_bytes", 0)) for n in (s.get("networks") or {}).values())
        read = write = 0.0
        for entry in (s.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
            op = str(entry.get("op", "")).lower()
            if op == "read":
                read += float(entry.get("value", 0))
            elif op == "write":
                write += float(entry.get("value", 0))
        return cls(container=container, id=str(s.get("id", "")),
                   name=str(s.get("name", "")), cpu=percent, memory=usage,
                   memory_limit=limit, memory_perc=usage / limit * 100.0 if limit else 0.0,
                   net_rx=rx, net_tx=tx, block_read=read, block_write=write,
                   pids=int((s.get("pids_stats") or {}).get("current", 0)))

    def fields(self, trunc: bool) -> dict[str, str]:
        bad = self.invalid
        return {
            "BlockIO": "--" if bad else
            f"{human_size(self.block_read)} / {human_size(self.block_write)}",
            "CPUPerc": "--" if bad else f"{self.cpu:.2f}%",
            "Container": self.container,
            "ID": self.id[:12] if trunc else self.id,
            "MemPerc": "--" if bad else f"{self.memory_perc:.2f}%",
            "MemUsage": "-- / --" if bad else
            f"{bytes_size(self.memory)} / {bytes_size(self.memory_limit)}",
            "Name": self.name[1:] if len(self.name) > 1 else "--",
            "NetIO": "--" if bad else f"{human_size(self.net_rx)} / {human_size(self.net_tx)}",
            "PIDs": "--" if bad else str(self.pids),
        }


def render(entries: list[StatsEntry], fmt: str, trunc: bool) -> str:
    """The table (or template lines) of the docker CLI's stats formatter."""
    fmt = fmt or DEFAULT_FORMAT
    if fmt == "json":
        from orlop.wire.gojson import marshal

        # the docker CLI's formatter context: a sorted map, HTML escaped (json.Marshal)
        return "".join(marshal(e.fields(trunc), sort_keys=True, escape_html=True,
                               short_bf=True) + "\n" for e in entries)
    if not fmt.startswith("table"):
        return "".join(format_template(fmt, e.fields(trunc), row=True) + "\n" for e in entries)
    body = fmt[len("table"):].strip() or DEFAULT_FORMAT[len("table "):]
    header = format_template(body, _HEADERS)
    rows = [header.split("\t")]
    rows += [format_template(body, e.fields(trunc), row=True).split("\t") for e in entries]
    return tabwrite(rows)


class _Watcher:
    """One container's stream, read in a thread; the latest entry kept."""

    def __init__(self, ctx: Context, ref: str, stream: bool) -> None:
        self.ref = ref
        self.entry = StatsEntry(container=ref)
        self.error: OrlopError | None = None
        self.done = threading.Event()
        self.first = threading.Event()
        self._it: Iterator[dict[str, Any]] = ctx.backend().container_stats(ref, stream=stream)
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"stats-{ref}")
        self.thread.start()

    def _run(self) -> None:
        try:
            for s in self._it:
                self.entry = StatsEntry.from_stats(self.ref, s)
                self.first.set()
        except OrlopError as err:
            self.error = err
            self.entry.invalid = True
        except Exception:  # a broken connection: shown as "--", as Docker does
            self.entry.invalid = True
        finally:
            self.first.set()
            self.done.set()


def stats_main(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop stats", add_help=False)
    p.add_argument("-a", "--all", action="store_true",
                   help="Show all containers (default shows just running)")
    p.add_argument("--format", default="", help=FORMAT_TABLE)
    p.add_argument("--no-stream", action="store_true",
                   help="Disable streaming stats and only pull the first result")
    p.add_argument("--no-trunc", action="store_true", help="Do not truncate output")
    p.add_argument("containers", nargs="*")
    args = p.parse_args(argv)
    backend = ctx.backend()
    stream = not args.no_stream
    named = list(args.containers)
    watchers: dict[str, _Watcher] = {}

    def refresh() -> None:
        if named:
            wanted = named
        else:  # every running (or -a: every) container, new ones included
            wanted = [c["Id"][:12] for c in backend.containers_for_stats(args.all)]
        for ref in wanted:
            if ref not in watchers:
                watchers[ref] = _Watcher(ctx, ref, stream)
        for ref in [r for r in watchers if r not in wanted]:
            del watchers[ref]

    errors: list[str] = []
    if named:
        for ref in named:  # an unknown container is an error before any output
            try:
                watchers[ref] = _Watcher(ctx, ref, stream)
            except OrlopError as err:
                errors.append(str(err))
        if errors:
            for text in errors:
                print(f"Error: {text}", file=ctx.stderr)
            return 1
    else:
        refresh()
    trunc = not args.no_trunc
    out = ctx.stdout
    if not stream:
        for w in watchers.values():
            w.done.wait()
        out.write(render([w.entry for w in watchers.values()], args.format, trunc))
        out.flush()
        return 0
    out.write("\033[2J")
    while True:
        for w in list(watchers.values()):
            w.first.wait(2.0)
        text = render([w.entry for w in watchers.values()], args.format, trunc)
        out.write("\033[H" + "".join(line + "\033[K\n" for line in text.splitlines())
                  + "\033[J")
        out.flush()
        if named and all(w.done.is_set() for w in watchers.values()):
            return 0
        time.sleep(0.5)
        if not named:
            refresh()


# --- update ---------------------------------------------------------------------------


def _mem(text: str, flag: str, allow_unlimited: bool = False) -> int:
    from orlop.units import ram_in_bytes

    if allow_unlimited and text.strip() == "-1":
        return -1
    try:
        return ram_in_bytes(text.strip())
    except ValueError:
        raise UsageError(f'invalid argument "{text}" for "{flag}" flag: invalid size: '
                         f"'{text}'") from None


def _int_flag(value: str, flag: str) -> int:
    """An integer flag as the docker CLI parses it (Go's strconv.ParseInt), its text."""
    try:
        return int(value)
    except ValueError:
        raise UsageError(f'invalid argument "{value}" for "{flag}" flag: strconv.ParseInt: '
                         f'parsing "{value}": invalid syntax') from None


def update_main(argv: list[str], ctx: Context) -> int:
    p = Parser(prog="orlop update", add_help=False)
    p.add_argument("-c", "--cpu-shares", default=None, metavar="int",
                   help="CPU shares (relative weight)")
    p.add_argument("--cpus", default=None, metavar="decimal", help="Number of CPUs")
    p.add_argument("--cpuset-cpus", default=None, metavar="string",
                   help="CPUs in which to allow execution (0-3, 0,1)")
    p.add_argument("-m", "--memory", default=None, metavar="bytes", help="Memory limit")
    p.add_argument("--memory-swap", default=None, metavar="bytes",
                   help="Swap limit equal to memory plus swap: -1 to enable unlimited swap")
    p.add_argument("--pids-limit", default=None, metavar="int",
                   help="Tune container pids limit (set -1 for unlimited)")
    p.add_argument("--restart", default=None, help="Restart policy to apply when a container exits")
    args = parse_with_args(p, argv, "update", at_least=1, positional="containers")
    body: dict[str, Any] = {}
    if args.memory is not None:
        body["Memory"] = _mem(args.memory, "-m, --memory")
    if args.memory_swap is not None:
        body["MemorySwap"] = _mem(args.memory_swap, "--memory-swap", allow_unlimited=True)
    if args.cpus is not None:
        try:
            body["NanoCpus"] = round(float(args.cpus) * 1e9)
        except ValueError:
            raise UsageError(f'invalid argument "{args.cpus}" for "--cpus" flag: failed '
                             f"to parse {args.cpus} as a rational number") from None
    if args.cpu_shares is not None:
        body["CpuShares"] = _int_flag(args.cpu_shares, "-c, --cpu-shares")
    if args.cpuset_cpus is not None:
        body["CpusetCpus"] = args.cpuset_cpus
    if args.pids_limit is not None:
        body["PidsLimit"] = _int_flag(args.pids_limit, "--pids-limit")
    if args.restart is not None:
        name, sep, count = args.restart.partition(":")
        if sep and not count.isdigit():
            raise UsageError(f'invalid argument "{args.restart}" for "--restart" flag: '
                             "invalid restart policy format: maximum retry count must be "
                             "an integer")
        body["RestartPolicy"] = {"Name": name, "MaximumRetryCount": int(count or 0)}
    if not body:
        raise UsageError("you must provide one or more flags when using this command")
    backend = ctx.backend()
    return for_each(args.containers, ctx, lambda ref: backend.update_container(ref, body))


def main(name: str, argv: list[str], ctx: Context) -> int:
    ctx.command = name
    if name == "update":
        return update_main(argv, ctx)
    return stats_main(argv, ctx)


__all__ = ["StatsEntry", "main", "render"]
