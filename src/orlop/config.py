"""Where Orlop keeps its state: the root (persistent) and the run root (volatile)."""

from __future__ import annotations

import os
import sys


def _import_pathlib() -> None:
    """Import ``pathlib`` without ``urllib.parse`` (with ``ipaddress``: ~2 ms of every
    command but ``--help``; issue 17).

    Python 3.11's ``pathlib`` imports ``urllib.parse`` at its start for one function,
    ``quote_from_bytes``, which only ``Path.as_uri()`` calls.  While ``pathlib`` is
    imported, ``urllib.parse`` is a stand-in whose ``quote_from_bytes`` imports the real
    module when first called; the stand-in is gone from ``sys.modules`` right after, so
    that any ``import urllib.parse`` gets the real one.  Where either is imported
    already, or a ``pathlib`` wants more of the stand-in, it is imported as always."""
    if "pathlib" in sys.modules or "urllib.parse" in sys.modules:
        return
    import types

    def quote_from_bytes(bs: bytes, safe: object = "/") -> str:
        from urllib.parse import quote_from_bytes as real

        return real(bs, safe)  # type: ignore[arg-type]

    stand_in = types.ModuleType("urllib.parse")
    stand_in.quote_from_bytes = quote_from_bytes  # type: ignore[attr-defined]
    sys.modules["urllib.parse"] = stand_in
    try:
        import pathlib  # noqa: F401
    except ImportError:
        pass  # it wanted more of urllib.parse: imported below, as always
    finally:
        if sys.modules.get("urllib.parse") is stand_in:
            del sys.modules["urllib.parse"]


_import_pathlib()

from pathlib import Path  # noqa: E402 (after the stand-in's import)

DEFAULT_ROOT = "/var/lib/orlop"
DEFAULT_RUN_ROOT = "/run/orlop"


class EngineConfig:
    """The roots and the runtime of one engine; immutable.

    A hand-written class, not a frozen dataclass: every CLI verb (``orlop --help`` too)
    imports this module, and ``dataclasses`` (with ``inspect``) costs ~5 ms at start-up."""

    __slots__ = ("plugin_dirs", "root", "run_root", "runtime")
    root: Path
    run_root: Path
    runtime: str  # "orlop" = the built-in runtime; else a name or path of an OCI runtime
    # Where Docker volume plugins are discovered (volumes/plugins/discovery.py): None is
    # Docker's /run/docker/plugins, /etc/docker/plugins, /usr/lib/docker/plugins;
    # ORLOP_PLUGIN_DIRS (":"-separated) replaces them, e.g. for tests.
    plugin_dirs: tuple[Path, ...] | None

    def __init__(self, root: Path, run_root: Path, runtime: str = "orlop",
                 plugin_dirs: tuple[Path, ...] | None = None) -> None:
        object.__setattr__(self, "root", root)
        object.__setattr__(self, "run_root", run_root)
        object.__setattr__(self, "runtime", runtime)
        object.__setattr__(self, "plugin_dirs", plugin_dirs)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def _key(self) -> tuple[Path, Path, str, tuple[Path, ...] | None]:
        return (self.root, self.run_root, self.runtime, self.plugin_dirs)

    def __eq__(self, other: object) -> bool:
        return type(other) is EngineConfig and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"EngineConfig(root={self.root!r}, run_root={self.run_root!r}, "
                f"runtime={self.runtime!r}, plugin_dirs={self.plugin_dirs!r})")

    def __reduce__(self) -> tuple[type[EngineConfig],
                                  tuple[Path, Path, str, tuple[Path, ...] | None]]:
        return (EngineConfig, self._key())

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


def env_number(name: str, default: float, low: float, high: float) -> float:
    """A numeric ``$name`` clamped to [low, high]; ``default`` when unset or not a number
    (the network tunables: ORLOP_NET_LINGER, ORLOP_NET_POOL, ORLOP_NET_POOL_IDLE)."""
    raw = os.environ.get(name)
    try:
        return default if raw is None else min(max(float(raw), low), high)
    except ValueError:
        return default
