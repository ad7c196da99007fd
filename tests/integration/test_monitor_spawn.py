"""A detached start from a process with other threads (orlopd's workers run a build's RUN
steps so) spawns its monitor from a fresh interpreter instead of forking: a fork copies
locks another thread may hold, and the forked monitor could wait on them forever."""

from __future__ import annotations

import subprocess
import sys

from harness import Orlop

SCRIPT = """
import os, sys, threading, time
from orlop.config import EngineConfig
from orlop.engine.engine import Engine

def no_fork():
    raise AssertionError("forked with other threads alive")

stop = threading.Event()
t = threading.Thread(target=stop.wait, daemon=True)
t.start()
os.fork = no_fork  # the spawn path must not fork in this process
e = Engine(EngineConfig.from_env(sys.argv[1]))
c = e.start_detached("spawned")
print(c.id)
"""


def test_start_detached_with_threads_spawns_the_monitor(bb: Orlop,
                                                        no_leftover_containers: None) -> None:
    bb.ok("create", "--name", "spawned", "--network", "none", "busybox", "sh", "-c",
          "echo from-spawned; sleep 30")
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(bb.root)], capture_output=True,
                         text=True, timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    assert bb.ok("inspect", "-f", "{{.State.Status}}", "spawned").strip() == "running"
    assert bb.ok("logs", "spawned") == "from-spawned\n"
