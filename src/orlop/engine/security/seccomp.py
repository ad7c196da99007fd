"""Docker-format seccomp profiles -> the OCI ``linux.seccomp`` section of config.json.

A Docker profile (``seccomp_default.json`` here is moby's profiles/seccomp/default.json,
Apache-2.0, unchanged) is an allowlist whose rules can be conditional: ``includes`` and
``excludes`` name capabilities, architectures and a minimum kernel.  Docker resolves
those conditions when it writes the container's spec (moby profiles/seccomp
``setupSeccomp``) and hands the runtime a plain OCI section; so does this module, so
that the built-in runtime and ``--runtime crun`` load exactly the same filter.

Resolution depends on the profile's text, the container's bounding set, the host's
architecture and kernel; it is pure and cached per (text, capabilities).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from orlop.errors import InvalidParameterError

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any

# Docker's special --security-opt seccomp= values (docker/cli, moby daemon/config).
PROFILE_DEFAULT = "builtin"
PROFILE_UNCONFINED = "unconfined"

# uname -m / Python's machine -> moby's goToNative names (what "arches" filters use),
# and the libseccomp architecture the profile's archMap is keyed by.
_NATIVE: dict[str, tuple[str, str]] = {
    "x86_64": ("amd64", "SCMP_ARCH_X86_64"),
    "aarch64": ("arm64", "SCMP_ARCH_AARCH64"),
    "i686": ("x86", "SCMP_ARCH_X86"),
    "armv7l": ("arm", "SCMP_ARCH_ARM"),
    "ppc64le": ("ppc64le", "SCMP_ARCH_PPC64LE"),
    "s390x": ("s390x", "SCMP_ARCH_S390X"),
    "riscv64": ("riscv64", "SCMP_ARCH_RISCV64"),
}

# The OCI fields of a profile passed through as they are (runtime-spec LinuxSeccomp).
_OCI_FIELDS = ("defaultAction", "defaultErrnoRet", "architectures", "flags",
               "listenerPath", "listenerMetadata")


def default_profile_text() -> str:
    """The profile Orlop ships (moby's default), read from the package."""
    return _default_text()


@lru_cache(maxsize=1)
def _default_text() -> str:
    # Next to this module (package data); importlib.resources would cost more to import
    # than reading the file does.
    return Path(__file__).with_name("seccomp_default.json").read_text("utf-8")


def resolve(profile: str, bounding: list[str]) -> dict[str, Any] | None:
    """The OCI ``linux.seccomp`` section for a container, or None for no filter.

    Args:
        profile: "" or "builtin" for the default profile, else a profile's JSON text
            (the CLI sends a file's content, as the docker CLI does).
        bounding: the container's bounding capabilities (``CAP_...``), after
            --cap-add/--cap-drop: the profile's caps conditions test them.

    Raises:
        InvalidParameterError: the profile is not valid JSON or not a valid profile,
            with moby's texts.
    """
    text = _default_text() if profile in ("", PROFILE_DEFAULT) else profile
    return _resolve_cached(text, frozenset(bounding))


@lru_cache(maxsize=8)
def _resolve_cached(text: str, caps: frozenset[str]) -> dict[str, Any] | None:
    """Shared between callers: they put it into a spec and serialise it, never change it."""
    try:
        config = json.loads(text)
    except ValueError as err:
        raise InvalidParameterError(f"Decoding seccomp profile failed: {err}") from err
    if not isinstance(config, dict):
        raise InvalidParameterError("Decoding seccomp profile failed: json: cannot unmarshal "
                                    "into Go value of type seccomp.Seccomp")
    return setup_seccomp(config, caps, *_host())


def _host() -> tuple[str, str, tuple[int, int]]:
    machine = os.uname().machine
    native, scmp = _NATIVE.get(machine, (machine, ""))
    return native, scmp, kernel_version(os.uname().release)


def kernel_version(release: str) -> tuple[int, int]:
    """"6.1.0-18-amd64" -> (6, 1): moby parseRelease keeps kernel and major only."""
    parts = release.split(".")
    try:
        return int(parts[0]), int("".join(ch for ch in parts[1].split("-")[0]
                                          if ch.isdigit()) or "0")
    except (IndexError, ValueError):
        raise InvalidParameterError(f'failed to parse kernel version "{release}"') from None


def _min_kernel(value: Any) -> tuple[int, int] | None:
    """moby KernelVersion.UnmarshalJSON: "<kernel>.<major>", not 0.0."""
    if value is None or value == "":
        return None
    bad = (f'invalid kernel version: {json.dumps(value)}, expected "<kernel>.<major>"')
    if not isinstance(value, str):
        raise InvalidParameterError(bad)
    parts = value.split(".")
    if len(parts) != 2 or not all(p.isdigit() and int(p) < 256 for p in parts):
        raise InvalidParameterError(bad)
    version = (int(parts[0]), int(parts[1]))
    if version == (0, 0):
        raise InvalidParameterError(bad + ": version cannot be 0.0")
    return version


def _strings(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidParameterError(f"Decoding seccomp profile failed: {what} must be a list "
                                    "of strings")
    return list(value)


def setup_seccomp(config: dict[str, Any], caps: frozenset[str], arch: str, scmp_arch: str,
                  kernel: tuple[int, int]) -> dict[str, Any] | None:
    """moby profiles/seccomp setupSeccomp, rule for rule.

    ``arch`` is moby's native name ("amd64"), ``scmp_arch`` the libseccomp one
    ("SCMP_ARCH_X86_64"), ``kernel`` the host's (kernel, major).
    """
    syscalls = config.get("syscalls") or []
    if not isinstance(syscalls, list):
        raise InvalidParameterError("Decoding seccomp profile failed: syscalls must be a list")
    # No default action and no syscalls: seccomp disabled (moby).
    if not config.get("defaultAction") and not syscalls:
        return None
    if config.get("architectures") and config.get("archMap"):
        raise InvalidParameterError(
            "both 'architectures' and 'archMap' are specified in the seccomp profile, use "
            "either 'architectures' or 'archMap'")
    out: dict[str, Any] = {k: config[k] for k in _OCI_FIELDS if config.get(k) is not None}
    if not isinstance(out.get("defaultAction"), str):
        raise InvalidParameterError("Decoding seccomp profile failed: defaultAction must be "
                                    "a string")
    arches = _strings(config.get("architectures"), "architectures")
    for entry in config.get("archMap") or []:
        if isinstance(entry, dict) and entry.get("architecture") == scmp_arch:
            arches = [scmp_arch, *_strings(entry.get("subArchitectures"), "subArchitectures")]
            break
    if arches:
        out["architectures"] = arches
    rules: list[dict[str, Any]] = []
    for call in syscalls:
        if not isinstance(call, dict):
            raise InvalidParameterError("Decoding seccomp profile failed: a syscalls entry "
                                        "must be an object")
        names = _strings(call.get("names"), "names")
        if call.get("name"):
            if names:
                raise InvalidParameterError(
                    "both 'name' and 'names' are specified in the seccomp profile, use either "
                    "'name' or 'names'")
            names = [str(call["name"])]
        if _skipped(call, caps, arch, kernel):
            continue
        rule: dict[str, Any] = {"names": names, "action": call.get("action")}
        if not isinstance(rule["action"], str):
            raise InvalidParameterError("Decoding seccomp profile failed: a syscalls entry "
                                        "needs an action")
        for key in ("errnoRet", "args"):
            if call.get(key) is not None:
                rule[key] = call[key]
        rules.append(rule)
    out["syscalls"] = rules
    return out


def _skipped(call: dict[str, Any], caps: frozenset[str], arch: str,
             kernel: tuple[int, int]) -> bool:
    """A rule whose excludes match, or whose includes do not, is left out."""
    excludes = call.get("excludes") or {}
    if excludes:
        if arch in _strings(excludes.get("arches"), "excludes.arches"):
            return True
        if any(c in caps for c in _strings(excludes.get("caps"), "excludes.caps")):
            return True
        minimum = _min_kernel(excludes.get("minKernel"))
        if minimum is not None and kernel >= minimum:
            return True
    includes = call.get("includes") or {}
    if includes:
        wanted = _strings(includes.get("arches"), "includes.arches")
        if wanted and arch not in wanted:
            return True
        if not all(c in caps for c in _strings(includes.get("caps"), "includes.caps")):
            return True
        minimum = _min_kernel(includes.get("minKernel"))
        if minimum is not None and kernel < minimum:
            return True
    return False
