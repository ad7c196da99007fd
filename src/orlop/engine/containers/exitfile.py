"""The exit code of a container that removed itself, kept for `wait` in the run root.

An --rm container is removed by its monitor (the detached monitor, or the process that
ran it in the foreground) as soon as it ends, so a `wait` that learns of the end from the
container's lock finds no record to read the code from: the monitor writes it to
``<run root>/containers/<id>.exit`` first.  Files older than :data:`EXIT_FILE_TTL_S` are
swept when one is written, at most once every :data:`SWEEP_INTERVAL_S` (a sweep stats
every ``.exit`` file: ~1 ms with a thousand, which a loop of `run --rm` leaves in a
minute), and by the repair, so they never pile up.  A small module of its own: the
foreground `run --rm` writes one and must not import the repair for it.
"""

from __future__ import annotations

import contextlib
import os
import time

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from pathlib import Path

    from orlop.config import EngineConfig

# How long the exit code of a container that is gone is kept for `wait` (an --rm
# container is removed by its monitor as soon as it ends; `wait` reads the code after).
EXIT_FILE_TTL_S = 60.0
SWEEP_INTERVAL_S = 10.0
# Its mtime is the last sweep's; named as an exit file, it is one for the sweeps (kept
# while fresh, removed once old) and for what lists the run root, never a container's.
_SWEEP_STAMP = ".sweep.exit"


def write_exit_file(config: EngineConfig, cid: str, code: int) -> None:
    """For `wait` on a container that --rm removes as soon as it ends."""
    path = config.run_root / "containers" / f"{cid}.exit"
    with contextlib.suppress(OSError):
        path.write_text(str(code))
    stamp = path.parent / _SWEEP_STAMP
    try:
        if time.time() - os.stat(stamp).st_mtime < SWEEP_INTERVAL_S:
            return
    except FileNotFoundError:
        pass
    with contextlib.suppress(OSError):
        stamp.touch()
    sweep_exit_files(path.parent)


def sweep_exit_files(d: Path, names: list[str] | None = None) -> None:
    """``.exit`` files older than :data:`EXIT_FILE_TTL_S` (the monitor calls this when
    it writes one, so they never pile up).  `wait` reads one only once the container's
    record is gone, which its monitor removed right before writing it."""
    if names is None:
        try:
            names = os.listdir(d)
        except FileNotFoundError:
            return
    now = time.time()
    for name in names:
        if name.endswith(".exit"):
            with contextlib.suppress(FileNotFoundError):
                if now - os.lstat(d / name).st_mtime > EXIT_FILE_TTL_S:
                    os.unlink(d / name)
