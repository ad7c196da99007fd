"""The subset of the OCI runtime spec (config.json) that Orlop writes and runs.

Field names are snake_case here and camelCase on disk (``to_dict``/``from_dict`` do the
mapping in one place).  Keys we do not model are kept in ``extra`` so that a config.json
written by another tool (``crun spec``, Docker) survives a load/save round trip.
``default_spec()`` is Docker's default container: the same capabilities, masked and
read-only paths, mounts and namespaces as moby's daemon/pkg/oci/defaults.go.

Records (orlop/records.py), not dataclasses: ``run`` and ``exec`` build a spec at every
start, and creating these twelve classes as dataclasses cost ~5 ms of it.  Each
``__init__`` has the dataclass's parameters and defaults; a ``None`` default of a list,
dict or object field stands for a new one per object (``field(default_factory=...)``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from orlop.kernel.caps import DOCKER_DEFAULT_CAPS
from orlop.records import FrozenRecord, Record

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any

OCI_VERSION = "1.0.2"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Annotations the built-in runtime reads: an overlay mounted on root.path inside the
# container's mount namespace, so the host's mount table never holds the rootfs.
ANNOTATION_LOWERDIR = "org.orlop.overlay.lowerdir"
ANNOTATION_UPPERDIR = "org.orlop.overlay.upperdir"
ANNOTATION_WORKDIR = "org.orlop.overlay.workdir"

DOCKER_MASKED_PATHS: tuple[str, ...] = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)
DOCKER_READONLY_PATHS: tuple[str, ...] = (
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
)
NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")


def _strs(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what}: expected a list of strings, got {value!r}")
    return list(value)


def _rest(data: dict[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in known}


class User(Record):
    _fields = ("uid", "gid", "additional_gids")
    __slots__ = _fields
    uid: int
    gid: int
    additional_gids: list[int]

    def __init__(self, uid: int = 0, gid: int = 0,
                 additional_gids: list[int] | None = None) -> None:
        self.uid = uid
        self.gid = gid
        self.additional_gids = [] if additional_gids is None else additional_gids

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> User:
        return cls(uid=int(d.get("uid", 0)), gid=int(d.get("gid", 0)),
                   additional_gids=[int(g) for g in d.get("additionalGids") or []])

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"uid": self.uid, "gid": self.gid}
        if self.additional_gids:
            out["additionalGids"] = list(self.additional_gids)
        return out


class Capabilities(Record):
    _SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")
    _fields = _SETS
    __slots__ = _fields
    bounding: list[str]
    effective: list[str]
    permitted: list[str]
    inheritable: list[str]
    ambient: list[str]

    def __init__(self, bounding: list[str] | None = None,
                 effective: list[str] | None = None, permitted: list[str] | None = None,
                 inheritable: list[str] | None = None,
                 ambient: list[str] | None = None) -> None:
        self.bounding = [] if bounding is None else bounding
        self.effective = [] if effective is None else effective
        self.permitted = [] if permitted is None else permitted
        self.inheritable = [] if inheritable is None else inheritable
        self.ambient = [] if ambient is None else ambient

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Capabilities:
        return cls(**{k: _strs(d.get(k), f"capabilities.{k}") for k in cls._SETS})

    def to_dict(self) -> dict[str, Any]:
        return {k: list(getattr(self, k)) for k in self._SETS}


class Rlimit(Record):
    _fields = ("type", "hard", "soft")
    __slots__ = _fields
    type: str  # "RLIMIT_NOFILE"
    hard: int
    soft: int

    def __init__(self, type: str, hard: int, soft: int) -> None:
        self.type = type
        self.hard = hard
        self.soft = soft

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Rlimit:
        return cls(type=str(d["type"]), hard=int(d["hard"]), soft=int(d["soft"]))

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "hard": self.hard, "soft": self.soft}


class Process(Record):
    _fields = ("args", "env", "cwd", "terminal", "user", "capabilities", "no_new_privileges",
               "rlimits", "extra")
    __slots__ = _fields
    args: list[str]
    env: list[str]
    cwd: str
    terminal: bool
    user: User
    capabilities: Capabilities | None
    no_new_privileges: bool
    rlimits: list[Rlimit] | None
    extra: dict[str, Any]

    def __init__(self, args: list[str] | None = None, env: list[str] | None = None,
                 cwd: str = "/", terminal: bool = False, user: User | None = None,
                 capabilities: Capabilities | None = None, no_new_privileges: bool = False,
                 rlimits: list[Rlimit] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        self.args = [] if args is None else args
        self.env = [f"PATH={DEFAULT_PATH}"] if env is None else env
        self.cwd = cwd
        self.terminal = terminal
        self.user = User() if user is None else user
        self.capabilities = capabilities
        self.no_new_privileges = no_new_privileges
        self.rlimits = rlimits
        self.extra = {} if extra is None else extra

    _KNOWN = ("args", "env", "cwd", "terminal", "user", "capabilities", "noNewPrivileges",
              "rlimits")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Process:
        caps = d.get("capabilities")
        rl = d.get("rlimits")
        return cls(
            args=_strs(d.get("args"), "process.args"),
            env=_strs(d.get("env"), "process.env"),
            cwd=str(d.get("cwd", "/")),
            terminal=bool(d.get("terminal", False)),
            user=User.from_dict(d.get("user") or {}),
            capabilities=Capabilities.from_dict(caps) if caps is not None else None,
            no_new_privileges=bool(d.get("noNewPrivileges", False)),
            rlimits=[Rlimit.from_dict(r) for r in rl] if rl is not None else None,
            extra=_rest(d, cls._KNOWN),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "terminal": self.terminal, "user": self.user.to_dict(), "args": list(self.args),
            "env": list(self.env), "cwd": self.cwd,
        }
        if self.capabilities is not None:
            out["capabilities"] = self.capabilities.to_dict()
        if self.rlimits is not None:
            out["rlimits"] = [r.to_dict() for r in self.rlimits]
        out["noNewPrivileges"] = self.no_new_privileges
        out.update(self.extra)
        return out

    def getenv(self, name: str) -> str | None:
        """The last ``NAME=value`` in env wins, as execve's consumers read it."""
        value = None
        prefix = name + "="
        for item in self.env:
            if item.startswith(prefix):
                value = item[len(prefix):]
        return value


class Root(Record):
    _fields = ("path", "readonly")
    __slots__ = _fields
    path: str
    readonly: bool

    def __init__(self, path: str = "rootfs", readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Root:
        return cls(path=str(d["path"]), readonly=bool(d.get("readonly", False)))

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "readonly": self.readonly}


class Mount(Record):
    """One ``mounts[]`` entry; options are mount(8)-style words, see runtime/mountopts.py."""

    _fields = ("destination", "type", "source", "options")
    __slots__ = _fields
    destination: str
    type: str
    source: str
    options: list[str]

    def __init__(self, destination: str, type: str = "bind", source: str = "",
                 options: list[str] | None = None) -> None:
        self.destination = destination
        self.type = type
        self.source = source
        self.options = [] if options is None else options

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Mount:
        dest = d.get("destination")
        if not isinstance(dest, str) or not dest.startswith("/"):
            raise ValueError(f"mount destination must be an absolute path, got {dest!r}")
        return cls(destination=dest, type=str(d.get("type") or ""),
                   source=str(d.get("source") or ""), options=_strs(d.get("options"), dest))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"destination": self.destination, "type": self.type,
                               "source": self.source}
        if self.options:
            out["options"] = list(self.options)
        return out


class Namespace(Record):
    _fields = ("type", "path")
    __slots__ = _fields
    type: str
    path: str | None

    def __init__(self, type: str, path: str | None = None) -> None:
        self.type = type
        self.path = path

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Namespace:
        ns_type = str(d.get("type"))
        if ns_type not in NAMESPACE_TYPES:
            raise ValueError(f"unknown namespace type {ns_type!r}")
        path = d.get("path")
        return cls(type=ns_type, path=str(path) if path else None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.path:
            out["path"] = self.path
        return out


SECCOMP_OPS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
               "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ")


def _u64(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 64:
        raise ValueError(f"{what}: expected an unsigned 64-bit integer, got {value!r}")
    return value


class SeccompArg(FrozenRecord):
    _fields = ("index", "value", "op", "value_two")
    __slots__ = _fields
    index: int
    value: int
    op: str
    value_two: int

    def __init__(self, index: int, value: int, op: str, value_two: int = 0) -> None:
        self._set(index=index, value=value, op=op, value_two=value_two)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SeccompArg:
        index = _u64(d.get("index"), "linux.seccomp: args.index")
        if index > 5:
            raise ValueError(f"linux.seccomp: args.index {index} is out of range (0-5)")
        op = d.get("op")
        if op not in SECCOMP_OPS:
            raise ValueError(f"linux.seccomp: unknown comparison operator {op!r}")
        return cls(index=index, value=_u64(d.get("value", 0), "linux.seccomp: args.value"),
                   op=op, value_two=_u64(d.get("valueTwo", 0), "linux.seccomp: args.valueTwo"))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"index": self.index, "value": self.value, "op": self.op}
        if self.value_two:
            out["valueTwo"] = self.value_two
        return out


class SeccompRule(FrozenRecord):
    _fields = ("names", "action", "errno_ret", "args")
    __slots__ = _fields
    names: tuple[str, ...]
    action: str
    errno_ret: int | None
    args: tuple[SeccompArg, ...]

    def __init__(self, names: tuple[str, ...], action: str, errno_ret: int | None = None,
                 args: tuple[SeccompArg, ...] = ()) -> None:
        self._set(names=names, action=action, errno_ret=errno_ret, args=args)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SeccompRule:
        errno_ret = d.get("errnoRet")
        return cls(names=tuple(_strs(d.get("names"), "linux.seccomp: syscalls.names")),
                   action=str(d.get("action") or ""),
                   errno_ret=_u64(errno_ret, "errnoRet") if errno_ret is not None else None,
                   args=tuple(SeccompArg.from_dict(a) for a in d.get("args") or []))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"names": list(self.names), "action": self.action}
        if self.errno_ret is not None:
            out["errnoRet"] = self.errno_ret
        if self.args:
            out["args"] = [a.to_dict() for a in self.args]
        return out


class Seccomp(FrozenRecord):
    """``linux.seccomp``: already resolved (no Docker includes/excludes left)."""

    _fields = ("default_action", "default_errno_ret", "architectures", "flags", "syscalls",
               "listener_path", "listener_metadata")
    __slots__ = _fields
    default_action: str
    default_errno_ret: int | None
    architectures: tuple[str, ...]
    flags: tuple[str, ...]
    syscalls: tuple[SeccompRule, ...]
    listener_path: str
    listener_metadata: str

    def __init__(self, default_action: str, default_errno_ret: int | None = None,
                 architectures: tuple[str, ...] = (), flags: tuple[str, ...] = (),
                 syscalls: tuple[SeccompRule, ...] = (), listener_path: str = "",
                 listener_metadata: str = "") -> None:
        self._set(default_action=default_action, default_errno_ret=default_errno_ret,
                  architectures=architectures, flags=flags, syscalls=syscalls,
                  listener_path=listener_path, listener_metadata=listener_metadata)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Seccomp:
        if not isinstance(d, dict) or not isinstance(d.get("defaultAction"), str):
            raise ValueError("linux.seccomp: defaultAction is required")
        ret = d.get("defaultErrnoRet")
        return cls(default_action=d["defaultAction"],
                   default_errno_ret=_u64(ret, "defaultErrnoRet") if ret is not None else None,
                   architectures=tuple(_strs(d.get("architectures"), "architectures")),
                   flags=tuple(_strs(d.get("flags"), "linux.seccomp.flags")),
                   syscalls=tuple(SeccompRule.from_dict(r) for r in d.get("syscalls") or []),
                   listener_path=str(d.get("listenerPath") or ""),
                   listener_metadata=str(d.get("listenerMetadata") or ""))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"defaultAction": self.default_action}
        if self.default_errno_ret is not None:
            out["defaultErrnoRet"] = self.default_errno_ret
        if self.architectures:
            out["architectures"] = list(self.architectures)
        if self.flags:
            out["flags"] = list(self.flags)
        if self.listener_path:
            out["listenerPath"] = self.listener_path
        if self.listener_metadata:
            out["listenerMetadata"] = self.listener_metadata
        out["syscalls"] = [r.to_dict() for r in self.syscalls]
        return out


class Linux(Record):
    """``linux``.  ``rootfs_propagation`` and ``cgroups_path`` are for crun and runc: the
    built-in runtime always makes "/" rslave, and the engine applies cgroups around
    ``launch()``; ``resources`` (likewise only theirs) stays in ``extra``."""

    _fields = ("namespaces", "masked_paths", "readonly_paths", "seccomp", "sysctl",
               "rootfs_propagation", "cgroups_path", "extra")
    __slots__ = _fields
    namespaces: list[Namespace]
    masked_paths: list[str]
    readonly_paths: list[str]
    seccomp: Seccomp | None
    sysctl: dict[str, str]
    rootfs_propagation: str
    cgroups_path: str
    extra: dict[str, Any]

    def __init__(self, namespaces: list[Namespace] | None = None,
                 masked_paths: list[str] | None = None,
                 readonly_paths: list[str] | None = None, seccomp: Seccomp | None = None,
                 sysctl: dict[str, str] | None = None, rootfs_propagation: str = "",
                 cgroups_path: str = "", extra: dict[str, Any] | None = None) -> None:
        self.namespaces = [] if namespaces is None else namespaces
        self.masked_paths = [] if masked_paths is None else masked_paths
        self.readonly_paths = [] if readonly_paths is None else readonly_paths
        self.seccomp = seccomp
        self.sysctl = {} if sysctl is None else sysctl
        self.rootfs_propagation = rootfs_propagation
        self.cgroups_path = cgroups_path
        self.extra = {} if extra is None else extra

    _KNOWN = ("namespaces", "maskedPaths", "readonlyPaths", "seccomp", "sysctl",
              "rootfsPropagation", "cgroupsPath")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Linux:
        seccomp = d.get("seccomp")
        sysctl = d.get("sysctl") or {}
        if not isinstance(sysctl, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in sysctl.items()):
            raise ValueError("linux.sysctl: expected an object of strings")
        return cls(
            namespaces=[Namespace.from_dict(n) for n in d.get("namespaces") or []],
            masked_paths=_strs(d.get("maskedPaths"), "linux.maskedPaths"),
            readonly_paths=_strs(d.get("readonlyPaths"), "linux.readonlyPaths"),
            seccomp=Seccomp.from_dict(seccomp) if seccomp is not None else None,
            sysctl=dict(sysctl),
            rootfs_propagation=str(d.get("rootfsPropagation") or ""),
            cgroups_path=str(d.get("cgroupsPath") or ""),
            extra=_rest(d, cls._KNOWN),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"namespaces": [n.to_dict() for n in self.namespaces],
                               "maskedPaths": list(self.masked_paths),
                               "readonlyPaths": list(self.readonly_paths)}
        if self.seccomp is not None:
            out["seccomp"] = self.seccomp.to_dict()
        if self.sysctl:
            out["sysctl"] = dict(self.sysctl)
        if self.rootfs_propagation:
            out["rootfsPropagation"] = self.rootfs_propagation
        if self.cgroups_path:
            out["cgroupsPath"] = self.cgroups_path
        out.update(self.extra)
        return out

    def namespace(self, ns_type: str) -> Namespace | None:
        for ns in self.namespaces:
            if ns.type == ns_type:
                return ns
        return None


class Spec(Record):
    _fields = ("process", "root", "hostname", "mounts", "annotations", "linux",
               "oci_version", "extra")
    __slots__ = _fields
    process: Process
    root: Root
    hostname: str
    mounts: list[Mount]
    annotations: dict[str, str]
    linux: Linux
    oci_version: str
    extra: dict[str, Any]

    def __init__(self, process: Process | None = None, root: Root | None = None,
                 hostname: str = "", mounts: list[Mount] | None = None,
                 annotations: dict[str, str] | None = None, linux: Linux | None = None,
                 oci_version: str = OCI_VERSION, extra: dict[str, Any] | None = None) -> None:
        self.process = Process() if process is None else process
        self.root = Root() if root is None else root
        self.hostname = hostname
        self.mounts = [] if mounts is None else mounts
        self.annotations = {} if annotations is None else annotations
        self.linux = Linux() if linux is None else linux
        self.oci_version = oci_version
        self.extra = {} if extra is None else extra

    _KNOWN = ("ociVersion", "process", "root", "hostname", "mounts", "annotations", "linux")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Spec:
        if not isinstance(d, dict):
            raise ValueError("config.json: expected a JSON object")
        if "root" not in d:
            raise ValueError("config.json: root is required")
        ann = d.get("annotations") or {}
        return cls(
            oci_version=str(d.get("ociVersion", OCI_VERSION)),
            process=Process.from_dict(d.get("process") or {}),
            root=Root.from_dict(d["root"]),
            hostname=str(d.get("hostname") or ""),
            mounts=[Mount.from_dict(m) for m in d.get("mounts") or []],
            annotations={str(k): str(v) for k, v in ann.items()},
            linux=Linux.from_dict(d.get("linux") or {}),
            extra=_rest(d, cls._KNOWN),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ociVersion": self.oci_version, "process": self.process.to_dict(),
                               "root": self.root.to_dict()}
        if self.hostname:
            out["hostname"] = self.hostname
        out["mounts"] = [m.to_dict() for m in self.mounts]
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        out["linux"] = self.linux.to_dict()
        out.update(self.extra)
        return out

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Spec:
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def save(self, path: str | os.PathLike[str], *, durable: bool = True) -> None:
        """Write config.json atomically (temp file + rename): a reader never sees half.

        ``durable`` also fsyncs before the rename, so the file survives a power loss.
        The engine passes False: it writes the bundle anew on every start, and the
        fsync would cost each start several milliseconds.

        Compact JSON, as containerd writes a bundle's: ``json.dumps`` without an indent
        is the C encoder, ten times faster than the indenting one (~25 KB with the
        default seccomp profile: 1 to 4 ms of every start).
        """
        target = Path(path)
        tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
        text = json.dumps(self.to_dict(), separators=(",", ":"))
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, target)


def default_mounts() -> list[Mount]:
    """Docker's default mounts (moby daemon/pkg/oci/defaults.go), in mount order."""
    return [
        Mount("/proc", "proc", "proc", ["nosuid", "noexec", "nodev"]),
        Mount("/dev", "tmpfs", "tmpfs", ["nosuid", "strictatime", "mode=755", "size=65536k"]),
        Mount("/dev/pts", "devpts", "devpts",
              ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]),
        Mount("/sys", "sysfs", "sysfs", ["nosuid", "noexec", "nodev", "ro"]),
        # The built-in runtime skips this one when the kernel refuses it (cgroup v1
        # hierarchies already mounted elsewhere); crun and runc handle it themselves.
        Mount("/sys/fs/cgroup", "cgroup", "cgroup", ["ro", "nosuid", "noexec", "nodev"]),
        Mount("/dev/mqueue", "mqueue", "mqueue", ["nosuid", "noexec", "nodev"]),
        Mount("/dev/shm", "tmpfs", "shm", ["nosuid", "noexec", "nodev", "mode=1777",
                                           "size=65536k"]),
    ]


def default_spec(args: list[str] | None = None, rootfs: str = "rootfs") -> Spec:
    """Docker's default container, ready to be adjusted by the engine."""
    caps = list(DOCKER_DEFAULT_CAPS)
    return Spec(
        process=Process(
            args=list(args) if args is not None else ["sh"],
            env=[f"PATH={DEFAULT_PATH}"],
            cwd="/",
            capabilities=Capabilities(bounding=list(caps), effective=list(caps),
                                      permitted=list(caps), inheritable=[], ambient=[]),
            no_new_privileges=True,
        ),
        root=Root(path=rootfs, readonly=False),
        hostname="",
        mounts=default_mounts(),
        linux=Linux(
            namespaces=[Namespace(t) for t in ("pid", "ipc", "uts", "mount", "network")],
            masked_paths=list(DOCKER_MASKED_PATHS),
            readonly_paths=list(DOCKER_READONLY_PATHS),
        ),
    )
