#!/usr/bin/env python3
"""What a CLI verb imports, and what each import costs (``python3 -X importtime``).

    python3 bench/imports.py [--runs 7] [--top 30] -- volume ls

Runs the verb ``--runs`` times and keeps, per module, the smallest self time seen (on a
shared machine the minimum is the figure least disturbed by the other processes); prints
the sum over the modules imported after ``site`` (what Orlop's code pulls in), the count
of orlop modules, and the costliest modules.  The interpreter starts as the installed
``orlop`` command does (orlop/launcher.py: ``-S``, then site's paths without the .pth
files' code); ``site`` itself (and whatever it imports) is shown apart.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

_LAUNCH = ("from orlop.launcher import add_site_paths; add_site_paths(); "
           "from orlop.cli.main import run; run()")
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def profile(verb: list[str], root: str, env: dict[str, str]) -> tuple[dict[str, int], int]:
    # As the installed `orlop` starts (orlop/launcher.py): -S, then site's paths.
    res = subprocess.run([sys.executable, "-X", "importtime", "-S", "-c", _LAUNCH,
                          "--root", root, *verb], env=env, capture_output=True, text=True,
                         check=False)
    own: dict[str, int] = {}
    site = 0
    for line in res.stderr.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        if m[4] == "site" and len(m[3]) == 1:
            site = int(m[2])
            own.clear()  # everything before it belongs to site
            continue
        own[m[4]] = int(m[1])
    return own, site


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--root", default="")
    ap.add_argument("verb", nargs="+")
    a = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    root = a.root or tempfile.mkdtemp(prefix="orlop-imp-")
    best: dict[str, int] = {}
    sites = []
    for _ in range(a.runs):
        own, site = profile(a.verb, root, env)
        sites.append(site)
        for k, v in own.items():
            best[k] = min(v, best.get(k, v))
    total = sum(best.values())
    orlop = [k for k in best if k.startswith("orlop")]
    print(f"`orlop {' '.join(a.verb)}`: {len(best)} modules after site, {len(orlop)} of "
          f"orlop; imports {total / 1000:.1f} ms (min self times), orlop's own "
          f"{sum(best[k] for k in orlop) / 1000:.1f} ms; site {min(sites) / 1000:.1f} ms")
    for k, v in sorted(best.items(), key=lambda kv: -kv[1])[:a.top]:
        print(f"  {v / 1000:6.2f} ms  {k}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
