"""``--security-opt`` / ``HostConfig.SecurityOpt`` -> what the container gets.

moby daemon/daemon_unix.go parseSecurityOpt, value for value and with its error
texts.  Orlop has no AppArmor or SELinux: dockerd on such a host accepts
``apparmor=`` and ``label=`` and applies nothing.  Orlop accepts only the values
that ask for no confinement (``apparmor=unconfined``, ``label=disable``), which is
what the container really gets, and refuses a profile or label it could not apply
(docs/differences.md).
"""

from __future__ import annotations

from orlop.engine.security.seccomp import PROFILE_DEFAULT, PROFILE_UNCONFINED
from orlop.errors import InvalidParameterError, UnsupportedError
from orlop.goparse import parse_bool
from orlop.records import FrozenRecord


class SecurityOptions(FrozenRecord):
    _fields = ("seccomp_profile", "no_new_privileges")
    __slots__ = _fields
    seccomp_profile: str  # "" = the default; "unconfined"; "builtin"; a profile's JSON
    no_new_privileges: bool

    def __init__(self, seccomp_profile: str = "", no_new_privileges: bool = False) -> None:
        self._set(seccomp_profile=seccomp_profile, no_new_privileges=no_new_privileges)

    @property
    def seccomp_unconfined(self) -> bool:
        return self.seccomp_profile == PROFILE_UNCONFINED


def _parse_bool(value: str, opt: str) -> bool:
    """Go's strconv.ParseBool."""
    parsed = parse_bool(value)
    if parsed is not None:
        return parsed
    raise InvalidParameterError(f'invalid --security-opt 2: "{opt}"')


def parse_security_opts(opts: list[str]) -> SecurityOptions:
    """Raises InvalidParameterError with moby's texts, UnsupportedError for what Orlop
    cannot apply."""
    seccomp = ""
    nnp = False
    for opt in opts:
        if opt == "no-new-privileges":
            nnp = True
            continue
        if opt == "disable":  # the old spelling of label=disable
            continue
        if "=" in opt:
            key, _, value = opt.partition("=")
        elif ":" in opt:  # deprecated separator, still accepted by dockerd
            key, _, value = opt.partition(":")
        else:
            raise InvalidParameterError(f'invalid --security-opt 1: "{opt}"')
        if key == "seccomp":
            seccomp = value
        elif key == "no-new-privileges":
            nnp = _parse_bool(value, opt)
        elif key == "apparmor":
            if value != "unconfined":
                raise UnsupportedError(
                    f'--security-opt "{opt}": AppArmor is not supported by Orlop, so a '
                    "profile cannot be applied; use apparmor=unconfined or leave it out")
        elif key == "label":
            if value != "disable":
                raise UnsupportedError(
                    f'--security-opt "{opt}": SELinux labels are not supported by Orlop; '
                    "use label=disable or leave it out")
        elif key == "writable-cgroups":
            if _parse_bool(value, opt):
                raise UnsupportedError(f'--security-opt "{opt}" is not supported by Orlop')
        else:
            raise InvalidParameterError(f'invalid --security-opt 2: "{opt}"')
    if seccomp == PROFILE_DEFAULT:
        seccomp = ""
    return SecurityOptions(seccomp_profile=seccomp, no_new_privileges=nnp)
