"""tmpfs sizes, modes and options: Docker's units, its defaults and its option merging.

Docker mounts every tmpfs (``--tmpfs`` and ``--mount type=tmpfs``) with
``nosuid,nodev,noexec`` unless the user says otherwise, and merges the option list
so that the last of two conflicting words wins (``exec`` after ``noexec``); see
moby ``daemon/oci_linux.go`` and ``moby/sys/mount.MergeTmpfsOptions``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from orlop.errors import InvalidMountError
from orlop.kernel.flags import MountFlag
from orlop.mounts.validate import go_quote
from orlop.runtime.mountopts import FLAGS as MOUNT_FLAG_WORDS

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Final

DEFAULT_TMPFS_OPTIONS: Final = ("nosuid", "nodev", "noexec")

# The runtime's mount(8) words (runtime/mountopts.py, the one table) that Docker lets a
# tmpfs have: not the bind words, nor those moby/sys/mount does not know.
_NOT_TMPFS_WORDS: Final = frozenset({"bind", "rbind", "lazytime", "nolazytime",
                                     "nosymfollow", "symfollow"})
# word -> collision key, the flag it sets or clears: two words with the same key are the
# same flag, so only the last one is kept (MergeTmpfsOptions keys by the flag value).
TMPFS_FLAG_KEYS: Final[dict[str, MountFlag]] = {
    word: flag for word, (_, flag) in MOUNT_FLAG_WORDS.items() if word not in _NOT_TMPFS_WORDS}
# fs data keys Docker lets through to tmpfs (MergeTmpfsOptions validFlags).
TMPFS_DATA_KEYS: Final = frozenset({"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks",
                                    "mpol"})

# tmpfs's uid=/gid=: a decimal id; 4294967295 is (uid_t)-1, "no id", which the kernel
# refuses too.  Docker hands the text to the kernel unchecked (0x10 and 010 then pass).
MAX_ID: Final = (1 << 32) - 2
ID_KEYS: Final = frozenset({"uid", "gid"})

_KERNEL_SIZE_RE: Final = re.compile(r"(\d+)([kKmMgGtTpPeE])?")
_MULTIPLIERS: Final = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40,
                       "p": 1 << 50, "e": 1 << 60}


def kernel_size_in_bytes(text: str) -> int:
    """The tmpfs ``size=`` syntax of the kernel (memparse): digits and one k/m/g/t/p/e.

    ``--tmpfs /t:size=...`` is handed to the kernel as written in Docker, so Orlop
    accepts what the kernel accepts (a percentage is handled by the caller).

    Raises:
        ValueError: the text is not a size.
    """
    match = _KERNEL_SIZE_RE.fullmatch(text)
    if match is None:
        raise ValueError(text)
    return int(match.group(1)) * _MULTIPLIERS[(match.group(2) or "").lower()]


def format_tmpfs_size(size: int) -> str:
    """moby ``ConvertTmpfsOptions``: divide by 1024 while it divides evenly, up to ``g``.

    1048576 -> ``1m``, 1536 -> ``1536``, 0 -> ``0``.  The kernel
    reports the mounted size in kibibytes (``size=1024k`` in /proc/mounts); the data
    string handed to mount(2) is Docker's ``size=1m``.
    """
    suffix = ""
    for unit in ("k", "m", "g"):
        if size % 1024 != 0 or size == 0:
            break
        size //= 1024
        suffix = unit
    return f"{size}{suffix}"


def parse_id(text: str) -> int | None:
    """A uid or gid for tmpfs's ``uid=``/``gid=``: decimal digits, 0 to 4294967294;
    None for anything else (a sign, a space, hex, a name: names belong to ``U``)."""
    if not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def invalid_id_option(word: str) -> InvalidMountError:
    """The text for ``uid=x``: the word, and what a valid value is."""
    name = word.partition("=")[0]
    return InvalidMountError(
        f"invalid tmpfs option {go_quote(word)}: the {name} must be a number from 0 to "
        f"{MAX_ID}")


def check_tmpfs_chown(chown: bool, options: Sequence[str]) -> None:
    """``U`` (the container user's ids) and an explicit ``uid=``/``gid=`` contradict each
    other; Podman appends U's words after the user's and lets the kernel take the last,
    Orlop refuses the pair.

    Raises:
        InvalidMountError: both given.
    """
    if chown and any(w.partition("=")[0] in ID_KEYS for w in options):
        raise InvalidMountError("the U option cannot be combined with uid= or gid=: U sets "
                                "both to the container's user")


def invalid_tmpfs_option(word: str) -> InvalidMountError:
    """Docker's text for a word MergeTmpfsOptions does not know: ``invalid tmpfs option ["x"]``.

    Docker formats the ``strings.SplitN(word, "=", 2)`` slice with ``%q``.
    """
    parts = word.split("=", 1)
    return InvalidMountError(
        "invalid tmpfs option [" + " ".join(go_quote(p) for p in parts) + "]")


def merge_tmpfs_options(options: Sequence[str]) -> list[str]:
    """moby ``MergeTmpfsOptions``: drop ``defaults``, keep the last of conflicting words.

    A kept word stays at the position of its last occurrence.  ``uid=``/``gid=`` must be
    numbers (``parse_id``); Docker leaves that to the kernel, at start.

    Raises:
        InvalidMountError: an unknown word or data key, a uid/gid that is no number.
    """
    seen: set[MountFlag | str] = set()
    merged: list[str] = []
    for word in reversed(options):
        if word == "defaults":
            continue
        key: MountFlag | str
        if word in TMPFS_FLAG_KEYS:
            key = TMPFS_FLAG_KEYS[word]
        else:
            name, eq, value = word.partition("=")
            if not eq or name not in TMPFS_DATA_KEYS:
                raise invalid_tmpfs_option(word)
            if name in ID_KEYS and parse_id(value) is None:
                raise invalid_id_option(word)
            key = name
        if key not in seen:
            seen.add(key)
            merged.append(word)
    merged.reverse()
    return merged


def convert_tmpfs_options(
    size: int | None,
    mode: int | None,
    extra: Sequence[str] = (),
    *,
    read_only: bool = False,
) -> tuple[str, list[str]]:
    """Build a tmpfs mount: the fs data string and the full OCI option list.

    Args:
        size: bytes, or None for the kernel's default (half of RAM).
        mode: permission bits of the tmpfs root (``0o1777``), or None.
        extra: further words from ``--tmpfs`` (``exec``, ``uid=1000``, ``size=50%``...).
        read_only: mount read-only.

    Returns:
        ``(data, options)``: ``data`` is what Docker's ``ConvertTmpfsOptions`` makes
        (``size=1m,mode=1770`` plus data words from ``extra``); ``options`` is Docker's
        merged list for config.json: ``nosuid,nodev,noexec`` first, then the user's
        flags (a later ``exec`` replaces ``noexec``), ``ro`` when read-only, then data.

    Raises:
        InvalidMountError: an unknown word in ``extra``.
    """
    words: list[str] = list(DEFAULT_TMPFS_OPTIONS)
    if read_only:
        words.append("ro")
    if size is not None and size > 0:
        words.append(f"size={format_tmpfs_size(size)}")
    if mode is not None:
        words.append(f"mode={mode:o}")
    words.extend(extra)
    merged = merge_tmpfs_options(words)
    flags = [w for w in merged if "=" not in w]
    data = [w for w in merged if "=" in w]
    return ",".join(data), flags + data
