"""`python -m orlop` runs the CLI, with the installed command's collector thresholds
(orlop/launcher.py says why)."""

import gc

from orlop.launcher import GC_THRESHOLDS

gc.set_threshold(*GC_THRESHOLDS)

from orlop.cli.main import run  # noqa: E402 (after the thresholds: its imports are most of it)

run()
