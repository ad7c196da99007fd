"""Helpers shared by the integration and compat suites (on sys.path through pytest's
``pythonpath = ["tests"]``): the mount table below a test's root, its cleanup, and the
busybox tarball every container test imports."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def mounts_under(path: str) -> list[str]:
    """Mount points at or below ``path`` in this process's mount namespace, deepest first."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == path or mp.startswith(path.rstrip("/") + "/"):
                out.append(mp)
    return sorted(out, key=lambda p: p.count("/"), reverse=True)


def unmount_all_under(path: str) -> None:
    """Lazily unmount everything below ``path`` (a test's leftovers), deepest first."""
    for _ in range(3):
        mps = mounts_under(path)
        if not mps:
            return
        for mp in mps:
            subprocess.run(["umount", "-l", mp], check=False, capture_output=True)


@contextmanager
def dir_with_submount(host: Path) -> Iterator[Path]:
    """``host`` (created) holding ``top.txt`` and a 1 MiB tmpfs at ``host/sub`` with
    ``in-sub.txt``, mounted in this (the host's) mount namespace so that an engine in
    another process sees it; unmounted on exit (the test's root cleanup would too)."""
    (host / "sub").mkdir(parents=True)
    (host / "top.txt").write_text("top\n")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "subtmpfs", str(host / "sub")],
                   check=True)
    try:
        (host / "sub" / "in-sub.txt").write_text("sub\n")
        yield host
    finally:
        subprocess.run(["umount", "-l", str(host / "sub")], check=False)


def busybox_tarball() -> Path:
    """The busybox rootfs tarball built from Debian's busybox-static (cached in .cache/)."""
    out = REPO / ".cache" / "busybox.tar"
    if not out.exists():
        subprocess.run(["bash", str(REPO / "scripts" / "build-busybox.sh"), str(out)],
                       check=True)
    return out
