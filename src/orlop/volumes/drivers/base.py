"""The contract between the volume service and a driver.

As in moby's ``daemon/volume/volume.go`` the service owns names, metadata, references
and the atomic create/remove; a driver owns everything *inside* a volume's directory:
how it is laid out (the local driver's ``_data``, ``opts.json``, ``disk.img``), where
the data a container sees is, and how it is mounted and unmounted.  So the service never
joins a path below ``volumes/<name>``.  Every call gets an open directory fd of the
volume, never a path string, so a driver cannot be tricked into following a planted
symlink.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class VolumeDriver(Protocol):
    """What the service needs from a driver."""

    name: str

    def validate(self, options: Mapping[str, str] | None) -> None:
        """Refuse options this driver does not know (InvalidParameterError, without the
        ``create NAME:`` prefix the service adds)."""

    def create(self, volume_fd: int, name: str, options: Mapping[str, str] | None) -> None:
        """Populate a new, empty volume directory (its data directory and whatever the
        options need).  Called on a staging directory before it is renamed into place."""

    def read_options(self, volume_fd: int) -> dict[str, str] | None:
        """The options a volume directory records (to adopt a directory without a row)."""

    def adopt(self, volume_fd: int) -> dict[str, str] | None:
        """Make a volume directory found without a row usable (its data directory made
        if missing; OSError if that fails) and return the options it records (None when
        it records none or they cannot be read): reconcile's adoption."""

    def mountpoint(self, name: str) -> str:
        """The host path of the volume's data: what containers bind and ``inspect``
        shows as ``Mountpoint``.  A string (no ``Path``): listing 10,000 volumes builds
        one per volume."""

    def open_data(self, volume_fd: int) -> int:
        """An O_RDONLY directory fd of the volume's data, reached without following a
        symlink (copy-up, ``volume import``'s fill, sizes).  The caller closes it."""

    def disk_usage(self, volume_fd: int) -> int:
        """Bytes the volume takes: Docker's ``UsageData.Size`` (what ``volume inspect
        --size`` and ``prune`` report)."""

    def needs_mount(self, options: Mapping[str, str] | None) -> bool:
        """Whether the data directory must be mounted before a container can use it."""

    def is_mounted(self, volume_fd: int) -> bool:
        """Whether the volume's data directory is currently a mount point."""

    def mount(self, volume_fd: int, name: str, options: Mapping[str, str] | None) -> None:
        """Mount the volume on its data directory (only called when not mounted)."""

    def unmount(self, volume_fd: int, name: str) -> None:
        """Unmount the data directory (only called when mounted)."""
