"""A container's filesystem as the container sees it, for ``cp`` and ``export``.

Work on a container's files runs in a short-lived forked child that gets a directory fd
of the container's root and resolves every path inside it with openat2
``RESOLVE_IN_ROOT`` (orlop.kernel.safepath): ``..`` stops at the root and an absolute
symlink means "inside the container", so a container that plants ``/data -> /`` or
swaps a directory for a symlink while we work cannot make us read or write a host file
(CVE-2018-15664, the ``docker cp`` symlink-exchange race).  Nothing is ever executed or
loaded from the container (CVE-2019-14271: ``docker cp`` loaded the container's
libnss through a helper chrooted into it): the child is this Python process, forked,
with every module it needs imported before the fork.

* Running container: the root is ``/proc/<pid>/root``, opened while a pidfd pins the
  process and checked afterwards, so a recycled pid cannot hand us another root.  A
  walk from that fd crosses the container's own mounts, so a path in a volume, a bind
  mount or a tmpfs reads and writes exactly what the container sees.
* Stopped container: the child unshares its mount namespace, makes ``/`` private and
  mounts the overlay (image layers + the container's upper dir) and then each volume
  and bind mount at its target, resolved in root by fd, with the runtime's own code
  (runtime/imageroot.py, runtime/rootfs.py: any number of layers, fd-based binds).  Nothing
  appears in the host's namespace and everything vanishes with the child, even if it
  is killed.  tmpfs mounts have no content when the container is stopped: their
  targets are plain directories of the rootfs, as in Docker.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import stat
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orlop.errors import (
    ContainerStateError,
    InvalidParameterError,
    NotFoundError,
    OrlopError,
    PermissionDeniedError,
    SystemFailureError,
)
from orlop.kernel import fs
from orlop.kernel.flags import MountFlag
from orlop.kernel.safepath import open_in_root
from orlop.mounts.plan import sort_mounts
from orlop.mounts.spec import MountPoint
from orlop.runtime.failure import InitStepError
from orlop.runtime.imageroot import mount_image_root, private_namespace
from orlop.runtime.rootfs import bind_into_root

if TYPE_CHECKING:
    from orlop.engine.models import Container
    from orlop.engine.services import Services

ChildFn = Callable[[int], dict[str, Any]]

_KINDS: dict[str, type[OrlopError]] = {
    "notfound": NotFoundError, "invalid": InvalidParameterError,
    "conflict": ContainerStateError, "denied": PermissionDeniedError,
    "system": SystemFailureError,
}


def _kind(err: BaseException) -> str:
    for kind, cls in _KINDS.items():
        if isinstance(err, cls):
            return kind
    if isinstance(err, FileNotFoundError):
        return "notfound"
    return "system"


@dataclass
class View:
    """What the child needs to build the container's view (filled in by :func:`opened`)."""

    container: Container
    pid: int = 0  # running: its PID 1
    lower_dirs: list[Path] = field(default_factory=list)
    upper: Path | None = None
    work: Path | None = None
    rootfs: Path | None = None
    mounts: list[MountPoint] = field(default_factory=list)  # volumes with host sources
    with_mounts: bool = True
    readonly_rootfs: bool = False

    @property
    def running(self) -> bool:
        return self.pid > 0


@contextlib.contextmanager
def opened(engine: Services, ref: str, *, with_mounts: bool = True,
           force_overlay: bool = False) -> Iterator[View]:
    """The container's view for the duration of the block.

    A stopped container is locked (as by a start) so that it cannot start while we
    mount its overlay, and its volumes take a reference so that no ``volume rm`` removes
    them under us.  ``with_mounts=False`` (export) shows the rootfs alone; it always
    builds the overlay view, also for a running container (``force_overlay``).
    """
    from orlop.engine.containers.runner import container_lock, is_locked

    c = engine.get_container(ref)
    running = c.status == "running" and c.pid > 0 and is_locked(engine.config.run_root, c.id)
    view = View(container=c, with_mounts=with_mounts,
                readonly_rootfs=c.host_config.readonly_rootfs)
    if running and not force_overlay:
        view.pid = c.pid
        yield view
        return
    image = engine.images.get(c.image_id)
    cdir = engine.config.containers_dir / c.id
    view.lower_dirs = engine.images.layer_dirs(image)
    view.upper, view.work, view.rootfs = cdir / "diff", cdir / "work", cdir / "rootfs"
    lock = contextlib.nullcontext() if running else container_lock(engine.config.run_root,
                                                                     c.id)
    with lock:
        if running:
            # A second overlay over a live upper dir: give it its own work dir (and
            # remove those a killed export left behind).
            for entry in os.listdir(cdir):
                pid = entry.removeprefix("work-view-")
                if entry.startswith("work-view-") and pid.isdigit() and \
                        not os.path.exists(f"/proc/{pid}"):
                    import shutil

                    shutil.rmtree(cdir / entry, ignore_errors=True)
            view.work = cdir / f"work-view-{os.getpid()}"
            os.makedirs(view.work, mode=0o700, exist_ok=True)
        taken: list[str] = []
        try:
            if with_mounts:
                points = [MountPoint.from_json(p) for p in engine.containers.mount_points(c.id)]
                for mp in points:
                    if mp.type == "volume" and mp.name:
                        path = engine.volumes.mount(mp.name, c.id)
                        taken.append(mp.name)
                        mp = mp.replace(source=_subpath_source(engine, path, mp))
                    view.mounts.append(mp)
                view.mounts += _network_files(cdir, {mp.destination for mp in points})
            yield view
        finally:
            from orlop.engine.containers.runner import release_pinned

            release_pinned()  # subpath fds pinned by _subpath_source for the child's mounts
            for name in taken:
                with contextlib.suppress(OrlopError, OSError):
                    engine.volumes.unmount(name, c.id)
            if running and view.work is not None:
                import shutil

                shutil.rmtree(view.work, ignore_errors=True)


def _network_files(cdir: Path, taken: set[str]) -> list[MountPoint]:
    """The engine's /etc/hostname, /etc/hosts and /etc/resolv.conf of a container that
    ran (runner.py binds them at each start): a stopped container's ``cp`` reads and
    writes them, as dockerd's archive path mounts its network files; ``export`` and
    ``diff`` show the layer's own (files/initlayer.py)."""
    out = []
    for name in ("hostname", "hosts", "resolv.conf"):
        dest = f"/etc/{name}"
        if dest not in taken and (cdir / name).is_file():
            out.append(MountPoint(type="bind", destination=dest, source=str(cdir / name)))
    return out


def _subpath_source(engine: Services, volume_path: str, mp: MountPoint) -> str:
    if not mp.subpath:
        return volume_path
    from orlop.engine.containers.runner import _with_source, pins_dir

    return _with_source(mp, volume_path, pins_dir(engine.config.run_root)).source


# --- the child -------------------------------------------------------------------


def _open_running_root(pid: int) -> int:
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        raise ContainerStateError("the container is not running any more") from None
    try:
        fd = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            # Still the same process after the open: the pid was not recycled in between.
            signal.pidfd_send_signal(pidfd, 0)
        except ProcessLookupError:
            os.close(fd)
            raise ContainerStateError("the container is not running any more") from None
        return fd
    finally:
        os.close(pidfd)


def _build_stopped_root(view: View) -> int:
    """The stopped container's root in this child's own mount namespace: the runtime's
    image root (runtime/imageroot.py) and, on it, each volume and bind as the runtime
    binds them (runtime/rootfs.py ``bind_into_root``)."""
    assert view.rootfs is not None and view.upper is not None and view.work is not None
    private_namespace()
    root_fd = mount_image_root(view.rootfs, view.lower_dirs, view.upper, view.work)
    if view.readonly_rootfs:
        fs.mount(None, f"/proc/self/fd/{root_fd}", None,
                 MountFlag.REMOUNT | MountFlag.BIND | MountFlag.RDONLY)
        os.close(root_fd)
        root_fd = os.open(view.rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    by_dest = {mp.destination: mp for mp in view.mounts if mp.type != "tmpfs"}
    for dest in sort_mounts(list(by_dest)):
        mp = by_dest[dest]
        if not mp.source:
            continue
        try:
            bind_into_root(root_fd, dest, mp.source, readonly=not mp.rw)
        except InitStepError as err:
            if err.errno == errno.ENOENT:
                raise NotFoundError(str(err)) from err
            raise SystemFailureError(str(err)) from err
    return root_fd


def run_in_view(view: View, fn: ChildFn, *, child_close: Sequence[int] = (),
                parent_close: Sequence[int] = (),
                parent_work: Callable[[], None] | None = None) -> dict[str, Any]:
    """Run ``fn(root_fd)`` in a forked child that sees the container's filesystem.

    ``child_close`` are fds the child closes first (the parent's ends of pipes),
    ``parent_close`` the ones the parent closes after the fork (the child's ends).
    ``parent_work`` runs in the parent while the child works (feeding or draining a
    pipe).  Returns ``fn``'s JSON-able result; the child's error is raised again here
    with its kind.
    """
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 0
        try:
            os.close(rfd)
            for fd in child_close:
                os.close(fd)
            root_fd = (_open_running_root(view.pid) if view.running
                       else _build_stopped_root(view))
            result = fn(root_fd)
            os.write(wfd, json.dumps({"ok": result}).encode())
        except BaseException as err:
            code = 1
            try:
                if os.environ.get("ORLOP_DEBUG"):
                    traceback.print_exc()
                msg = str(err) if isinstance(err, OrlopError) else _os_message(err)
                os.write(wfd, json.dumps({"error": msg, "kind": _kind(err),
                                          "epipe": isinstance(err, BrokenPipeError)}).encode())
            except BaseException:
                pass
        finally:
            os._exit(code)
    os.close(wfd)
    for fd in parent_close:
        os.close(fd)
    parent_err: BaseException | None = None
    try:
        if parent_work is not None:
            parent_work()
    except BaseException as err:
        parent_err = err
    chunks = []
    try:
        while True:
            b = os.read(rfd, 65536)
            if not b:
                break
            chunks.append(b)
    finally:
        os.close(rfd)
        os.waitpid(pid, 0)
    try:
        res = json.loads(b"".join(chunks) or b"{}")
    except ValueError:
        res = {}
    if "error" in res and not (res.get("epipe") and parent_err is not None):
        # The child's error first: a parent-side EPIPE is only its consequence (and the
        # reverse: a child's EPIPE is the consequence of the parent's error).
        raise _KINDS.get(res.get("kind", "system"), SystemFailureError)(str(res["error"]))
    if parent_err is not None:
        raise parent_err
    if "ok" not in res:
        raise SystemFailureError("the helper process died")
    out: dict[str, Any] = res["ok"]
    return out


def _os_message(err: BaseException) -> str:
    if isinstance(err, OSError) and err.errno is not None:
        text = os.strerror(err.errno).lower()
        return f"{err.filename}: {text}" if err.filename else text
    return str(err) or type(err).__name__


def is_readonly(fd: int) -> bool:
    return bool(os.fstatvfs(fd).f_flag & os.ST_RDONLY)


def lstat_in_root(root_fd: int, path: str, *, follow: bool) -> tuple[os.stat_result, int]:
    """(stat, O_PATH fd) of ``path`` in the root: the last component followed (inside the
    root) only with ``follow``.  Raises FileNotFoundError/NotADirectoryError."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if follow or not parts or parts[-1] == "..":
        fd = open_in_root(root_fd, path, os.O_PATH)
    else:
        parent = open_in_root(root_fd, "/".join(parts[:-1]), os.O_PATH | os.O_DIRECTORY)
        try:
            fd = os.open(parts[-1], os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        finally:
            os.close(parent)
    return os.fstat(fd), fd


def reopen(fd: int, flags: int) -> int:
    """Re-open an O_PATH fd with real access (through the magic link of the pinned fd,
    never by a path that could have been swapped)."""
    return os.open(f"/proc/self/fd/{fd}", flags | os.O_CLOEXEC)


def describe(st: os.stat_result) -> str:
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    if stat.S_ISLNK(st.st_mode):
        return "symlink"
    if stat.S_ISREG(st.st_mode):
        return "file"
    return "other"


__all__ = ["View", "describe", "is_readonly", "lstat_in_root", "opened", "reopen",
           "run_in_view"]
