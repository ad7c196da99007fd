"""Docker's ``local`` driver: ``<root>/volumes/<name>/_data``, options in ``opts.json``.

Options are Docker's (``type``, ``device``, ``o``: mount(2) of ``device`` on ``_data``
with filesystem type ``type``; ``o=bind`` binds a host directory) plus Orlop's ``size``:
a quota-limited volume backed by a sparse ext4 image ``disk.img`` in the volume
directory, loop-mounted on ``_data`` while containers use it.  Docker's ``size`` needs
XFS project quotas on the store; Orlop's works on any filesystem that has sparse files.

The mount happens when the first container uses the volume and goes when the last one
stops (the service counts); a volume without options is a plain directory and is never
mounted.  Targets are always ``/proc/self/fd/N`` of an fd opened with O_NOFOLLOW from
the volume directory fd, never a path re-walked by the kernel.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from contextlib import suppress

from orlop.errors import InvalidParameterError, SystemFailureError
from orlop.volumes.fsutil import is_mountpoint, open_dir, read_file, tree_size, write_file

# What only sizes, mounts and size= images need (orlop.units, the kernel's mount and
# loop calls with ctypes and the flag enums, shutil) is imported where it is used:
# `volume create NAME`, `ls` and `inspect` of plain volumes never need it (issue 17).
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from pathlib import Path

    from orlop.volumes.drivers.mountopts import DriverMountOptions

DATA_DIR = "_data"
OPTS_FILE = "opts.json"
DISK_IMAGE = "disk.img"

VALID_OPTS = ("type", "device", "o", "size")
# moby local_unix.go mandatoryOpts: an option that needs others.
MANDATORY_OPTS: dict[str, tuple[str, ...]] = {
    "device": ("type",), "type": ("device",), "o": ("device", "type"),
}
MIN_SIZE = 1 << 20  # smaller ext4 images are refused by mkfs.ext4 or useless


class LocalDriver:
    """The ``local`` volume driver (see the module docstring)."""

    name = "local"

    def __init__(self, volumes_dir: Path) -> None:
        self.volumes_dir = volumes_dir
        self._volumes_dir_str = str(volumes_dir)

    # --- options -------------------------------------------------------------------

    def validate(self, options: Mapping[str, str] | None) -> None:
        """Docker's checks and texts (``invalid option: "foo"``, ``missing required
        option: "type"``), then Orlop's for ``size``."""
        if not options:
            return
        for key in sorted(options):
            if key not in VALID_OPTS:
                raise InvalidParameterError(f'invalid option: "{key}"')
        if "size" in options:
            for other in ("type", "device"):
                if other in options:
                    raise InvalidParameterError(
                        f'invalid option: "size" cannot be combined with "{other}" '
                        "(size makes an ext4 image volume of its own)")
            from orlop.units import ram_in_bytes

            try:
                size = ram_in_bytes(options["size"].strip())
            except ValueError as err:
                raise InvalidParameterError(f'invalid option: "size": {err}') from None
            if size < MIN_SIZE:
                raise InvalidParameterError(
                    f'invalid option: "size": {options["size"]} is below the minimum of 1MiB')
            return
        for key in sorted(MANDATORY_OPTS):
            if key in options:
                for needed in MANDATORY_OPTS[key]:
                    if needed not in options:
                        raise InvalidParameterError(f'missing required option: "{needed}"')

    def needs_mount(self, options: Mapping[str, str] | None) -> bool:
        if not options:
            return False
        return "size" in options or "type" in options

    # --- layout --------------------------------------------------------------------

    def create(self, volume_fd: int, name: str, options: Mapping[str, str] | None) -> None:
        os.mkdir(DATA_DIR, 0o755, dir_fd=volume_fd)
        with _DirFd(DATA_DIR, volume_fd) as data_fd:
            os.fchmod(data_fd, 0o755)  # not subject to the umask, as Docker's _data
        if not options:
            return
        import json

        # opts.json keeps the options with the data: the directory is the truth if the
        # database row is ever lost (reconcile adopts the directory with its options).
        write_file(volume_fd, OPTS_FILE,
                   json.dumps(dict(options), sort_keys=True).encode(), 0o600)
        if "size" in options:
            from orlop.units import ram_in_bytes

            self._make_image(volume_fd, name, ram_in_bytes(options["size"].strip()))

    def _make_image(self, volume_fd: int, name: str, size: int) -> None:
        fd = os.open(DISK_IMAGE, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                     | os.O_CLOEXEC, 0o600, dir_fd=volume_fd)
        try:
            os.ftruncate(fd, size)  # sparse: costs nothing until written
            path = f"/proc/self/fd/{fd}"
            # -m 0: the volume's owner gets the whole size; nodiscard: nothing to discard
            # on a new sparse file, and it keeps mkfs fast.
            _run(["mkfs.ext4", "-q", "-F", "-m", "0", "-E", "nodiscard,root_owner=0:0",
                  path], fd, name)
            # An empty volume must *be* empty for Docker's copy-up rule ("copy when the
            # volume is empty"), so lost+found goes.
            _run(["debugfs", "-w", "-R", "rmdir lost+found", path], fd, name)
            os.fsync(fd)
        finally:
            os.close(fd)

    def read_options(self, volume_fd: int) -> dict[str, str] | None:
        """The options recorded in a volume directory (for adoption by reconcile)."""
        import json

        raw = read_file(volume_fd, OPTS_FILE)
        if raw is None:
            return None
        value = json.loads(raw)
        if not isinstance(value, dict):
            return None
        return {str(k): str(v) for k, v in value.items()}

    def adopt(self, volume_fd: int) -> dict[str, str] | None:
        try:
            options = self.read_options(volume_fd)
        except (OSError, ValueError):
            options = None
        with suppress(FileExistsError):
            os.mkdir(DATA_DIR, 0o755, dir_fd=volume_fd)
        return options

    def mountpoint(self, name: str) -> str:
        # One string from one f-string: two Path "/" joins per volume cost 40 ms when
        # listing 10,000 volumes.
        return f"{self._volumes_dir_str}/{name}/{DATA_DIR}"

    def open_data(self, volume_fd: int) -> int:
        return open_dir(DATA_DIR, volume_fd)

    def disk_usage(self, volume_fd: int) -> int:
        """The apparent size of the files below ``_data`` (symlinks not followed, hard
        links counted once); for a size= volume that is not mounted, plus the space its
        image file takes on disk."""
        size = 0
        if not self.is_mounted(volume_fd):
            with suppress(FileNotFoundError):
                st = os.stat(DISK_IMAGE, dir_fd=volume_fd, follow_symlinks=False)
                if stat.S_ISREG(st.st_mode):
                    size += st.st_blocks * 512
        with _DirFd(DATA_DIR, volume_fd) as data_fd:
            return size + tree_size(data_fd)

    # --- mount ---------------------------------------------------------------------

    def is_mounted(self, volume_fd: int) -> bool:
        return is_mountpoint(volume_fd, DATA_DIR)

    def mount(self, volume_fd: int, name: str, options: Mapping[str, str] | None) -> None:
        if not options:
            return
        target_path = str(self.volumes_dir / name / DATA_DIR)  # for messages only
        from orlop.kernel.flags import MountFlag
        from orlop.volumes.drivers.mountopts import parse_driver_options  # only here

        mo = parse_driver_options(options.get("o", ""))
        with _DirFd(DATA_DIR, volume_fd, os.O_PATH) as data_fd:
            target = f"/proc/self/fd/{data_fd}"
            if "size" in options:
                img = os.open(DISK_IMAGE, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC,
                              dir_fd=volume_fd)
                try:
                    self._mount_loop(img, "ext4", target, target_path, mo, DISK_IMAGE)
                finally:
                    os.close(img)
            else:
                self._mount_device(options["type"], options["device"], target, target_path,
                                   mo)
        if mo.propagation or (mo.flags & MountFlag.BIND and mo.flags & ~(
                MountFlag.BIND | MountFlag.REC)):
            self._remount(volume_fd, mo, target_path)

    def _mount_device(self, fstype: str, device: str, target: str, target_path: str,
                      mo: DriverMountOptions) -> None:
        from orlop.kernel.flags import MountFlag

        if mo.flags & MountFlag.BIND:
            # Bind a host directory.  A missing source is refused with Docker's text
            # rather than letting mount(2) fail later with a bare ENOENT.
            if not os.path.exists(device):
                raise _mount_error(device, target_path, mo, errno.ENOENT)
            self._call_mount(device, target, None, mo.flags & (MountFlag.BIND | MountFlag.REC),
                             None, target_path, mo)
            return
        try:
            st = os.stat(device)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISREG(st.st_mode):
            # A filesystem image: loop-mount it, as mount(8) would with -o loop.
            read_only = bool(mo.flags & MountFlag.RDONLY)
            img = os.open(device, (os.O_RDONLY if read_only else os.O_RDWR) | os.O_CLOEXEC)
            try:
                self._mount_loop(img, fstype, target, target_path, mo, device)
            finally:
                os.close(img)
            return
        self._call_mount(device, target, fstype, mo.flags, mo.data or None, target_path, mo)

    def _mount_loop(self, img_fd: int, fstype: str, target: str, target_path: str,
                    mo: DriverMountOptions, device: str) -> None:
        from orlop.kernel import loop
        from orlop.kernel.flags import MountFlag

        read_only = bool(mo.flags & MountFlag.RDONLY)
        try:
            lfd, dev = loop.attach(img_fd, read_only=read_only)
        except OSError as err:
            raise SystemFailureError(
                f"error while mounting volume '{target_path}': cannot attach {device} to a "
                f"loop device: {os.strerror(err.errno or 0).lower()}") from err
        try:
            # On failure the loop fd's close detaches the device (autoclear).
            self._call_mount(dev, target, fstype, mo.flags, mo.data or None, target_path, mo)
        finally:
            os.close(lfd)

    def _call_mount(self, source: str, target: str, fstype: str | None, flags: int,
                    data: str | None, target_path: str, mo: DriverMountOptions) -> None:
        from orlop.kernel import fs

        try:
            fs.mount(source, target, fstype, flags, data)
        except OSError as err:
            raise _mount_error(source, target_path, mo, err.errno or errno.EIO) from err

    def _remount(self, volume_fd: int, mo: DriverMountOptions, target_path: str) -> None:
        """Flags of a bind mount and any propagation need a second mount(2) call, made
        on a *re-opened* fd: the fd used as the target still names the directory under
        the new mount, and remounting that would change the store's own filesystem."""
        from orlop.kernel import fs
        from orlop.kernel.flags import MNT_DETACH, MountFlag

        with _DirFd(DATA_DIR, volume_fd, os.O_PATH) as top:
            target = f"/proc/self/fd/{top}"
            try:
                if mo.flags & MountFlag.BIND and mo.flags & ~(MountFlag.BIND | MountFlag.REC):
                    fs.mount(None, target, None,
                               MountFlag.REMOUNT | MountFlag.BIND
                               | (mo.flags & ~(MountFlag.BIND | MountFlag.REC)), None)
                if mo.propagation:
                    fs.mount(None, target, None, mo.propagation, None)
            except OSError as err:
                fs.umount2(target, MNT_DETACH)
                raise _mount_error("none", target_path, mo, err.errno or errno.EIO) from err

    def unmount(self, volume_fd: int, name: str) -> None:
        """Detach the mount on ``_data``; the kernel frees it (and an autoclear loop
        device) once the last open file on it is closed."""
        from orlop.kernel import fs
        from orlop.kernel.flags import MNT_DETACH

        with _DirFd(DATA_DIR, volume_fd, os.O_PATH) as top:
            try:
                fs.umount2(f"/proc/self/fd/{top}", MNT_DETACH)
            except OSError as err:
                raise SystemFailureError(
                    f"error while unmounting volume '{self.volumes_dir / name / DATA_DIR}': "
                    f"{os.strerror(err.errno or 0).lower()}") from err


class _DirFd:
    """``with _DirFd(name, dir_fd) as fd``: a no-follow directory fd, always closed."""

    def __init__(self, name: str, dir_fd: int, flags: int = os.O_RDONLY) -> None:
        self.fd = open_dir(name, dir_fd, flags)

    def __enter__(self) -> int:
        return self.fd

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def _mount_error(source: str, target_path: str, mo: DriverMountOptions, err: int
                 ) -> SystemFailureError:
    """Docker's text: ``error while mounting volume '<path>': failed to mount local
    volume: mount <src>:<path>, flags: 0x1000: no such file or directory``."""
    detail = f"mount {source}:{target_path}"
    if int(mo.flags):
        detail += f", flags: {int(mo.flags):#x}"
    if mo.data:
        detail += f", data: {mo.data}"
    return SystemFailureError(
        f"error while mounting volume '{target_path}': failed to mount local volume: "
        f"{detail}: {os.strerror(err).lower()}")


def _run(argv: list[str], fd: int, name: str) -> None:
    import shutil  # with zlib, bz2, lzma: for size= volumes only

    if shutil.which(argv[0]) is None:
        raise SystemFailureError(f"create {name}: {argv[0]} is needed for size= volumes but "
                                 "is not installed (package e2fsprogs)")
    import subprocess  # 2 ms of imports, for size= volumes only

    proc = subprocess.run(argv, pass_fds=(fd,), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemFailureError(
            f"create {name}: {argv[0]} failed: {(proc.stderr or proc.stdout).strip()}")
