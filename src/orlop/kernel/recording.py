"""RecordingSyscalls: a fake kernel/syscalls.py ``Syscalls`` that records instead of mounting.

Each call is appended to ``calls`` as a typed record (one frozen dataclass per syscall),
so a test compares the whole sequence with ``==``.  Nothing is mounted: the fake needs
neither root nor a mount namespace.

File descriptors in the records are named, not numbered, so an expected sequence can be
written down: ``AT_FDCWD``; ``tree1``/``fs1``/``mnt1`` for the fds the fake itself
returned (open_tree, fsopen, fsmount, numbered per kind); otherwise the path the fd
pins, as ``fd:<path>``, with the fake's ``root`` written ``$ROOT`` (a ``/proc/self/fd/N``
path argument is written the same way).  The fds the fake returns are real O_PATH fds
of marker entries in a scratch directory (a directory when the cloned source is one),
so the code under test can ``fstat`` and ``close`` them as it does the kernel's.

``fstatfs_type`` answers procfs for an fd at or below a target where a ``proc`` was
"mounted" (by mount(2) or fsmount + move_mount), so the refusal of a bind that resolves
into /proc can be tested; everything else is reported as not procfs.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field

from orlop.kernel.flags import AT_EMPTY_PATH, AT_FDCWD
from orlop.kernel.syscalls import PROC_SUPER_MAGIC


@dataclass(frozen=True)
class Mount:
    source: str | None
    target: str
    fstype: str | None
    flags: int
    data: str | None = None


@dataclass(frozen=True)
class Umount2:
    target: str
    flags: int = 0


@dataclass(frozen=True)
class OpenTree:
    dirfd: str
    path: str
    flags: int


@dataclass(frozen=True)
class MoveMount:
    from_dirfd: str
    from_path: str
    to_dirfd: str
    to_path: str
    flags: int


@dataclass(frozen=True)
class MountSetattr:
    dirfd: str
    path: str
    flags: int
    attr_set: int
    attr_clr: int = 0
    propagation: int = 0


@dataclass(frozen=True)
class FsOpen:
    fstype: str
    flags: int


@dataclass(frozen=True)
class FsConfig:
    fs_fd: str
    cmd: int
    key: str | None = None
    value: str | None = None
    aux: int = 0


@dataclass(frozen=True)
class FsMount:
    fs_fd: str
    flags: int
    attr_flags: int = 0


@dataclass(frozen=True)
class Unshare:
    flags: int


@dataclass(frozen=True)
class Setns:
    fd: str
    nstype: int = 0


@dataclass(frozen=True)
class PivotRoot:
    new_root: str
    put_old: str


Call = (Mount | Umount2 | OpenTree | MoveMount | MountSetattr | FsOpen | FsConfig | FsMount
        | Unshare | Setns | PivotRoot)


@dataclass
class RecordingSyscalls:
    """Records every call; see the module docstring for how fds are named."""

    root: str | None = None
    calls: list[Call] = field(default_factory=list)
    _scratch: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="orlop-fake-fds-"))
    _counts: dict[str, int] = field(default_factory=dict)
    _fstypes: dict[str, str] = field(default_factory=dict)  # our fs/mnt label -> fstype
    _proc_targets: list[str] = field(default_factory=list)

    def close(self) -> None:
        """Remove the scratch directory of the marker entries."""
        shutil.rmtree(self._scratch, ignore_errors=True)

    # --- naming ------------------------------------------------------------------

    def _issue(self, kind: str, is_dir: bool = False) -> int:
        self._counts[kind] = self._counts.get(kind, 0) + 1
        label = f"{kind}{self._counts[kind]}"
        marker = os.path.join(self._scratch, label)
        if is_dir:
            os.mkdir(marker)
        else:
            os.close(os.open(marker, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        return os.open(marker, os.O_PATH | os.O_CLOEXEC)

    def _real(self, fd: int) -> str:
        return os.readlink(f"/proc/self/fd/{fd}")

    def _show(self, path: str) -> str:
        if self.root and (path == self.root or path.startswith(self.root + "/")):
            return "$ROOT" + path[len(self.root):]
        return path

    def fd(self, fd: int) -> str:
        """The name of ``fd`` as the records write it."""
        if fd == AT_FDCWD:
            return "AT_FDCWD"
        real = self._real(fd)
        if os.path.dirname(real) == self._scratch:
            return os.path.basename(real)
        return "fd:" + self._show(real)

    def _path(self, path: str) -> str:
        prefix = "/proc/self/fd/"
        if path.startswith(prefix) and path[len(prefix):].isdigit():
            return self.fd(int(path[len(prefix):]))
        return self._show(path)

    def _label(self, fd: int) -> str:
        return os.path.basename(self._real(fd))

    # --- Syscalls ------------------------------------------------------------------

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int,
              data: str | None = None) -> None:
        shown = self._path(target)
        self.calls.append(Mount(source if source is None else self._path(source), shown,
                                fstype, int(flags), data))
        if fstype == "proc" and target.startswith("/proc/self/fd/"):
            self._proc_targets.append(self._real(int(target.rsplit("/", 1)[1])))

    def umount2(self, target: str, flags: int = 0) -> None:
        self.calls.append(Umount2(self._path(target), flags))

    def open_tree(self, dirfd: int, path: str, flags: int) -> int:
        self.calls.append(OpenTree(self.fd(dirfd), self._path(path), int(flags)))
        if flags & AT_EMPTY_PATH and not path:
            st = os.fstat(dirfd)
        else:  # what the kernel would clone must exist (ENOENT otherwise)
            st = os.stat(path, dir_fd=None if dirfd == AT_FDCWD else dirfd)
        return self._issue("tree", stat.S_ISDIR(st.st_mode))

    def move_mount(self, from_dirfd: int, from_path: str, to_dirfd: int, to_path: str,
                   flags: int) -> None:
        self.calls.append(MoveMount(self.fd(from_dirfd), from_path, self.fd(to_dirfd), to_path,
                                    int(flags)))
        if self._fstypes.get(self.fd(from_dirfd)) == "proc" and to_dirfd != AT_FDCWD:
            self._proc_targets.append(self._real(to_dirfd))

    def mount_setattr(self, dirfd: int, path: str, flags: int, attr_set: int,
                      attr_clr: int = 0, propagation: int = 0) -> None:
        self.calls.append(MountSetattr(self.fd(dirfd), self._path(path), int(flags),
                                       int(attr_set), int(attr_clr), int(propagation)))

    def fsopen(self, fstype: str, flags: int) -> int:
        self.calls.append(FsOpen(fstype, int(flags)))
        fd = self._issue("fs")
        self._fstypes[self._label(fd)] = fstype
        return fd

    def fsconfig(self, fs_fd: int, cmd: int, key: str | None = None,
                 value: str | None = None, aux: int = 0) -> None:
        self.calls.append(FsConfig(self.fd(fs_fd), int(cmd), key, value, aux))

    def fsmount(self, fs_fd: int, flags: int, attr_flags: int = 0) -> int:
        self.calls.append(FsMount(self.fd(fs_fd), int(flags), int(attr_flags)))
        fd = self._issue("mnt")
        self._fstypes[self._label(fd)] = self._fstypes.get(self.fd(fs_fd), "")
        return fd

    def unshare(self, flags: int) -> None:
        self.calls.append(Unshare(int(flags)))

    def setns(self, fd: int, nstype: int = 0) -> None:
        self.calls.append(Setns(self.fd(fd), nstype))

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self.calls.append(PivotRoot(self._path(new_root), self._path(put_old)))

    def fstatfs_type(self, fd: int) -> int:
        real = self._real(fd)
        for target in self._proc_targets:
            if real == target or real.startswith(target.rstrip("/") + "/"):
                return PROC_SUPER_MAGIC
        return 0


__all__ = ["Call", "FsConfig", "FsMount", "FsOpen", "Mount", "MountSetattr", "MoveMount",
           "OpenTree", "PivotRoot", "RecordingSyscalls", "Setns", "Umount2", "Unshare"]
