"""Persistent network namespaces: a new namespace pinned by a bind mount of its nsfs file.

netavark configures a namespace given by path, before the container's first process
exists, so the engine makes the namespace itself (as Podman does under
/run/netns): a short-lived thread unshares CLONE_NEWNET (namespaces are per thread;
no fork, which would be unsafe in the threaded orlopd) and bind-mounts its
``/proc/thread-self/ns/net`` onto an empty file.  The namespace then lives as long
as that mount (or a process in it) does.
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading

from orlop.kernel import libc
from orlop.kernel.flags import MNT_DETACH, CloneFlag, MountFlag


def create_netns(path: str) -> None:
    """Make a new network namespace and pin it at ``path`` (a new file).

    Raises OSError (the file exists: EEXIST, or the kernel's error)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    os.close(fd)
    failure: list[BaseException] = []

    def pin() -> None:
        try:
            libc.unshare(int(CloneFlag.NEWNET))
            libc.mount(f"/proc/self/task/{threading.get_native_id()}/ns/net", path, None,
                       MountFlag.BIND)
        except BaseException as err:  # reported to the caller's thread
            failure.append(err)

    worker = threading.Thread(target=pin, name="orlop-netns")
    worker.start()
    worker.join()
    if failure:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise failure[0]


def remove_netns(path: str) -> None:
    """Unpin and delete a namespace file; a missing one is not an error."""
    try:
        libc.umount2(path, MNT_DETACH)
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOENT):
            raise
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def is_netns_mount(path: str) -> bool:
    """Whether ``path`` is a pinned namespace (an nsfs file, not the empty placeholder)."""
    try:
        return os.stat(path).st_dev != os.stat(os.path.dirname(path) or ".").st_dev
    except OSError:
        return False
