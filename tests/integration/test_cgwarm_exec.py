"""kernel/cgwarm.py for real: the warming thread moves nothing (the process stays in every
cgroup it was in), ends when told, and `exec` (which starts it) works as before."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.integration.conftest import Orlop

pytestmark = pytest.mark.root

SRC = Path(__file__).resolve().parents[2] / "src"

_PROBE = f"""
import os, sys, time
sys.path.insert(0, {str(SRC)!r})
from orlop.kernel import cgwarm
before = open("/proc/self/cgroup").read()
started = cgwarm.start()
time.sleep(0.1)
during = open("/proc/self/cgroup").read()
threads_during = len(os.listdir("/proc/self/task"))
cgwarm.stop()
deadline = time.monotonic() + 10  # its next wake-up: 4 ms, or a grace period still waited
while len(os.listdir("/proc/self/task")) > 1 and time.monotonic() < deadline:
    time.sleep(0.01)
print(started, before == during == open("/proc/self/cgroup").read(), threads_during,
      len(os.listdir("/proc/self/task")))
"""


def test_warming_moves_nothing_and_stops() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stderr == ""
    started, same, during, after = out.stdout.split()
    assert started == "True"  # this machine has a cgroupfs of its own to write to
    assert same == "True"
    assert (int(during), int(after)) == (2, 1)


def test_exec_joins_the_containers_cgroups(bb: Orlop) -> None:
    bb.ok("run", "-d", "--name", "warm", "--network", "none", "-m", "64m", "busybox",
          "sleep", "300")
    try:
        host = bb.ok("exec", "warm", "cat", "/proc/self/cgroup")
        init = bb.ok("exec", "warm", "cat", "/proc/1/cgroup")
        assert host == init and "memory:" in host
    finally:
        bb.ok("rm", "-f", "warm")
