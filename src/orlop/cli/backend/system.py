"""System calls of the backends: ``/info``, ``/system/df`` and ``/version`` dicts (the
local side calls wire/system.py, as orlopd's routes do)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any

    from orlop.client import APIClient
    from orlop.engine import Engine


def client_version() -> dict[str, Any]:
    """The ``Client`` half of ``orlop version`` (this program)."""
    import platform  # not at import: 2-3 ms that every local command would pay

    from orlop import __version__
    from orlop.wire.version import API_VERSION, GOARCH

    return {"Version": __version__, "ApiVersion": API_VERSION, "GoVersion": "",
            "Os": "linux", "Arch": GOARCH.get(platform.machine(), platform.machine()),
            "PythonVersion": platform.python_version()}


class LocalSystem:
    engine: Engine

    def system_info(self) -> dict[str, Any]:
        from orlop.wire.system import info

        return info(self.engine)

    def system_df(self) -> dict[str, Any]:
        from orlop.wire.system import disk_usage

        return disk_usage(self.engine)

    def server_version(self) -> dict[str, Any]:
        from orlop.wire.system import version_info

        return version_info()


class RemoteSystem:
    api: APIClient

    def system_info(self) -> dict[str, Any]:
        return self.api.info()

    def system_df(self) -> dict[str, Any]:
        return self.api.df()

    def server_version(self) -> dict[str, Any]:
        return self.api.version()
