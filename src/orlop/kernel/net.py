"""The one network operation the runtime needs: bring up loopback in a new network namespace."""

from __future__ import annotations

import _socket  # socket's C part: socket.py would add enum classes and selectors (~3 ms)
import fcntl
import struct

from orlop.kernel.flags import IFF_UP, SIOCGIFFLAGS, SIOCSIFFLAGS

_IFREQ = "16sH22x"  # struct ifreq: char ifr_name[IFNAMSIZ]; short ifr_flags; union padded to 24


def interface_up(name: str = "lo") -> None:
    """Set IFF_UP on ``name`` with SIOCSIFFLAGS: no `ip` binary, no netlink, one socket."""
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    try:
        req = struct.pack(_IFREQ, name.encode(), 0)
        res = fcntl.ioctl(sock.fileno(), SIOCGIFFLAGS, req)
        flags = struct.unpack(_IFREQ, res)[1]
        if not flags & IFF_UP:
            fcntl.ioctl(sock.fileno(), SIOCSIFFLAGS, struct.pack(_IFREQ, name.encode(),
                                                                   flags | IFF_UP))
    finally:
        sock.close()
