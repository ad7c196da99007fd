"""A Docker volume plugin as a volume driver (Docker's legacy plugin protocol:
``/Plugin.Activate``, ``/VolumeDriver.Create|Remove|Mount|Unmount|Path|Get|List|
Capabilities``).

The plugin owns the data and where it is mounted; the service still keeps a row and a
directory ``volumes/<name>`` per volume (its lock and the "directory is the truth"
bookkeeping work unchanged), holding only ``plugin.json``: the plugin's name and the
options, so that reconcile adopts a directory whose row was lost as the plugin volume it
is (:func:`recorded_plugin`), not as a local one.

References work as in Docker: every container that uses the volume gets its own
``VolumeDriver.Mount`` with a mount ID, and its own ``Unmount`` with the same ID when it
stops; the plugin counts them.  Orlop's mount ID is the container id (Docker generates
a random one per mount point and stores it in the container): it is stable across
processes without being stored, and one container mounts a volume once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from orlop.errors import (
    NotFoundError,
    PluginUnavailableError,
    SystemFailureError,
    UnsupportedError,
)
from orlop.volumes.fsutil import read_file, write_file
from orlop.volumes.plugins.discovery import PluginInfo

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any

    # http.client (and ssl through it) only when a plugin is called: `volume ls` of
    # local volumes never pays for it (tests/unit/cli/test_import_budget.py).
    from orlop.volumes.plugins.client import PluginClient

VOLUME_DRIVER = "VolumeDriver"
SCOPES = ("local", "global")
MARKER = "plugin.json"


def recorded_plugin(volume_fd: int) -> tuple[str, dict[str, str] | None] | None:
    """(plugin name, options) that a plugin volume's directory records, or None for a
    directory that is not a plugin volume's (or whose record cannot be read)."""
    try:
        raw = read_file(volume_fd, MARKER)
        doc = json.loads(raw) if raw is not None else None
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("Driver"), str):
        return None
    opts = doc.get("Options")
    options = {str(k): str(v) for k, v in opts.items()} if isinstance(opts, dict) else None
    return doc["Driver"], options


class PluginDriver:
    """One plugin, found by name when first used (see the module docstring)."""

    def __init__(self, name: str, find: Callable[[], PluginInfo | None]) -> None:
        self.name = name
        self._find = find
        self._client: PluginClient | None = None
        self._scope: str | None = None
        self._mountpoints: dict[str, str] = {}
        self._listed = False

    # --- the plugin ------------------------------------------------------------------

    def info(self) -> PluginInfo | None:
        """Where the plugin is (None when no socket or spec file names it)."""
        return self._find()

    def client(self, *, retry: bool = True) -> PluginClient:
        """The activated plugin; NotFoundError in moby's words when it is not found."""
        if self._client is not None:
            return self._client
        info = self._find()
        if info is None:
            raise NotFoundError(f"error looking up volume plugin {self.name}: "
                                f'plugin "{self.name}" not found')
        if info.tls:
            raise UnsupportedError(f'volume plugin "{self.name}" ({info.source}) asks for '
                                   "TLS, which Orlop's plugin client does not speak")
        from orlop.volumes.plugins.client import PluginClient

        client = PluginClient(self.name, info.addr)
        implements = client.call("Plugin.Activate", retry=retry).get("Implements") or []
        if VOLUME_DRIVER not in implements:
            raise SystemFailureError(f'plugin "{self.name}" is not a volume driver (it '
                                     f"implements {', '.join(map(str, implements)) or 'nothing'})")
        self._client = client
        return client

    def _call(self, method: str, body: dict[str, Any] | None = None, *,
              retry: bool = True) -> dict[str, Any]:
        return self.client(retry=retry).call(f"VolumeDriver.{method}", body, retry=retry)

    @property
    def scope(self) -> str:
        """``local`` or ``global`` from ``VolumeDriver.Capabilities`` (``local`` when the
        plugin has none, or says something else: Docker's rule)."""
        if self._scope is None:
            try:
                caps = self._call("Capabilities").get("Capabilities") or {}
                scope = caps.get("Scope") if isinstance(caps, dict) else None
            except SystemFailureError:
                scope = None  # plugins older than Docker 1.12 have no Capabilities
            self._scope = scope if scope in SCOPES else "local"
        return self._scope

    # --- the plugin's verbs ----------------------------------------------------------

    def get(self, name: str, *, retry: bool = True) -> dict[str, Any] | None:
        """``VolumeDriver.Get``: the plugin's volume object, or None when it has no such
        volume (any ``Err`` counts as that, as moby's lookupVolume; a plugin that does
        not answer raises)."""
        try:
            vol = self._call("Get", {"Name": name}, retry=retry).get("Volume")
        except PluginUnavailableError:
            raise  # we do not know
        except SystemFailureError:
            return None
        if not isinstance(vol, dict):
            return None
        self._remember(name, vol.get("Mountpoint"))
        return vol

    def list_volumes(self, *, retry: bool = True) -> list[dict[str, Any]]:
        """``VolumeDriver.List``: the plugin's volume objects."""
        vols = self._call("List", retry=retry).get("Volumes") or []
        out = [v for v in vols if isinstance(v, dict) and isinstance(v.get("Name"), str)]
        for v in out:
            self._remember(v["Name"], v.get("Mountpoint"))
        return out

    def remove(self, name: str) -> None:
        self._call("Remove", {"Name": name})
        self._mountpoints.pop(name, None)

    def attach(self, name: str, mount_id: str) -> str:
        """``VolumeDriver.Mount``: the host directory to bind into the container."""
        path = self._call("Mount", {"Name": name, "ID": mount_id}).get("Mountpoint")
        if not isinstance(path, str) or not path.startswith("/"):
            raise SystemFailureError(f'volume plugin "{self.name}": Mount of {name} gave no '
                                     f"absolute Mountpoint ({path!r})")
        self._remember(name, path)
        return path

    def detach(self, name: str, mount_id: str) -> None:
        """``VolumeDriver.Unmount`` of the mount ``mount_id`` made by :meth:`attach`."""
        self._call("Unmount", {"Name": name, "ID": mount_id})

    def path(self, name: str) -> str:
        path = self._call("Path", {"Name": name}).get("Mountpoint")
        return self._remember(name, path)

    def _remember(self, name: str, path: object) -> str:
        if isinstance(path, str) and path:
            self._mountpoints[name] = path
            return path
        return ""

    # --- VolumeDriver ----------------------------------------------------------------

    def validate(self, options: Mapping[str, str] | None) -> None:
        """Nothing to check here: the plugin validates its options in Create."""

    def create(self, volume_fd: int, name: str, options: Mapping[str, str] | None) -> None:
        """Docker's order: ``Get`` first, ``Create`` only when the plugin has no such
        volume (another host, or another Orlop root, may have made it)."""
        if self.get(name) is None:
            self._call("Create", {"Name": name, "Opts": dict(options or {})})
            self.get(name)
        write_file(volume_fd, MARKER, json.dumps(
            {"Driver": self.name, "Options": dict(options) if options is not None else None},
            sort_keys=True).encode(), 0o600)

    def read_options(self, volume_fd: int) -> dict[str, str] | None:
        found = recorded_plugin(volume_fd)
        return found[1] if found is not None else None

    def adopt(self, volume_fd: int) -> dict[str, str] | None:
        return self.read_options(volume_fd)

    def mountpoint(self, name: str) -> str:
        """The path the plugin last reported (from Get, List, Path or Mount).  A cache
        miss asks ``List`` once per process, so listing many plugin volumes costs one
        call; a plugin that does not answer gives "" (moby's adapter does the same)."""
        path = self._mountpoints.get(name)
        if path is None and not self._listed:
            self._listed = True
            try:
                self.list_volumes(retry=False)
            except (SystemFailureError, NotFoundError, UnsupportedError):
                pass
            path = self._mountpoints.get(name)
        return path or ""

    def open_data(self, volume_fd: int) -> int:
        raise UnsupportedError(
            f"the data of a volume of plugin {self.name} is not on this host's volume "
            "store: use it from a container (or the plugin's own tools)")

    def disk_usage(self, volume_fd: int) -> int:
        """-1, Docker's "not available": sizes are only counted for local volumes."""
        return -1

    def needs_mount(self, options: Mapping[str, str] | None) -> bool:
        return True

    def is_mounted(self, volume_fd: int) -> bool:
        return False  # the plugin keeps its own mounts and counts

    def mount(self, volume_fd: int, name: str, options: Mapping[str, str] | None) -> None:
        raise SystemFailureError(f"volume {name}: plugin volumes are mounted per reference")

    def unmount(self, volume_fd: int, name: str) -> None:
        """Nothing: the plugin unmounts when its last mount ID is released."""

