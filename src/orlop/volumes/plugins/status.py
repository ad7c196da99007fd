"""What ``plugin ls`` shows of the legacy plugins discovery finds, and its wire shape.

Docker's ``plugin ls`` lists managed (v2) plugins only; Orlop has none, so it lists the
legacy ones Docker would use, in the shape of Docker's ``Plugin`` object so that
``GET /plugins`` and ``docker plugin ls`` through orlopd can show them:

* ``Id``: sha256 of the name and address (a legacy plugin has no id; this one is stable
  while the plugin stays where it is);
* ``Name``: the discovery name (no ``:latest``: legacy plugins have no tag);
* ``Enabled``: whether it answered ``/Plugin.Activate`` just now;
* ``Config.Description``: ``legacy plugin: <what it implements>`` or why it did not
  answer; ``Config.Interface``: ``Types`` (``docker.volumedriver/1.0`` for
  ``VolumeDriver``) and ``Socket`` (the address).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orlop.errors import OrlopError, PluginUnavailableError
from orlop.volumes.plugins.client import PluginClient
from orlop.volumes.plugins.discovery import PluginInfo, discover

# moby pkg/plugins: the Implements names and their plugin-v2 capability types.
TYPES = {"VolumeDriver": "docker.volumedriver/1.0", "NetworkDriver": "docker.networkdriver/1.0",
         "IpamDriver": "docker.ipamdriver/1.0", "authz": "docker.authz/1.0",
         "LogDriver": "docker.logdriver/1.0", "MetricsCollector": "docker.metricscollector/1.0"}
PROBE_TIMEOUT = 5.0


@dataclass(frozen=True)
class PluginStatus:
    """One discovered plugin and how it answered."""

    info: PluginInfo
    implements: tuple[str, ...]
    error: str = ""

    @property
    def enabled(self) -> bool:
        return not self.error

    @property
    def id(self) -> str:
        return hashlib.sha256(f"{self.info.name}\0{self.info.addr}".encode()).hexdigest()

    @property
    def description(self) -> str:
        if self.error:
            return f"legacy plugin, not answering: {self.error}"
        return f"legacy plugin: {', '.join(self.implements) or 'implements nothing'}"

    def capabilities(self) -> list[str]:
        """``volumedriver`` etc. (what ``plugin ls --filter capability=`` matches)."""
        return [TYPES.get(i, i).split(".", 1)[-1].split("/", 1)[0].lower()
                for i in self.implements]

    def to_wire(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Name": self.info.name,
            "Enabled": self.enabled,
            "PluginReference": "",
            "Settings": {"Mounts": [], "Env": [], "Args": [], "Devices": []},
            "Config": {
                "Description": self.description,
                "Documentation": "",
                "Interface": {"Types": [TYPES.get(i, i) for i in self.implements],
                              "Socket": self.info.addr},
                "Entrypoint": None, "WorkDir": "", "Env": None, "Args": None,
                "Linux": {"Capabilities": None, "AllowAllDevices": False, "Devices": None},
                "Mounts": None, "Network": {"Type": ""}, "PropagatedMount": "",
                "DockerVersion": "",
            },
        }


def probe(info: PluginInfo) -> PluginStatus:
    """Activate ``info`` once, without retries: how ``plugin ls`` sees it now."""
    if info.tls:
        return PluginStatus(info, (), "TLS plugins are not supported")
    try:
        answer = PluginClient(info.name, info.addr, timeout=PROBE_TIMEOUT).call(
            "Plugin.Activate", retry=False)
    except PluginUnavailableError as err:
        return PluginStatus(info, (), err.reason)
    except OrlopError as err:
        return PluginStatus(info, (), str(err))
    impl = answer.get("Implements") or []
    return PluginStatus(info, tuple(str(i) for i in impl if isinstance(i, str)))


def statuses(dirs: Sequence[Path]) -> list[PluginStatus]:
    """Every plugin found in ``dirs``, probed, by name."""
    return [probe(info) for info in discover(dirs)]


def match(status: PluginStatus, filters: dict[str, list[str]] | None) -> bool:
    """Docker's ``plugin ls`` filters: ``enabled=true|false``, ``capability=NAME``."""
    for key, values in (filters or {}).items():
        if key == "enabled":
            if not any((v.lower() in ("1", "true")) == status.enabled for v in values):
                return False
        elif key == "capability":
            caps = status.capabilities()
            if not any(v.lower() in caps for v in values):
                return False
    return True
