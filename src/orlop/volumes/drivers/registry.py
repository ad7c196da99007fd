"""Volume drivers by name (moby's ``volume/drivers`` store): the one place that says which
drivers exist, so the service asks for a driver by the name a volume records instead of
choosing one itself.

Orlop has one built-in driver, ``local``; it is also the *default*, the driver of a
directory that reconcile adopts (moby's adoption makes local volumes too), and the layout
of a row whose driver is unknown (no Orlop version wrote such a row, but a database can
be edited: its volume keeps the local paths it always had).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from orlop.errors import NotFoundError
from orlop.volumes.drivers.base import VolumeDriver
from orlop.volumes.drivers.local import LocalDriver
from orlop.volumes.model import LOCAL_DRIVER


class DriverRegistry:
    """name -> :class:`VolumeDriver`, with a default driver."""

    def __init__(self, drivers: Iterable[VolumeDriver], default: str = LOCAL_DRIVER) -> None:
        self._drivers = {d.name: d for d in drivers}
        self.default = self._drivers[default]

    @classmethod
    def builtin(cls, volumes_dir: Path) -> DriverRegistry:
        """The drivers Orlop ships, for the volumes below ``volumes_dir``."""
        return cls([LocalDriver(volumes_dir)])

    def get(self, name: str) -> VolumeDriver | None:
        return self._drivers.get(name)

    def lookup(self, name: str, verb: str, volume: str) -> VolumeDriver:
        """The driver ``name``, or NotFoundError in moby's words (``create v: error
        looking up volume plugin x: plugin "x" not found``)."""
        drv = self._drivers.get(name)
        if drv is None:
            raise NotFoundError(f"{verb} {volume}: error looking up volume plugin {name}: "
                                f'plugin "{name}" not found')
        return drv

    def layout(self, name: str) -> VolumeDriver:
        """The driver that knows the directory of a volume recorded with driver ``name``
        (the default one for an unknown name, see the module docstring)."""
        return self._drivers.get(name, self.default)

    def mountpoint(self, driver: str, name: str) -> str:
        """:meth:`VolumeDriver.mountpoint` of the volume ``name`` recorded with ``driver``."""
        return self.layout(driver).mountpoint(name)
