"""New network namespaces held by a file descriptor, never by a mount.

netavark configures a namespace given by path, before the container's first process
exists.  A short-lived thread unshares CLONE_NEWNET (namespaces are per thread: no
fork, which would be unsafe in the threaded orlopd) and opens its own
``/proc/self/task/TID/ns/net``; the caller keeps that descriptor for as long as the
container runs (the foreground CLI, or the detached monitor across its execs), and
others name it ``/proc/PID/fd/FD``.  Nothing appears in the host's mount table, and a
killed holder leaves no pin behind: the kernel frees the namespace, its veth with it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from orlop.kernel import libc
from orlop.kernel.flags import CloneFlag


def new_netns_fd(stand_ins: Sequence[str] = ()) -> int:
    """A new network namespace's descriptor (O_CLOEXEC).

    ``stand_ins``: interface names to create in it as veth pairs (pyroute2), for
    netavark's teardown of a container whose namespace is gone: it deletes the
    container's interface before the bridge and the rules, and stops at a missing one.
    """
    result: list[int] = []
    failure: list[BaseException] = []

    def make() -> None:
        try:
            libc.unshare(int(CloneFlag.NEWNET))
            fd = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net",
                         os.O_RDONLY | os.O_CLOEXEC)
            result.append(fd)
            if stand_ins:
                from pyroute2 import IPRoute

                with IPRoute() as ipr:
                    for i, name in enumerate(stand_ins):
                        ipr.link("add", ifname=name, kind="veth", peer=f"orlsi{i}")
        except BaseException as err:  # reported in the caller's thread
            failure.append(err)

    worker = threading.Thread(target=make, name="orlop-netns")
    worker.start()
    worker.join()
    if failure:
        for fd in result:
            os.close(fd)
        raise failure[0]
    return result[0]


def quiesce(fd: int, names: Sequence[str]) -> None:
    """Take the interfaces ``names`` of the namespace ``fd`` down and drop their
    addresses, so that a namespace kept a little after its container (to keep the
    bridge for the next one) answers nothing, and its address can be handed out again.
    One ``ip -batch`` run by ``nsenter`` (a few ms; importing pyroute2 costs 200 ms of
    CPU, taken from the next container's start on a small machine)."""
    import subprocess

    script = "".join(f"link set dev {n} down\naddress flush dev {n}\n" for n in names)
    subprocess.run(["nsenter", f"--net=/proc/{os.getpid()}/fd/{fd}", "ip", "-force",
                    "-batch", "-"], input=script.encode(), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)


def add_addresses(netns: str, iface: str, cidrs: Sequence[str]) -> None:
    """Add ``cidrs`` (``ADDR/LEN``) to ``iface`` in the namespace at path ``netns``: an
    endpoint's link-local addresses (IPAMConfig.LinkLocalIPs), which libnetwork adds
    beside the network's address and netavark has no field for.  One ``ip -batch`` run
    by ``nsenter``, as ``quiesce``."""
    import subprocess

    if not cidrs:
        return
    script = "".join(f"address add {c} dev {iface}\n" for c in cidrs)
    res = subprocess.run(["nsenter", f"--net={netns}", "ip", "-batch", "-"],
                         input=script.encode(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, timeout=10, check=False)
    if res.returncode != 0:
        raise OSError(f"adding {', '.join(cidrs)} to {iface}: "
                      f"{res.stderr.decode(errors='replace').strip()}")
