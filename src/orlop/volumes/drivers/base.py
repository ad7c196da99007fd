"""The contract between the volume service and a driver.

As in moby's ``daemon/volume/volume.go`` the service owns names, metadata, references
and the atomic create/remove; a driver only knows how to lay out a volume's directory
and how to mount and unmount it.  Every call gets an open directory fd of the volume,
never a path string, so a driver cannot be tricked into following a planted symlink.
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
        """Populate a new, empty volume directory (``_data`` and whatever the options
        need).  Called on a staging directory before it is renamed into place."""

    def read_options(self, volume_fd: int) -> dict[str, str] | None:
        """The options a volume directory records (to adopt a directory without a row)."""

    def needs_mount(self, options: Mapping[str, str] | None) -> bool:
        """Whether ``_data`` must be mounted before a container can use the volume."""

    def is_mounted(self, volume_fd: int) -> bool:
        """Whether the volume's ``_data`` is currently a mount point."""

    def mount(self, volume_fd: int, name: str, options: Mapping[str, str] | None) -> None:
        """Mount the volume on its ``_data`` (only called when not mounted)."""

    def unmount(self, volume_fd: int, name: str) -> None:
        """Unmount ``_data`` (only called when mounted)."""
