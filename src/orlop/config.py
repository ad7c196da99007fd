"""Where Orlop keeps its state: the root (persistent) and the run root (volatile)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = "/var/lib/orlop"
DEFAULT_RUN_ROOT = "/run/orlop"


@dataclass(frozen=True)
class EngineConfig:
    root: Path
    run_root: Path
    runtime: str = "orlop"  # "orlop" = the built-in runtime; else a name or path of an OCI runtime
    # Where Docker volume plugins are discovered (volumes/plugins/discovery.py): None is
    # Docker's /run/docker/plugins, /etc/docker/plugins, /usr/lib/docker/plugins;
    # ORLOP_PLUGIN_DIRS (":"-separated) replaces them, e.g. for tests.
    plugin_dirs: tuple[Path, ...] | None = None

    @classmethod
    def from_env(
        cls, root: str | None = None, run_root: str | None = None, runtime: str | None = None
    ) -> EngineConfig:
        """Flags win over ORLOP_* variables, which win over the defaults."""
        r = Path(os.path.abspath(root or os.environ.get("ORLOP_ROOT") or DEFAULT_ROOT))
        rr = run_root or os.environ.get("ORLOP_RUN_ROOT")
        if rr is None:
            # A private --root gets a private run root too, so that tests and several
            # engines on one host never share pid files or runtime state.
            rr = DEFAULT_RUN_ROOT if str(r) == DEFAULT_ROOT else str(r / "run")
        return cls(
            root=r,
            run_root=Path(os.path.abspath(rr)),
            runtime=runtime or os.environ.get("ORLOP_RUNTIME") or "orlop",
            plugin_dirs=_plugin_dirs(os.environ.get("ORLOP_PLUGIN_DIRS")),
        )

    @property
    def db_path(self) -> Path:
        return self.root / "orlop.db"

    @property
    def layers_dir(self) -> Path:
        return self.root / "layers"

    @property
    def containers_dir(self) -> Path:
        return self.root / "containers"

    @property
    def volumes_dir(self) -> Path:
        return self.root / "volumes"

    @property
    def tmp_dir(self) -> Path:
        """Staging area on the same filesystem as the store, so renames are atomic."""
        return self.root / "tmp"


def _plugin_dirs(value: str | None) -> tuple[Path, ...] | None:
    """``ORLOP_PLUGIN_DIRS`` as directories; None when unset (Docker's defaults)."""
    if value is None:
        return None
    return tuple(Path(os.path.abspath(p)) for p in value.split(":") if p)
