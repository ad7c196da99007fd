"""prepare_rootfs: everything that is mounted into the rootfs before pivot_root.

Runs in the container init (C2), in its new mount namespace, while the host's
filesystem is still reachable; it makes nothing read-only (finalize_rootfs does,
after pivot_root), as runc's prepareRootfs.  Order:

  1. ``/`` rslave (runc's default rootfs propagation), so nothing we mount propagates
     back to the host, while a bind asked to be ``rslave`` still receives the host's
     mounts and unmounts below its source (an engine-root bind relies on it: moby
     ``validateBindDaemonRoot``); every other bind is made ``rprivate`` explicitly;
  2. the rootfs: an overlay (annotations) or a bind of root.path onto itself;
  3. ``mount_to_rootfs`` for each spec mount, in order;
  4. ``create_devices`` and ``setup_dev_symlinks`` in /dev.

Every destination is resolved inside the rootfs with openat2(RESOLVE_IN_ROOT) and
the mount is made onto that pinned fd, never onto a path string: an image that
ships ``/data -> /etc`` or ``/data -> ../../..`` gets its mount in ``<rootfs>/etc``
and never on the host (CVE-2021-30465, runc's mount-target symlink-exchange race).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from orlop.kernel.flags import (
    AT_EMPTY_PATH,
    AT_FDCWD,
    AT_RECURSIVE,
    AT_SYMLINK_NOFOLLOW,
    OPEN_TREE_CLOEXEC,
    OPEN_TREE_CLONE,
    MountFlag,
)
from orlop.kernel.procmounts import PROC_BIND_ALLOWLIST, proc_mount_error
from orlop.kernel.pty import open_pty_in, send_fd
from orlop.kernel.safepath import (
    clean_parts,
    fd_path,
    mkdir_all_in_root,
    open_in_root,
)
from orlop.kernel.syscalls import LINUX, PROC_SUPER_MAGIC, attach_tree
from orlop.records import Record
from orlop.runtime.failure import InitStepError, describe
from orlop.runtime.imageroot import mount_overlay
from orlop.runtime.mountopts import MountOptions, parse_mount_options
from orlop.runtime.spec import (
    ANNOTATION_LOWERDIR,
    ANNOTATION_UPPERDIR,
    ANNOTATION_WORKDIR,
    Mount,
    Spec,
)

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from orlop.kernel.syscalls import Syscalls

# runc's defaultDevices (libcontainer/specconv): name, major, minor.
DEFAULT_DEVICES: tuple[tuple[str, int, int], ...] = (
    ("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9),
    ("tty", 5, 0),
)
DEV_SYMLINKS: tuple[tuple[str, str], ...] = (
    ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"), ("ptmx", "pts/ptmx"), ("core", "/proc/kcore"),
)


class RootfsState(Record):
    """What prepare_rootfs hands to pivot_root and finalize_rootfs."""

    _fields = ("root_fd", "deferred_ro", "console")
    __slots__ = _fields
    root_fd: int
    # tmpfs mounts asked to be "ro": mounted rw so that nested mount points can be
    # created in them, and made read-only by finalize_rootfs (runc does the same).
    deferred_ro: list[str]
    # With a console socket: the slave of the terminal allocated in the container's
    # devpts (its master went to the caller), already bound onto /dev/console.
    console: int | None

    def __init__(self, root_fd: int, deferred_ro: list[str] | None = None,
                 console: int | None = None) -> None:
        self.root_fd = root_fd
        self.deferred_ro = [] if deferred_ro is None else deferred_ro
        self.console = console


def prepare_rootfs(spec: Spec, bundle: Path, console: int | None = None,
                   console_socket: int | None = None, *, sc: Syscalls = LINUX) -> RootfsState:
    """Mount the rootfs and every spec mount into it; return the pinned rootfs fd.

    ``console``: a pty slave of the caller's, bound onto /dev/console (the old way).
    ``console_socket``: allocate the terminal in the container's own devpts instead
    and send its master over this unix socket (runc's --console-socket); the slave is
    returned in ``RootfsState.console``.  ``sc``: the kernel (a recording fake in tests).
    """
    # 1. Nothing below may propagate to the host's mount table: "/" rslave first (a
    #    private "/" would also cut the host's unmounts off from rslave binds).
    sc.mount(None, "/", None, MountFlag.REC | MountFlag.SLAVE)

    # 2. The rootfs itself must be a mount point for pivot_root(2).
    root = bundle / spec.root.path if not os.path.isabs(spec.root.path) else Path(spec.root.path)
    root_path = str(root)
    lower = spec.annotations.get(ANNOTATION_LOWERDIR)
    if lower:
        mount_overlay(root_path, lower.split(":"), spec.annotations.get(ANNOTATION_UPPERDIR),
                      spec.annotations.get(ANNOTATION_WORKDIR), sc=sc)
    else:
        sc.mount(root_path, root_path, None, MountFlag.BIND | MountFlag.REC)
    # Opened after mounting, so the fd is the new mount's root, not the covered dir.
    state = RootfsState(root_fd=os.open(root_path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))

    # 3. The spec's mounts, in the order given (the engine sorts parents first).
    dev_is_bind = False
    for m in spec.mounts:
        opts = parse_mount_options(m.options)
        if clean_parts(m.destination) == ["dev"] and (m.type == "bind" or opts.is_bind):
            dev_is_bind = True
        try:
            mount_to_rootfs(state, m, opts, bundle, sc=sc)
        except OSError as err:
            if m.type == "cgroup":
                continue  # cgroup v1 hierarchies already mounted elsewhere: EBUSY; not fatal
            raise InitStepError(f"mount {m.destination}: {describe(err)}", err.errno or 0) from err

    # 4. /dev: nodes and symlinks, unless the user bind-mounted a /dev of their own.
    if not dev_is_bind:
        try:
            dev_fd = mkdir_all_in_root(state.root_fd, "/dev")
            try:
                create_devices(dev_fd, sc=sc)
                setup_dev_symlinks(dev_fd)
                if console_socket is not None:
                    state.console = allocate_console(dev_fd, console_socket, sc=sc)
                elif console is not None:
                    setup_console(dev_fd, console, sc=sc)
            finally:
                os.close(dev_fd)
        except OSError as err:
            raise InitStepError(f"create_devices: {describe(err)}", err.errno or 0) from err
    return state


def mount_to_rootfs(state: RootfsState, m: Mount, opts: MountOptions, bundle: Path, *,
                    sc: Syscalls = LINUX) -> None:
    """Place one spec mount at its destination inside the rootfs (runc mountToRootfs)."""
    is_bind = m.type == "bind" or opts.is_bind
    message = proc_mount_error("/" + "/".join(clean_parts(m.destination)),
                               is_proc=m.type == "proc" and not is_bind, is_bind=is_bind)
    if message is not None:
        raise InitStepError(f"mount {m.destination}: {message}", errno.EPERM)
    if is_bind:
        _mount_bind(state, m, opts, bundle, sc)
    else:
        _mount_new(state, m, opts, sc)
    if opts.propagation:
        # Re-open: the fd pinned before mounting names the covered directory, and
        # MS_SHARED etc. must reach the new mount (runc reopenAfterMount).
        fd = open_in_root(state.root_fd, m.destination)
        try:
            for prop in opts.propagation:
                sc.mount(None, fd_path(fd), None, prop)
        finally:
            os.close(fd)


def bind_into_root(root_fd: int, destination: str, source: str, *, readonly: bool,
                   sc: Syscalls = LINUX) -> None:
    """Bind ``source`` (with its submounts) at ``destination`` of an already mounted root.

    For the engine's stopped-container view (engine/files/view.py): the same fd-based
    bind as a container's (mount_to_rootfs: target resolved and created inside the
    root, never on a procfs), with nothing but "ro" changed on the cloned tree.
    """
    m = Mount(destination, "bind", source, ["rbind", "ro"] if readonly else ["rbind"])
    mount_to_rootfs(RootfsState(root_fd), m, parse_mount_options(m.options), Path("/"), sc=sc)


def _mount_bind(state: RootfsState, m: Mount, opts: MountOptions, bundle: Path,
                sc: Syscalls) -> None:
    """A bind mount, done entirely on fds (R3): clone the source, set attributes, attach.

    The source is cloned as a detached tree with open_tree(OPEN_TREE_CLONE), its
    flags are set with mount_setattr on that tree (AT_RECURSIVE for "rro"), and it is
    attached with move_mount onto the pinned destination: no path is looked up twice
    and no read-only remount through a stale fd is needed.
    """
    source = m.source if os.path.isabs(m.source) else str(bundle / m.source)
    tree_flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC
    if opts.flags & MountFlag.REC:
        tree_flags |= AT_RECURSIVE
    try:
        tree = sc.open_tree(AT_FDCWD, source, tree_flags)
    except OSError as err:
        if err.errno == errno.ENOENT:
            # Docker's text for a missing bind source.
            raise InitStepError(f"mount {m.destination}: bind source path does not exist: "
                                f"{m.source}", err.errno) from err
        raise
    try:
        is_dir = stat.S_ISDIR(os.fstat(tree).st_mode)
        attr_set, attr_clr = opts.setattr_masks()
        if attr_set or attr_clr:
            rec = AT_RECURSIVE if opts.recursive_ro else 0
            sc.mount_setattr(tree, "", AT_EMPTY_PATH | rec, attr_set, attr_clr)
        target = create_mountpoint(state.root_fd, m.destination, is_dir)
        try:
            refuse_procfs_target(target, m, is_proc=False, sc=sc)
            attach_tree(sc, tree, target)
        finally:
            os.close(target)
    finally:
        os.close(tree)


def _mount_new(state: RootfsState, m: Mount, opts: MountOptions, sc: Syscalls) -> None:
    """A new filesystem instance: tmpfs, proc, sysfs, devpts, mqueue, cgroup."""
    fstype = m.type
    if fstype == "cgroup" and os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        fstype = "cgroup2"  # a unified host: "cgroup" in a spec means the v2 hierarchy
    if fstype in ("proc", "sysfs"):
        check_proc_mount(state.root_fd, m.destination)
    target = create_mountpoint(state.root_fd, m.destination, True)
    try:
        refuse_procfs_target(target, m, is_proc=fstype == "proc", sc=sc)
        flags = opts.mount_flags()
        if fstype == "tmpfs" and flags & MountFlag.RDONLY:
            flags &= ~MountFlag.RDONLY
            state.deferred_ro.append(m.destination)
        sc.mount(m.source or fstype, fd_path(target), fstype, flags, opts.data_string)
    finally:
        os.close(target)


def refuse_procfs_target(target_fd: int, m: Mount, *, is_proc: bool,
                         sc: Syscalls = LINUX) -> None:
    """Refuse a mount whose pinned target lies on a procfs, however it was reached.

    The destination's text was checked already; this catches a path that only resolves
    into /proc (an image's ``/data -> /proc`` symlink, followed inside the rootfs), as
    runc checks the resolved destination.  A fresh procfs and runc's allowlisted binds
    (lxcfs) are the only mounts that may go there.
    """
    if is_proc or sc.fstatfs_type(target_fd) != PROC_SUPER_MAGIC:
        return
    if m.type == "bind" or "bind" in m.options or "rbind" in m.options:
        if "/" + "/".join(clean_parts(m.destination)) in PROC_BIND_ALLOWLIST:
            return
    raise InitStepError(f"mount {m.destination}: the destination resolves into /proc, "
                        "where only procfs may be mounted", errno.EPERM)


def check_proc_mount(root_fd: int, destination: str) -> None:
    """proc and sysfs go on a real directory, never through a symlink.

    A rootfs whose /proc is a symlink could aim the fresh procfs (and the later
    read-only and masked paths, which assume it) somewhere else; runc refuses it in
    mountToRootfs ("a 'fun' attack scenario in the past"), cf. CVE-2019-16884 and
    CVE-2019-19921 (mounting over /proc through a symlink).
    """
    parts = clean_parts(destination)
    if not parts:
        raise InitStepError(f"mount {destination}: refusing to mount over the rootfs", errno.EINVAL)
    parent = mkdir_all_in_root(root_fd, "/".join(parts[:-1]))
    try:
        st = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return
    finally:
        os.close(parent)
    if not stat.S_ISDIR(st.st_mode):
        raise InitStepError(f"mount {destination}: destination is not a directory "
                            "(a symlink or file cannot be a proc/sysfs mount point)",
                            errno.ENOTDIR)


def create_mountpoint(root_fd: int, destination: str, is_dir: bool) -> int:
    """Create (if missing) and pin the destination inside the rootfs; an O_PATH fd.

    A directory for directory sources and new filesystems; an empty file when the bind
    source is a file (runc createOpenMountpoint).  The destination may not be the
    rootfs itself.
    """
    if is_dir:
        fd = mkdir_all_in_root(root_fd, destination)
    else:
        parts = clean_parts(destination)
        if not parts:
            raise InitStepError(f"mount {destination}: a file cannot be mounted on the rootfs",
                                errno.EINVAL)
        try:
            fd = open_in_root(root_fd, destination)
        except FileNotFoundError:
            parent = mkdir_all_in_root(root_fd, "/".join(parts[:-1]))
            try:
                flags = os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_WRONLY | os.O_CLOEXEC
                os.close(os.open(parts[-1], flags, 0o644, dir_fd=parent))
            except FileExistsError:
                pass  # created meanwhile, or a dangling symlink: re-resolved just below
            finally:
                os.close(parent)
            fd = open_in_root(root_fd, destination)
    st, root_st = os.fstat(fd), os.fstat(root_fd)
    if (st.st_dev, st.st_ino) == (root_st.st_dev, root_st.st_ino):
        os.close(fd)
        # runc: "mountpoint ... is on top of rootfs"; a "/" target (or ".." chains
        # that resolve to it) would hide the whole image.
        raise InitStepError(f"mount {destination}: refusing to mount over the rootfs",
                            errno.EINVAL)
    return fd


def create_devices(dev_fd: int, *, sc: Syscalls = LINUX) -> None:
    """mknod the default device nodes in /dev; bind the host's node where mknod is refused."""
    for name, major, minor in DEFAULT_DEVICES:
        try:
            st = os.stat(name, dir_fd=dev_fd, follow_symlinks=False)
        except FileNotFoundError:
            pass
        else:
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(major, minor):
                continue
            if stat.S_ISDIR(st.st_mode):
                raise InitStepError(f"create_devices: /dev/{name} is a directory", errno.EISDIR)
            os.unlink(name, dir_fd=dev_fd)  # unlinkat never follows a symlink
        try:
            os.mknod(name, stat.S_IFCHR | 0o666, os.makedev(major, minor), dir_fd=dev_fd)
        except PermissionError:
            _bind_host_device(dev_fd, name, sc)


def _bind_host_device(dev_fd: int, name: str, sc: Syscalls) -> None:
    """Bind the host's /dev/<name> over an empty file (mknod needs CAP_MKNOD in the init userns)."""
    _clone_onto_file(dev_fd, name, 0o666, (AT_FDCWD, f"/dev/{name}"), sc, exclusive=True)


def _clone_onto_file(dev_fd: int, name: str, mode: int, source: tuple[int, str], sc: Syscalls,
                     *, tree_flags: int = 0, exclusive: bool = False) -> None:
    """Make the empty file ``name`` below ``dev_fd`` (``exclusive``: it must not exist)
    and attach a clone of ``source`` (dir fd, path) onto it, through an O_PATH fd so that
    no path is looked up twice."""
    flags = os.O_CREAT | os.O_NOFOLLOW | os.O_WRONLY | os.O_CLOEXEC
    if exclusive:
        flags |= os.O_EXCL
    os.close(os.open(name, flags, mode, dir_fd=dev_fd))
    target = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dev_fd)
    try:
        tree = sc.open_tree(*source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | tree_flags)
        try:
            attach_tree(sc, tree, target)
        finally:
            os.close(tree)
    finally:
        os.close(target)


def setup_dev_symlinks(dev_fd: int) -> None:
    """/dev/fd, stdin, stdout, stderr, ptmx -> pts/ptmx (newinstance devpts), core."""
    for name, target in DEV_SYMLINKS:
        if name == "ptmx":
            try:
                os.unlink(name, dir_fd=dev_fd)
            except FileNotFoundError:
                pass
        try:
            os.symlink(target, name, dir_fd=dev_fd)
        except FileExistsError:
            pass


def allocate_console(dev_fd: int, console_socket: int, *, sc: Syscalls = LINUX) -> int:
    """A pty from the container's devpts (/dev/pts/ptmx, opened beneath /dev without
    following any symlink), its master sent to the caller, its slave bound onto
    /dev/console as runc does; returns the slave."""
    master, slave, n = open_pty_in(dev_fd, "pts/ptmx")
    try:
        send_fd(console_socket, master)
    finally:
        os.close(master)
    try:
        # Our own devpts instance: a mount of this namespace, so it can be cloned.
        _clone_onto_file(dev_fd, "console", 0o600, (dev_fd, f"pts/{n}"), sc,
                         tree_flags=AT_SYMLINK_NOFOLLOW)
    except BaseException:
        os.close(slave)
        raise
    return slave


def setup_console(dev_fd: int, console: int, *, sc: Syscalls = LINUX) -> None:
    """Bind the console pty slave onto /dev/console, as runc does for terminal containers."""
    # By path, not by fd: the fd's mount belongs to the host's mount namespace and
    # open_tree(OPEN_TREE_CLONE) only clones mounts of our own namespace.
    _clone_onto_file(dev_fd, "console", 0o600, (AT_FDCWD, os.ttyname(console)), sc)
