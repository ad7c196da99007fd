"""Parse ``-v``, ``--mount``, ``--tmpfs`` and ``--volumes-from`` into validated ``MountSpec``s.

Docker splits this work between its CLI (``--mount`` CSV in ``cli/opts/mount.go``, the
``-v`` checks of the compose loader) and its daemon (``linux_parser.go``:
``ParseMountRaw``, ``ParseMountSpec``, ``ParseVolumesFrom``).  Orlop does both here,
in that order, so each input gets the error Docker would print first.  Errors the
CLI raises are ``InvalidMountFlagError`` (the CLI adds Docker's
``invalid argument "..." for "--mount" flag:`` prefix); the daemon's are
``InvalidMountError`` / ``InvalidVolumeNameError``.

Where Docker accepts nonsense, Orlop refuses it (each case says so below):
``-v relative`` (an anonymous volume at a relative destination), ``-v a:/x`` (read by
Docker's CLI as a Windows drive ``a:``, giving an anonymous volume at ``"a:/x"``).

No I/O: the working directory comes in as ``cwd``, and the one check that needs the
filesystem, ``validate_bind_source``, takes an ``exists`` function.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable

from orlop.errors import InvalidMountError, InvalidMountFlagError, InvalidVolumeNameError
from orlop.goparse import parse_bool
from orlop.mounts.spec import (
    BIND_RECURSIVE_VALUES,
    DEFAULT_DRIVER,
    MOUNT_TYPES,
    MountSpec,
)
from orlop.mounts.tmpfs import (
    MAX_ID,
    TMPFS_DATA_KEYS,
    TMPFS_FLAG_KEYS,
    check_tmpfs_chown,
    convert_tmpfs_options,
    invalid_tmpfs_option,
    kernel_size_in_bytes,
    merge_tmpfs_options,
    parse_id,
)
from orlop.mounts.validate import (
    COPY_MODES,
    OWNER_MODES,
    PROPAGATION_MODES,
    check_no_nul,
    clean_target,
    go_quote,
    is_read_write,
    mode_propagation,
    mount_config_error,
    valid_mount_mode,
    validate_container_path,
    validate_image_volume_target,
    validate_mount_spec,
    validate_not_over_procfs,
)
from orlop.mounts.volname import validate_volume_name
from orlop.units import ram_in_bytes

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "check_duplicates",
    "clean_target",
    "convert_tmpfs_options",
    "finish_mount_spec",
    "is_read_write",
    "parse_image_volume",
    "parse_mount_flag",
    "parse_tmpfs_flag",
    "parse_volume_flag",
    "parse_volumes_from",
    "validate_bind_source",
    "validate_volume_name",
]

_OCTAL_RE = re.compile(r"[0-7]+")


def _absolutise(source: str, cwd: str) -> str:
    """Resolve a ``.``-prefixed host path against ``cwd`` (Docker CLI >= 23, ``filepath.Abs``)."""
    if not posixpath.isabs(cwd):
        raise ValueError(f"cwd must be an absolute path, got {cwd!r}")
    return posixpath.normpath(posixpath.join(cwd, source))


# --- -v / --volume ------------------------------------------------------------------------


def parse_volume_flag(raw: str, cwd: str) -> MountSpec:
    """Parse one ``-v`` value: ``NAME:/ctr[:opts]``, ``/host:/ctr[:opts]`` or ``/ctr``.

    A source starting with ``/`` is a bind (Docker creates a missing host directory, so
    ``create_host_path`` is True); one starting with ``.`` is a host path relative to
    ``cwd`` (current Docker CLI); anything else names a volume.  Options (comma
    separated): ``ro``/``rw`` (one at most), ``nocopy``, one propagation mode, ``z``/``Z``
    (recorded only), ``consistent``/``cached``/``delegated`` (ignored, macOS only),
    Podman's ``U`` (chown the source to the container's user before each start).

    Deliberate differences from Docker, which accepts these and makes an anonymous volume
    at a nonsense destination: ``-v relative`` is refused with the text Docker gives for
    ``-v vol:relative``; ``-v a:/x`` (Docker's CLI reads ``a:`` as a Windows drive) is
    refused as a one-character volume name.

    Raises:
        InvalidMountFlagError: Docker CLI texts (``invalid empty volume spec``,
            ``invalid spec: X: empty section between colons``).
        InvalidMountError: Docker daemon texts (``invalid volume specification: 'X'...``,
            ``invalid mode: X``).
        InvalidVolumeNameError: ``create NAME: ...``.
    """
    if raw == "":
        raise InvalidMountFlagError("invalid empty volume spec", flag="--volume", value=raw)
    check_no_nul("volume specification", raw)
    parts = raw.split(":")
    if "" in parts:
        raise InvalidMountFlagError(f"invalid spec: {raw}: empty section between colons",
                                    flag="--volume", value=raw)
    invalid_spec = f"invalid volume specification: '{raw}'"
    if len(parts) > 3:
        raise InvalidMountError(invalid_spec)
    source, mode = "", ""
    if len(parts) == 1:
        target = parts[0]
    elif len(parts) == 2:
        if valid_mount_mode(parts[1]):
            # "/foo:rw": a destination and a mode, but volumes cannot carry one (moby).
            raise InvalidMountError(invalid_spec)
        source, target = parts
    else:
        source, target, mode = parts
    if not valid_mount_mode(mode):
        raise InvalidMountError(f"invalid mode: {mode}")
    if source.startswith("."):
        source = _absolutise(source, cwd)
    words = mode.split(",") if mode else []
    is_bind = posixpath.isabs(source)
    snapshot = ""
    if not is_bind and "@" in source:
        # Orlop's NAME@SNAPSHOT: a volume's snapshot, read-only (docs/volumes.md).
        source, _, snapshot = source.partition("@")
        if "rw" in words:
            raise InvalidMountError(f"{invalid_spec}: a snapshot mount is always read-only")
    spec = MountSpec(
        type="bind" if is_bind else "volume",
        target=target,
        source=source,
        read_only=not is_read_write(mode),
        origin="volume-flag",
        raw=raw,
        mode=mode,
        propagation=mode_propagation(mode),
        copy_up=not any(w in COPY_MODES for w in words),
        create_host_path=is_bind,
        volume_snapshot=snapshot,
        chown=any(w in OWNER_MODES for w in words),
    )
    try:
        validate_mount_spec(spec)
    except InvalidMountError as err:
        raise InvalidMountError(f"{invalid_spec}: {err.message}") from None
    spec = _normalise(spec)  # validated just above, with -v's error prefix
    if spec.type == "volume" and spec.source and spec.mode == "":
        # moby setBindModeIfNull: a named local volume from -v shows Mode "z".
        spec = spec.replace(mode="z")
    return spec


def parse_image_volume(path: str) -> MountSpec:
    """An image ``VOLUME`` path as an anonymous-volume request (``origin="image"``).

    Docker takes the path as written (and would mount at a relative destination);
    Orlop refuses a relative path or ``/`` with Docker's mount-path texts, and a path at
    or under ``/proc`` or ``/sys`` (``validate_image_volume_target``).

    Raises:
        InvalidMountError: ``invalid image volume 'X': <reason>``.
    """
    try:
        validate_container_path(path)
    except InvalidMountError as err:
        raise InvalidMountError(f"invalid image volume '{path}': {err.message}") from None
    validate_image_volume_target(path)
    return MountSpec(type="volume", target=clean_target(path), origin="image", raw=path)


# --- --mount ----------------------------------------------------------------------------


class _MountFields:
    """What the fields of one ``--mount`` value said so far (a repeated key: the last
    one wins, as in Docker)."""

    def __init__(self, cwd: str, flag_error: Callable[[str], InvalidMountFlagError]) -> None:
        self.cwd = cwd
        self.error = flag_error
        self.mtype = "volume"
        self.source = ""
        self.target = ""
        self.read_only = False
        self.families: list[str] = []  # option families used, for the "cannot mix" check
        self.opts: dict[str, Any] = {}
        self.labels: dict[str, str] = {}
        self.driver_opts: dict[str, str] = {}
        self.tmpfs_ids: dict[str, str] = {}  # "uid" -> "uid=1000"

    def use(self, family: str) -> None:
        if family not in self.families:
            self.families.append(family)

    def go_bool(self, key: str, val: str) -> bool:
        parsed = parse_bool(val)
        if parsed is None:
            raise self.error(f"invalid value for {key}: {val}")
        return parsed


def _key_type(acc: _MountFields, _key: str, val: str) -> None:
    acc.mtype = val.lower()


def _key_source(acc: _MountFields, _key: str, val: str) -> None:
    acc.source = val
    if not posixpath.isabs(val) and val.startswith("."):
        acc.source = _absolutise(val, acc.cwd)


def _key_target(acc: _MountFields, _key: str, val: str) -> None:
    acc.target = val


def _key_readonly(acc: _MountFields, key: str, val: str) -> None:
    acc.read_only = acc.go_bool(key, val)


def _key_ignored(acc: _MountFields, _key: str, _val: str) -> None:
    """``consistency``: a macOS file-sharing hint; Docker on Linux ignores it too."""


def _key_propagation(acc: _MountFields, _key: str, val: str) -> None:
    acc.use("bind")
    acc.opts["propagation"] = val.lower()


def _key_nonrecursive(acc: _MountFields, key: str, val: str) -> None:
    acc.use("bind")
    acc.opts["bind_recursive"] = "disabled" if acc.go_bool(key, val) else "enabled"


def _key_recursive(acc: _MountFields, key: str, val: str) -> None:
    acc.use("bind")
    if val not in BIND_RECURSIVE_VALUES:
        raise acc.error(f'invalid value for {key}: {val} (must be "enabled", '
                        '"disabled", "writable", or "readonly")')
    acc.opts["bind_recursive"] = val


def _volume_field(field_name: str) -> Callable[[_MountFields, str, str], None]:
    def handler(acc: _MountFields, _key: str, val: str) -> None:
        acc.use("volume")
        acc.opts[field_name] = val
    return handler


def _key_nocopy(acc: _MountFields, _key: str, val: str) -> None:
    acc.use("volume")
    acc.opts["copy_up"] = not acc.go_bool("volume-nocopy", val)


def _key_volume_label(acc: _MountFields, _key: str, val: str) -> None:
    acc.use("volume")
    k, _, v = val.partition("=")
    if k:
        acc.labels[k] = v


def _key_volume_opt(acc: _MountFields, _key: str, val: str) -> None:
    acc.use("volume")
    k, _, v = val.partition("=")
    if k:
        acc.driver_opts[k] = v


def _key_tmpfs_size(acc: _MountFields, key: str, val: str) -> None:
    acc.use("tmpfs")
    try:
        acc.opts["tmpfs_size"] = ram_in_bytes(val)
    except ValueError:
        raise acc.error(f"invalid value for {key}: {val}") from None


def _key_tmpfs_mode(acc: _MountFields, key: str, val: str) -> None:
    acc.use("tmpfs")
    if _OCTAL_RE.fullmatch(val) is None or int(val, 8) >= 1 << 32:
        raise acc.error(f"invalid value for {key}: {val}")
    acc.opts["tmpfs_mode"] = int(val, 8)


def _key_chown(acc: _MountFields, key: str, val: str) -> None:
    """Podman's ``U``/``chown`` (``U=true``): for every type; given twice is refused, as
    Podman refuses it."""
    if "chown" in acc.opts:
        raise acc.error("cannot pass 'U' or 'chown' option more than once")
    acc.opts["chown"] = acc.go_bool(key, val)


def _key_tmpfs_id(acc: _MountFields, key: str, val: str) -> None:
    """Orlop's ``uid=N``/``gid=N`` for a tmpfs: its root's owner (tmpfs's own options)."""
    acc.use("tmpfs")
    if parse_id(val) is None:
        raise acc.error(f"invalid value for {key}: {val} (must be a number from 0 to "
                        f"{MAX_ID})")
    acc.tmpfs_ids[key] = f"{key}={int(val)}"


def _bare_chown(acc: _MountFields) -> None:
    _key_chown(acc, "U", "true")


def _bare_readonly(acc: _MountFields) -> None:
    acc.read_only = True


def _bare_nocopy(acc: _MountFields) -> None:
    acc.use("volume")
    acc.opts["copy_up"] = False


def _bare_nonrecursive(acc: _MountFields) -> None:
    acc.use("bind")
    acc.opts["bind_recursive"] = "disabled"


# key=value fields of --mount (Docker's CLI, opts/mount.go), and the bare ones.
_MOUNT_KEYS: dict[str, Callable[[_MountFields, str, str], None]] = {
    "type": _key_type, "source": _key_source, "src": _key_source,
    "target": _key_target, "dst": _key_target, "destination": _key_target,
    "readonly": _key_readonly, "ro": _key_readonly, "consistency": _key_ignored,
    "bind-propagation": _key_propagation, "bind-nonrecursive": _key_nonrecursive,
    "bind-recursive": _key_recursive,
    "volume-subpath": _volume_field("volume_subpath"),
    "volume-snapshot": _volume_field("volume_snapshot"),  # Orlop's: a snapshot, read-only
    "volume-driver": _volume_field("volume_driver"),
    "volume-nocopy": _key_nocopy, "volume-label": _key_volume_label,
    "volume-opt": _key_volume_opt,
    "tmpfs-size": _key_tmpfs_size, "tmpfs-mode": _key_tmpfs_mode,
    "uid": _key_tmpfs_id, "gid": _key_tmpfs_id,  # Orlop's: tmpfs's uid=/gid=
    "u": _key_chown, "chown": _key_chown,  # Podman's U (keys are compared lower-cased)
}
_BARE_KEYS: dict[str, Callable[[_MountFields], None]] = {
    "readonly": _bare_readonly, "ro": _bare_readonly, "volume-nocopy": _bare_nocopy,
    "bind-nonrecursive": _bare_nonrecursive, "u": _bare_chown, "chown": _bare_chown,
}


def parse_mount_flag(raw: str, cwd: str) -> MountSpec:
    """Parse one ``--mount`` CSV value, then validate it as Docker's daemon does.

    Keys (case-insensitive, as Docker's CLI): ``type`` (default ``volume``),
    ``source``/``src``, ``target``/``destination``/``dst``, ``readonly``/``ro`` (bare or
    a Go bool), ``consistency`` (ignored), ``volume-nocopy``, ``volume-driver``,
    ``volume-label=k=v``, ``volume-opt=k=v``, ``volume-subpath``, ``bind-propagation``,
    ``bind-recursive=enabled|disabled|writable|readonly``, ``bind-nonrecursive``
    (deprecated: ``bind-recursive=disabled``), ``tmpfs-size`` (Docker units),
    ``tmpfs-mode`` (octal).  Beyond Docker: Podman's ``U`` / ``chown`` (bare or a Go
    bool: chown the source to the container's user; once only, as in Podman) and, for a
    tmpfs, ``uid=N``/``gid=N`` (numbers).  A repeated key: the last one wins, as in
    Docker.  A source starting with ``.`` is resolved against ``cwd`` (current Docker CLI).

    Raises:
        InvalidMountFlagError: Docker's CLI texts (``target is required``...).
        InvalidMountError: Docker's daemon texts (``invalid mount config for type ...``).
        InvalidVolumeNameError: ``create NAME: ...``.
    """
    import csv  # here: only --mount is CSV

    check_no_nul("mount specification", raw)

    def flag_error(message: str) -> InvalidMountFlagError:
        return InvalidMountFlagError(message, flag="--mount", value=raw)

    try:
        fields = next(csv.reader([raw], strict=True), [])
    except csv.Error as err:
        raise flag_error(f"invalid CSV: {err}") from None

    acc = _MountFields(cwd, flag_error)
    for fld in fields:
        key, eq, val = fld.partition("=")
        key = key.lower()
        if not eq:
            bare = _BARE_KEYS.get(key)
            if bare is None:
                raise flag_error(f"invalid field '{fld}' must be a key=value pair")
            bare(acc)
            continue
        handler = _MOUNT_KEYS.get(key)
        if handler is None:
            raise flag_error(f"unexpected key '{key}' in '{fld}'")
        handler(acc, key, val)
    mtype, source, target, read_only = acc.mtype, acc.source, acc.target, acc.read_only
    families, opts, labels, driver_opts = acc.families, acc.opts, acc.labels, acc.driver_opts

    if mtype == "":
        raise flag_error("type is required")
    if target == "":
        raise flag_error("target is required")
    for family in ("volume", "bind", "tmpfs"):
        if family in families and mtype != family:
            raise flag_error(f"cannot mix '{family}-*' options with mount type '{mtype}'")
    recursive = opts.get("bind_recursive")
    if recursive in ("writable", "readonly") and not read_only:
        raise flag_error(f"option 'bind-recursive={recursive}' requires 'readonly' to be "
                         "specified in conjunction")
    if recursive == "readonly" and opts.get("propagation") != "rprivate":
        raise flag_error("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' "
                         "to be specified in conjunction")
    if mtype not in MOUNT_TYPES:
        # Docker's daemon checks the target before it looks at the type.
        try:
            validate_container_path(target)
        except InvalidMountError as err:
            raise mount_config_error(mtype, err.message) from None
        raise mount_config_error(mtype, "mount type unknown")
    if acc.tmpfs_ids:
        opts["tmpfs_options"] = tuple(acc.tmpfs_ids.values())
    spec = MountSpec(type=mtype,  # type: ignore[arg-type]  # checked just above
                     target=target, source=source, read_only=read_only, origin="mount-flag",
                     raw=raw, volume_labels=labels, volume_options=driver_opts, **opts)
    return finish_mount_spec(spec)


def finish_mount_spec(spec: MountSpec) -> MountSpec:
    """Docker's daemon-side validation of a ``--mount``/API spec, then normalisation.

    Validates (``validate_mount_spec``), cleans the target and a bind source
    (``path.Clean``), checks a volume name, checks tmpfs words, and for
    ``--mount``/API volumes on the local driver sets ``mode="z"`` as Docker does.

    Raises:
        InvalidMountError, InvalidVolumeNameError: Docker's texts.
    """
    validate_mount_spec(spec)
    return _normalise(spec)


def _normalise(spec: MountSpec) -> MountSpec:
    """:func:`finish_mount_spec` after ``validate_mount_spec``: the volume name and
    tmpfs checks, then the normalisation (``parse_volume_flag`` validated already, with
    its own error prefix: the spec is not validated twice)."""
    changes: dict[str, Any] = {"target": clean_target(spec.target)}
    if spec.type == "bind":
        changes["source"] = clean_target(spec.source)
    elif spec.type == "volume":
        if spec.source:
            validate_volume_name(spec.source)
        if spec.volume_snapshot:
            changes.update(_snapshot_changes(spec))
        if (spec.origin == "mount-flag" and spec.mode == ""
                and spec.volume_driver in ("", DEFAULT_DRIVER)):
            changes["mode"] = "z"  # moby setBindModeIfNull, local driver only
    else:
        try:
            merge_tmpfs_options(spec.tmpfs_options)
            check_tmpfs_chown(spec.chown, spec.tmpfs_options)
        except InvalidMountError as err:
            raise mount_config_error("tmpfs", err.message) from None
    mode = changes.get("mode", spec.mode)
    if spec.chown and "U" not in mode.split(","):
        changes["mode"] = f"{mode},U" if mode else "U"  # so that inspect shows it
    return spec.replace(**changes)


def _snapshot_changes(spec: MountSpec) -> dict[str, Any]:
    """A snapshot mount: of a named volume, always read-only, never copied up into."""
    if not spec.source:
        raise mount_config_error("volume", "a snapshot mount needs the volume's name")
    if spec.volume_subpath:
        raise mount_config_error("volume", "volume-snapshot and volume-subpath cannot be "
                                           "used together")
    if spec.chown:
        raise mount_config_error("volume", "a snapshot cannot be chowned (U): it is "
                                           "read-only")
    try:
        validate_volume_name(spec.volume_snapshot)
    except InvalidVolumeNameError:
        raise mount_config_error(
            "volume", f'invalid snapshot name "{spec.volume_snapshot}"') from None
    return {"read_only": True, "copy_up": False}


def validate_bind_source(spec: MountSpec, exists: Callable[[str], bool]) -> None:
    """Refuse a ``--mount type=bind`` whose source is missing (Docker never creates it).

    ``-v`` binds (``create_host_path``) and other types pass.  The engine passes
    ``os.path.exists``, which follows symlinks as Docker's ``os.Stat`` does.

    Raises:
        InvalidMountError: ``invalid mount config for type "bind": bind source path does
            not exist: <path>``.
    """
    if spec.type == "bind" and not spec.create_host_path and not exists(spec.source):
        raise mount_config_error("bind", f"bind source path does not exist: {spec.source}")


# --- --tmpfs -----------------------------------------------------------------------------


def parse_tmpfs_flag(raw: str) -> MountSpec:
    """Parse one ``--tmpfs /ctr[:opts]`` value.

    Options: ``size=`` (the kernel's syntax: bytes with an optional k/m/g/t/p/e suffix,
    or a percentage of RAM), ``mode=`` (octal), ``ro``/``rw``, mount flags (``exec``,
    ``nosuid``, ``dev``...) and tmpfs data (``uid=``, ``gid=``, ``nr_inodes=``,
    ``nr_blocks=``, ``mpol=``; ``uid=``/``gid=`` must be numbers), and Podman's ``U``
    (``uid=``/``gid=`` of the container's user, at start).  Docker passes the option text
    to the kernel unchecked
    and fails at start; Orlop checks it here.  Orlop also refuses propagation and bind
    words (``rshared``, ``bind``), which Docker passes on, because they make no sense
    for a fresh tmpfs.  Defaults (``nosuid,nodev,noexec``) are applied by
    ``convert_tmpfs_options``, not stored.

    Raises:
        InvalidMountError: ``invalid mount path: 't' mount path must be absolute``,
            ``invalid tmpfs option ["x"]``...
    """
    check_no_nul("tmpfs specification", raw)
    target, _, text = raw.partition(":")
    validate_container_path(target)
    validate_not_over_procfs("tmpfs", target)
    read_only = False
    size: int | None = None
    size_word = ""
    mode: int | None = None
    chown = False
    extra: list[str] = []
    for word in text.split(",") if text else []:
        key, eq, val = word.partition("=")
        if word in ("ro", "rw"):
            read_only = word == "ro"
        elif word in OWNER_MODES:
            if chown:
                raise InvalidMountError("the 'U' option can only be set once")
            chown = True
        elif word in TMPFS_FLAG_KEYS:
            extra.append(word)
        elif eq and key == "size":
            size_word = word
            if val.endswith("%") and val[:-1].isdigit():
                size = None
            else:
                try:
                    size = kernel_size_in_bytes(val)
                except ValueError:
                    raise InvalidMountError(
                        f"invalid tmpfs option {go_quote(word)}: the size must be a number of "
                        "bytes with an optional k, m or g suffix, or a percentage") from None
                size_word = ""
        elif eq and key == "mode":
            if _OCTAL_RE.fullmatch(val) is None or int(val, 8) > 0o7777:
                raise InvalidMountError(
                    f"invalid tmpfs option {go_quote(word)}: the mode must be octal "
                    "permission bits such as 1777")
            mode = int(val, 8)
        elif eq and key in TMPFS_DATA_KEYS and val:
            extra.append(word)
        else:
            raise invalid_tmpfs_option(word)
    if size_word:
        extra.append(size_word)
    options = tuple(merge_tmpfs_options(extra))
    check_tmpfs_chown(chown, options)
    return MountSpec(type="tmpfs", target=clean_target(target), read_only=read_only,
                     origin="tmpfs-flag", raw=raw, tmpfs_size=size, tmpfs_mode=mode,
                     tmpfs_options=options, chown=chown, mode="U" if chown else "")


# --- --volumes-from -----------------------------------------------------------------------


def parse_volumes_from(raw: str) -> tuple[str, str]:
    """Split ``CONTAINER[:MODE]`` (moby ``ParseVolumesFrom``).

    Returns:
        ``(container_ref, mode)``; mode is ``""`` when none was given (Docker reports
        ``"rw"``; both mean "keep each mount's own RW").  Use ``is_read_write(mode)``:
        ``rw`` never makes a read-only mount writable.

    Raises:
        InvalidMountError: ``invalid mode: X`` for unknown words, propagation or
            ``nocopy`` (Docker allows only ro/rw, z/Z and consistency words here).
    """
    if raw == "":
        raise InvalidMountError("volumes-from specification cannot be an empty string")
    check_no_nul("volumes-from specification", raw)
    ref, _, mode = raw.partition(":")
    if ref == "":
        # Docker looks up a container named "" and says "No such container: ".
        raise InvalidMountError(f"invalid volumes-from specification '{raw}': "
                                "the container name is empty")
    if mode == "":
        return ref, ""
    words = mode.split(",")
    if (not valid_mount_mode(mode) or any(w in PROPAGATION_MODES for w in words)
            or any(w in COPY_MODES or w in OWNER_MODES for w in words)):
        raise InvalidMountError(f"invalid mode: {mode}")
    return ref, mode


# --- checks across specs ------------------------------------------------------------------


def check_duplicates(specs: Iterable[MountSpec]) -> None:
    """Refuse two of the user's own mounts on one target (Docker: ``Duplicate mount point``).

    Targets are compared cleaned (``/x/`` is ``/x``).  Docker lets an anonymous ``-v /x``
    be silently replaced by ``-v vol:/x``; Orlop refuses that too.

    Raises:
        InvalidMountError: ``Duplicate mount point: /x``.
    """
    seen: set[str] = set()
    for spec in specs:
        target = clean_target(spec.target)
        if target in seen:
            raise InvalidMountError(f"Duplicate mount point: {target}")
        seen.add(target)
