"""Pseudo-terminals allocated in a given devpts instance, and passing an fd over a unix
socket (SCM_RIGHTS), as runc's console socket does.

A container's terminal must come from the container's own devpts (mounted with
``newinstance`` at its /dev/pts): a pty of the host's /dev/ptmx has no name inside the
container (ttyname fails, `tty` prints "not a tty"), while one of the container's
instance is /dev/pts/N there, as with Docker.
"""

from __future__ import annotations

import _socket  # socket's C part: socket.py would add its enum classes and selectors
import errno
import fcntl
import os
import stat
import struct

from orlop.kernel import libc
from orlop.kernel.flags import (
    RESOLVE_BENEATH,
    RESOLVE_IN_ROOT,
    RESOLVE_NO_MAGICLINKS,
    RESOLVE_NO_SYMLINKS,
)

# <asm-generic/ioctls.h>
TIOCSPTLCK = 0x40045431  # unlock the slave
TIOCGPTN = 0x80045430    # the pty's number N (/dev/pts/N)
TIOCGPTPEER = 0x5441     # open the slave from the master, no path lookup (Linux 4.13)
PTMX_RDEV = os.makedev(5, 2)


def open_pty_in(dir_fd: int, ptmx: str, *, in_root: bool = False) -> tuple[int, int, int]:
    """Open ``ptmx`` (a devpts instance's ptmx node) under ``dir_fd``; returns
    ``(master, slave, n)``, both close-on-exec, the slave not made a controlling tty.

    ``in_root``: resolve as if ``dir_fd`` were "/" (RESOLVE_IN_ROOT, for a container's
    root seen from the host); otherwise the path must stay beneath ``dir_fd``.  No
    symlink is followed, and the node must be a ptmx (a container could have put a
    fifo or another device there).
    """
    resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | (
        RESOLVE_IN_ROOT if in_root else RESOLVE_BENEATH)
    master = libc.openat2(dir_fd, ptmx, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK, resolve)
    try:
        st = os.fstat(master)
        if not stat.S_ISCHR(st.st_mode) or st.st_rdev != PTMX_RDEV:
            raise OSError(errno.ENOTTY, f"{ptmx} is not a ptmx device")
        os.set_blocking(master, True)
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        (n,) = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0" * 4))
        slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except BaseException:
        os.close(master)
        raise
    return master, slave, n


def send_fd(sock_fd: int, fd: int) -> None:
    """Send ``fd`` over the unix socket ``sock_fd`` (which stays open)."""
    sock = _socket.socket(fileno=sock_fd)
    try:  # what socket.send_fds sends: one byte, the fd in one SCM_RIGHTS message
        sock.sendmsg([b"\0"], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS,
                                 struct.pack("i", fd))])
    finally:
        sock.detach()


def recv_fd(sock_fd: int) -> int:
    """Receive one fd sent with :func:`send_fd` (close-on-exec); EOF is an error."""
    sock = _socket.socket(fileno=sock_fd)
    try:  # socket.recv_fds(sock, 1, 1, MSG_CMSG_CLOEXEC), as it parses the reply
        _msg, ancdata, _flags, _addr = sock.recvmsg(1, _socket.CMSG_LEN(struct.calcsize("i")),
                                                    _socket.MSG_CMSG_CLOEXEC)
    finally:
        sock.detach()
    fds: list[int] = [fd for level, kind, data in ancdata
           if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS
           for (fd,) in struct.iter_unpack("i", data[:len(data) - len(data) % 4])]
    if not fds:
        raise OSError(errno.EPIPE, "no terminal was received from the container")
    for extra in fds[1:]:
        os.close(extra)
    return fds[0]
