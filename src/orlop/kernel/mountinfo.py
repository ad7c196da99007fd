"""The mount table of this process's mount namespace (``/proc/self/mountinfo``)."""

from __future__ import annotations

import re

_ESCAPE = re.compile(r"\\([0-7]{3})")


def mount_points_under(path: str) -> list[str]:
    """Mount points at or below ``path``, deepest first (the order to unmount them)."""
    prefix = path.rstrip("/") + "/"
    out = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split(" ", 5)
            if len(fields) < 5:
                continue
            mp = _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), fields[4])
            if mp == path or mp.startswith(prefix):
                out.append(mp)
    return sorted(set(out), key=lambda p: p.count("/"), reverse=True)
