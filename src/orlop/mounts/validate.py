"""The one validation path for mount requests, with Docker's error texts.

Every source of mounts (``-v``, ``--mount``, ``--tmpfs``, an API ``Mount`` object)
ends up here, as in moby's ``daemon/volume/mounts/linux_parser.go`` where
``ParseMountRaw`` and ``ParseMountSpec`` funnel into the same
``validateMountConfigImpl``.  The texts are moby's (``validate.go``:
``errMountConfig``, ``errMissingField``, ``errExtraField``), so scripts that grep
Docker's errors keep working.  Nothing here does I/O.
"""

from __future__ import annotations

import posixpath

from orlop.errors import InvalidMountError
from orlop.kernel.procmounts import proc_mount_error

# Re-exported: the mount code and Docker-text writers take Go's %q from here.
from orlop.mounts.volname import go_quote as go_quote

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Final

    from orlop.mounts.spec import MountSpec

PROPAGATION_MODES: Final = frozenset(
    {"private", "rprivate", "shared", "rshared", "slave", "rslave"})
RW_MODES: Final = frozenset({"ro", "rw"})
LABEL_MODES: Final = frozenset({"z", "Z"})  # SELinux relabel; accepted and only recorded
COPY_MODES: Final = frozenset({"nocopy"})
CONSISTENCY_MODES: Final = frozenset({"consistent", "cached", "delegated"})  # macOS only
OWNER_MODES: Final = frozenset({"U"})  # Podman's: chown the source to the container's user


def check_no_nul(what: str, value: str) -> None:
    """Refuse a NUL byte: C strings would silently cut the path short at the kernel.

    Docker has no text for this (Go strings carry NUL and the syscall fails later with
    EINVAL); Orlop refuses it up front and names the field.
    """
    if "\x00" in value:
        raise InvalidMountError(f"invalid {what} {go_quote(value)}: contains a NUL byte")


def clean_target(path: str) -> str:
    """Clean a container path as Go's ``path.Clean``: ``/x/`` -> ``/x``, ``/a/../b`` -> ``/b``.

    ``posixpath.normpath`` keeps a leading ``//`` (POSIX allows it a special meaning);
    Go's Clean does not, and neither does the kernel for us, so it is folded here.
    """
    check_no_nul("mount path", path)
    if path == "":
        return "."
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def validate_absolute(path: str) -> None:
    """moby ``linuxValidateAbsolute``."""
    if not posixpath.isabs(path):
        raise InvalidMountError(f"invalid mount path: '{path}' mount path must be absolute")


def validate_not_root(path: str) -> None:
    """moby ``linuxValidateNotRoot``: mounting over the container's root is never allowed."""
    if clean_target(path.replace("\\", "/")) == "/":
        raise InvalidMountError("invalid specification: destination can't be '/'")


def validate_container_path(path: str) -> None:
    """The destination checks shared by every mount type (not-root, then absolute)."""
    check_no_nul("mount path", path)
    validate_not_root(path)
    validate_absolute(path)


def is_within(path: str, top: str) -> bool:
    """``path`` (cleaned) is ``top`` or below it, component-wise (``/procx`` is not)."""
    return top == "/" or path == top or path.startswith(top + "/")


def validate_not_over_procfs(mount_type: str, target: str) -> None:
    """Refuse a mount that would replace or cover part of the container's procfs.

    A volume, bind or tmpfs on ``/proc`` replaces procfs, and the masked and read-only
    ``/proc`` paths then protect nothing (the CVE-2019-16884 / CVE-2019-19921 class:
    a fake /proc defeats the LSM and mask checks).  Docker accepts the request and runc
    refuses it at start (``checkProcMount``); Orlop refuses it up front, with runc's
    texts (``orlop.kernel.procmounts``, which the runtime applies again).

    Raises:
        InvalidMountError: ``"/proc" cannot be mounted because it is not of type proc``
            or ``"/proc/x" cannot be mounted because it is inside /proc``.
    """
    message = proc_mount_error(clean_target(target), is_proc=False,
                               is_bind=mount_type == "bind")
    if message is not None:
        raise InvalidMountError(message)


def validate_image_volume_target(target: str) -> None:
    """An image's ``VOLUME`` may not be at or under ``/proc`` or ``/sys``.

    An image is untrusted input: ``VOLUME /proc`` would put an empty volume where
    procfs belongs (and the masks onto it), ``VOLUME /sys/...`` covers kernel
    interfaces.  Docker creates the volume and runc then fails the start (for /proc;
    for /sys when the directory must be created in read-only sysfs); Orlop refuses the
    image's volume when the container is created, naming it.

    Raises:
        InvalidMountError: ``invalid image volume '/proc': ...``.
    """
    cleaned = clean_target(target)
    for top, fs in (("/proc", "procfs"), ("/sys", "sysfs")):
        if is_within(cleaned, top):
            raise InvalidMountError(
                f"invalid image volume '{target}': a volume cannot be mounted on {top} "
                f"or under it ({fs} is the kernel's, never an image's)")


def bind_daemon_root_propagation(spec: MountSpec, source: str, root: str) -> str:
    """The propagation a bind must use when its source is, holds or lies in the engine root.

    moby ``validateBindDaemonRoot``: a container holding a private copy of a mount that
    lives in the root (a volume's mount, a container's rootfs or subpath pin) keeps it
    busy forever, and sees every volume's data; with ``rslave`` or ``rshared`` the
    engine's later unmounts reach the container too.  Without a propagation the bind
    gets ``rslave``, as in Docker; anything else is refused with Docker's text.

    Args:
        spec: the bind request.
        source, root: the bind source and the engine root, both with symlinks resolved.

    Returns:
        The propagation to use (``spec.propagation`` unless it was left empty).

    Raises:
        InvalidMountError: a propagation other than rslave/rshared for such a source.
    """
    if spec.type != "bind" or not (is_within(source, root) or is_within(root, source)):
        return spec.propagation
    if spec.propagation == "":
        return "rslave"
    if spec.propagation in ("rslave", "rshared"):
        return spec.propagation
    raise InvalidMountError(
        'invalid mount config: must use either propagation mode "rslave" or "rshared" when '
        f"mount source is within the daemon root, daemon root: {go_quote(root)}, bind mount "
        f"source: {go_quote(spec.source)}, propagation: {go_quote(spec.propagation)}")


def valid_mount_mode(mode: str) -> bool:
    """moby ``linuxValidMountMode``: known words only, at most one of each kind.

    Podman's ``U`` is one more kind (Podman too refuses it twice: "the 'U' option can
    only be set once").
    """
    if mode == "":
        return True
    counts = [0, 0, 0, 0, 0, 0]
    kinds = (RW_MODES, LABEL_MODES, PROPAGATION_MODES, COPY_MODES, CONSISTENCY_MODES,
             OWNER_MODES)
    for word in mode.split(","):
        for i, kind in enumerate(kinds):
            if word in kind:
                counts[i] += 1
                break
        else:
            return False
    return all(c <= 1 for c in counts)


def is_read_write(mode: str) -> bool:
    """moby ``ReadWrite``: a mode is read-write unless it contains ``ro``."""
    return "ro" not in mode.split(",")


def mode_propagation(mode: str) -> str:
    """The propagation word of a ``-v`` mode, or ``""``."""
    return next((w for w in mode.split(",") if w in PROPAGATION_MODES), "")


def is_local_subpath(path: str) -> bool:
    """Go's ``filepath.IsLocal``: relative, non-empty and not escaping with ``..``."""
    if path == "" or posixpath.isabs(path):
        return False
    cleaned = posixpath.normpath(path)
    return cleaned != ".." and not cleaned.startswith("../")


def mount_config_error(mount_type: str, reason: str) -> InvalidMountError:
    """moby ``errMountConfig``: ``invalid mount config for type "bind": <reason>``."""
    return InvalidMountError(f"invalid mount config for type {go_quote(mount_type)}: {reason}")


def validate_mount_spec(spec: MountSpec) -> None:
    """moby ``validateMountConfigImpl`` for a spec whose target is still the raw text.

    Checks, in Docker's order: the target (present, not ``/``, absolute), then the
    type-specific rules, including options that belong to another type ("field
    BindOptions must not be specified").  The bind-source existence check is I/O and
    lives in ``parser.validate_bind_source``.

    Raises:
        InvalidMountError: ``invalid mount config for type "<type>": <reason>``.
    """
    mtype = spec.type
    if spec.target == "":
        raise mount_config_error(mtype, "field Target must not be empty")
    try:
        validate_container_path(spec.target)
        if mtype in ("bind", "volume", "tmpfs"):
            validate_not_over_procfs(mtype, spec.target)
    except InvalidMountError as err:
        raise mount_config_error(mtype, err.message) from None

    has_bind_options = spec.propagation != "" or spec.bind_recursive != "enabled"
    has_volume_options = (not spec.copy_up or spec.volume_driver != "" or
                          bool(spec.volume_labels) or bool(spec.volume_options) or
                          spec.volume_subpath != "")
    has_tmpfs_options = (spec.tmpfs_size is not None or spec.tmpfs_mode is not None or
                         bool(spec.tmpfs_options))
    if mtype == "bind":
        if spec.source == "":
            raise mount_config_error(mtype, "field Source must not be empty")
        if spec.propagation and spec.propagation not in PROPAGATION_MODES:
            raise mount_config_error(mtype, f"invalid propagation mode: {spec.propagation}")
        if has_volume_options:
            raise mount_config_error(mtype, "field VolumeOptions must not be specified")
        if has_tmpfs_options:
            raise mount_config_error(mtype, "field TmpfsOptions must not be specified")
        check_no_nul("bind source", spec.source)
        try:
            validate_absolute(spec.source)
        except InvalidMountError as err:
            raise mount_config_error(mtype, err.message) from None
        if spec.bind_recursive in ("writable", "readonly") and not spec.read_only:
            raise mount_config_error(
                mtype, f"option 'bind-recursive={spec.bind_recursive}' requires 'readonly' "
                "to be specified in conjunction")
    elif mtype == "volume":
        if has_bind_options:
            raise mount_config_error(mtype, "field BindOptions must not be specified")
        if has_tmpfs_options:
            raise mount_config_error(mtype, "field TmpfsOptions must not be specified")
        anonymous = spec.source == ""
        if spec.volume_subpath:
            check_no_nul("volume subpath", spec.volume_subpath)
            if anonymous:
                raise mount_config_error(
                    mtype, "must not set Subpath when using anonymous volumes")
            if not is_local_subpath(spec.volume_subpath):
                raise mount_config_error(
                    mtype, "subpath must be a relative path within the volume")
        if spec.read_only and anonymous:
            raise mount_config_error(
                mtype, "must not set ReadOnly mode when using anonymous volumes")
    elif mtype == "tmpfs":
        if has_bind_options:
            raise mount_config_error(mtype, "field BindOptions must not be specified")
        if spec.source != "":
            raise mount_config_error(mtype, "field Source must not be specified")
        if has_volume_options:
            raise mount_config_error(mtype, "field VolumeOptions must not be specified")
        if spec.tmpfs_size is not None and spec.tmpfs_size < 0:
            raise mount_config_error(mtype, f"invalid tmpfs size: {spec.tmpfs_size}")
        if spec.tmpfs_mode is not None and not 0 <= spec.tmpfs_mode <= 0o7777:
            raise mount_config_error(mtype, f"invalid tmpfs mode: {spec.tmpfs_mode:o}")
    else:
        raise mount_config_error(mtype, "mount type unknown")
