"""The services of the root the CLI or orlopd works on: roots prepared, state reconciled.

What the facade (engine/engine.py) is beside its verbs, in a module of its own so that
the CLI's volume verbs take it alone (issue 17: they import neither the facade nor the
container verbs), and so that the reconciliation it runs (engine/containers/reconcile.py,
which needs the services) does not tie services.py to the modules that import it.
"""

from __future__ import annotations

import os

from orlop.engine.services import Services
from orlop.errors import PermissionDeniedError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms)
if TYPE_CHECKING:
    from pathlib import Path

    from orlop.config import EngineConfig
    from orlop.state import Database


class RootServices(Services):
    """The roots prepared (made when missing, refused when not writable), and the state
    reconciled once, before the first verb that reads it (a container's monitor uses
    plain :class:`Services`, engine/services.py's ``open_services``)."""

    def __init__(self, config: EngineConfig, db: Database | None = None) -> None:
        """``db``: the store's connection to use (orlopd keeps one per worker thread),
        else one of its own."""
        from orlop.state import Database

        prepare_roots(config)
        super().__init__(config, db if db is not None else Database(config.db_path))
        self._reconciled = False

    def skip_reconcile(self) -> None:
        """For a container's own monitor: it must not take its container for dead."""
        self._reconciled = True

    def reconcile(self, force: bool = False) -> None:
        """Repair what a killed monitor or CLI left behind, once per engine (cheap when
        nothing is wrong); ``force``: again (engine/containers/reconcile.py)."""
        if self._reconciled and not force:
            return
        self._reconciled = True
        from orlop.engine.containers.reconcile import reconcile

        reconcile(self)

    def repair(self) -> None:
        """The full reconciliation, after a kill (engine/repair.py)."""
        from orlop.engine.containers.reconcile import repair

        repair(self)


def prepare_roots(config: EngineConfig) -> None:
    """Make the root (0710 as Docker's; repairs a root of an older Orlop) and the run
    root, or say why they cannot be used."""
    from orlop.state.layout import prepare_root

    for d in (config.root, config.run_root):
        try:
            if d == config.root:
                prepare_root(d)
            else:
                os.makedirs(d, mode=0o711, exist_ok=True)
        except OSError as err:
            raise PermissionDeniedError(
                f"cannot use {d} as the engine's root: {err.strerror}") from err
    if not os.access(config.root, os.W_OK) or _read_only_fs(config.root):
        raise PermissionDeniedError(
            f"cannot use {config.root} as the engine's root: not writable")


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False
