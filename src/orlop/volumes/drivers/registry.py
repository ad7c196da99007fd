"""Volume drivers by name (moby's ``volume/drivers`` store): the one place that says which
drivers exist, so the service asks for a driver by the name a volume records instead of
choosing one itself.

Orlop has one built-in driver, ``local``; it is also the *default*, the driver of a
directory that reconcile adopts (moby's adoption makes local volumes too).  Every other
name is a Docker volume plugin (drivers/plugin.py), found by Docker's discovery rules in
the engine's plugin directories (volumes/plugins/discovery.py) when first used, so a
plugin started after Orlop is seen by the next command.  The plugin driver's module is
imported when a plugin is first named or found (``volume create NAME`` with the local
driver never needs it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from orlop.errors import NotFoundError
from orlop.volumes.drivers.local import LocalDriver
from orlop.volumes.model import LOCAL_DRIVER

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from pathlib import Path
    from typing import TypeGuard

    from orlop.volumes.drivers.base import VolumeDriver
    from orlop.volumes.drivers.plugin import PluginDriver


class DriverRegistry:
    """name -> :class:`VolumeDriver`, with a default driver."""

    def __init__(self, drivers: Iterable[VolumeDriver], default: str = LOCAL_DRIVER,
                 plugin_dirs: Sequence[Path] | None = None) -> None:
        self._drivers = {d.name: d for d in drivers}
        self.default = self._drivers[default]
        self._plugin_dirs = None if plugin_dirs is None else tuple(plugin_dirs)
        self._plugins: dict[str, PluginDriver] = {}

    @property
    def plugin_dirs(self) -> tuple[Path, ...]:
        """Where plugins are looked for (None given: Docker's directories)."""
        if self._plugin_dirs is None:
            from orlop.volumes.plugins import discovery

            self._plugin_dirs = discovery.DOCKER_PLUGIN_DIRS
        return self._plugin_dirs

    @classmethod
    def builtin(cls, volumes_dir: Path,
                plugin_dirs: Sequence[Path] | None = None) -> DriverRegistry:
        """The drivers Orlop ships, for the volumes below ``volumes_dir``, and the
        plugins found in ``plugin_dirs`` (None: Docker's directories)."""
        return cls([LocalDriver(volumes_dir)], plugin_dirs=plugin_dirs)

    def plugin(self, name: str) -> PluginDriver:
        """The plugin driver ``name`` (found or not: its calls say so)."""
        drv = self._plugins.get(name)
        if drv is None:
            from orlop.volumes.drivers.plugin import PluginDriver
            from orlop.volumes.plugins import discovery

            dirs = self.plugin_dirs
            drv = self._plugins[name] = PluginDriver(
                name, lambda: discovery.find(dirs, name))
        return drv

    def plugins(self) -> list[PluginDriver]:
        """The plugins discovered now, by name."""
        from orlop.volumes.plugins import discovery

        return [self.plugin(info.name) for info in discovery.discover(self.plugin_dirs)]

    def is_plugin(self, drv: VolumeDriver | None) -> TypeGuard[PluginDriver]:
        """Whether ``drv`` (one this registry gave) is a plugin's: every driver that is
        not a built-in one is (what ``isinstance(drv, PluginDriver)`` tells, without
        importing that module for a local volume)."""
        return drv is not None and self._drivers.get(drv.name) is not drv

    def get(self, name: str) -> VolumeDriver | None:
        drv = self._drivers.get(name)
        if drv is not None:
            return drv
        return self.plugin(name) if name else None

    def lookup(self, name: str, verb: str, volume: str) -> VolumeDriver:
        """The driver ``name``, or NotFoundError in moby's words (``create v: error
        looking up volume plugin x: plugin "x" not found``)."""
        drv = self._drivers.get(name)
        if drv is None and name:
            from orlop.volumes.plugins import discovery

            if discovery.find(self.plugin_dirs, name) is not None:
                drv = self.plugin(name)
        if drv is None:
            raise NotFoundError(f"{verb} {volume}: error looking up volume plugin {name}: "
                                f'plugin "{name}" not found')
        return drv

    def layout(self, name: str) -> VolumeDriver:
        """The driver that knows the volume recorded with driver ``name``: a built-in
        one, or the plugin of that name (whether it runs now or not)."""
        drv = self._drivers.get(name)
        if drv is not None:
            return drv
        return self.plugin(name) if name else self.default

    def mountpoint(self, driver: str, name: str) -> str:
        """:meth:`VolumeDriver.mountpoint` of the volume ``name`` recorded with ``driver``."""
        return self.layout(driver).mountpoint(name)
