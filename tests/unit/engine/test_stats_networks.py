"""``networks`` of a stats object: /proc/PID/net/dev in moby's shape, ``lo`` left out."""

from __future__ import annotations

from orlop.engine.containers.stats import parse_net_dev

# /proc/net/dev's layout, columns narrowed: two heading lines, then "name: 16 counters".
NET_DEV = """\
Inter-|   Receive                          |  Transmit
 face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop ...
    lo: 100  2 0 0 0 0 0 0  100  2 0 0 0 0 0 0
  eth0: 1296 16 1 2 0 0 0 0 796 10 3 4 0 0 0 0
"""


def test_parse_net_dev_per_interface_without_lo() -> None:
    assert parse_net_dev(NET_DEV) == {"eth0": {
        "rx_bytes": 1296, "rx_packets": 16, "rx_errors": 1, "rx_dropped": 2,
        "tx_bytes": 796, "tx_packets": 10, "tx_errors": 3, "tx_dropped": 4}}
    assert parse_net_dev(NET_DEV.replace("eth0", "  lo")) == {}
