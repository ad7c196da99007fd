"""Reconcile's look at ``RUNROOT/netns``: whose network set-up outlived its process.

Every command of a root that has run a bridge container passes here; only an abandoned
set-up needs engine/net/setup.py (with the network models and netavark's plumbing), so
the scan imports nothing of it until it finds one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from orlop.config import EngineConfig


def sweep(config: EngineConfig, abandoned: Callable[[str], bool]) -> None:
    """Tear down the network of every container whose starter or monitor holds its lock
    no more (killed CLI, monitor or orlopd)."""
    ns_dir = os.path.join(config.run_root, "netns")  # engine/net/setup.py's netns_dir
    try:
        names = os.listdir(ns_dir)
    except FileNotFoundError:
        return
    for name in names:  # a teardown whose process died: claim it again
        parts = name.split(".")
        if len(parts) == 3 and parts[2] == "teardown" and parts[1].isdigit() \
                and not os.path.exists(f"/proc/{parts[1]}"):
            with contextlib.suppress(OSError):
                os.rename(os.path.join(ns_dir, name), os.path.join(ns_dir, f"{parts[0]}.json"))
    ids = {n.split(".")[0] for n in names if n.endswith((".json", ".teardown"))}
    for cid in ids:
        if len(cid) == 64 and abandoned(cid):
            from orlop.engine.net.setup import detach

            detach(config, cid)
