"""The one error tree of Orlop.

Every error carries a ``kind``; the CLI maps kinds to exit codes in one place
(``cli/main.py``) and the API server maps them to HTTP status codes in one place
(``server/errors.py``).  Messages name the offending value and, where Docker has a text for the
case, use Docker's text, so scripts that grep Docker's errors keep working.
"""

from __future__ import annotations

from enum import Enum


class ErrorKind(Enum):
    NOT_FOUND = "not_found"  # HTTP 404
    CONFLICT = "conflict"  # HTTP 409
    INVALID = "invalid"  # HTTP 400
    FORBIDDEN = "forbidden"  # HTTP 403
    UNSUPPORTED = "unsupported"  # HTTP 501
    SYSTEM = "system"  # HTTP 500


class OrlopError(Exception):
    """Base of every error Orlop raises on purpose."""

    kind: ErrorKind = ErrorKind.SYSTEM

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFoundError(OrlopError):
    kind = ErrorKind.NOT_FOUND


class ConflictError(OrlopError):
    kind = ErrorKind.CONFLICT


class InvalidParameterError(OrlopError):
    kind = ErrorKind.INVALID


class PermissionDeniedError(OrlopError):
    kind = ErrorKind.FORBIDDEN


class UnsupportedError(OrlopError):
    kind = ErrorKind.UNSUPPORTED


class SystemFailureError(OrlopError):
    kind = ErrorKind.SYSTEM


class PluginUnavailableError(SystemFailureError):
    """A Docker volume plugin that was found but does not answer (down, restarting, or
    a stale socket): names the plugin and its address, so the user knows what to start;
    nothing was changed, so the same command can simply be run again."""

    def __init__(self, plugin: str, addr: str, method: str, reason: str) -> None:
        super().__init__(f'volume plugin "{plugin}" is not available: {method} on {addr}: '
                         f"{reason} (start the plugin and retry)")
        self.plugin = plugin
        self.reason = reason


# --- not found -------------------------------------------------------------


class ContainerNotFoundError(NotFoundError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"No such container: {ref}")
        self.ref = ref


class ImageNotFoundError(NotFoundError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"No such image: {ref}")
        self.ref = ref


class VolumeNotFoundError(NotFoundError):
    def __init__(self, name: str) -> None:
        super().__init__(f"No such volume: {name}")
        self.name = name


# --- conflicts -------------------------------------------------------------


class NameConflictError(ConflictError):
    """A container name that another container already has (Docker's text)."""

    def __init__(self, name: str, owner_id: str) -> None:
        super().__init__(
            f'Conflict. The container name "/{name}" is already in use by container '
            f'"{owner_id}". You have to remove (or rename) that container to be able to reuse '
            "that name."
        )


class VolumeInUseError(ConflictError):
    def __init__(self, name: str, refs: list[str]) -> None:
        super().__init__(f"remove {name}: volume is in use - [{', '.join(refs)}]")
        self.name = name
        self.refs = refs


class ContainerStateError(ConflictError):
    pass


# --- invalid input -----------------------------------------------------------


class InvalidMountError(InvalidParameterError):
    """A -v / --mount / --tmpfs / --volumes-from spec that cannot be used."""


class InvalidMountFlagError(InvalidMountError):
    """A ``--mount`` / ``-v`` value refused by the flag parser itself (Docker's CLI side).

    Docker's CLI prints these without "Error response from daemon":
    ``invalid argument "<value>" for "--mount" flag: <message>`` for ``--mount``, the bare
    message for ``-v`` (CLI >= 23).  ``flag`` and ``value`` let Orlop's CLI do the same.
    """

    def __init__(self, message: str, *, flag: str, value: str) -> None:
        super().__init__(message)
        self.flag = flag
        self.value = value


class InvalidVolumeNameError(InvalidParameterError):
    pass


class InvalidArchiveError(InvalidParameterError):
    """A tar archive that is corrupt or tries to write outside its target."""


# --- system ------------------------------------------------------------------


class MountError(SystemFailureError):
    """A mount(2)-family call failed; reads like runc's mountError."""

    def __init__(
        self, op: str, source: str | None, target: str, flags: str, data: str | None, errno: int
    ) -> None:
        import os

        parts = [op]
        if source:
            parts.append(f"src={source},")
        parts.append(f"dst={target}")
        if flags:
            parts[-1] += ","
            parts.append(f"flags={flags}")
        if data:
            parts[-1] += ","
            parts.append(f"data={data}")
        super().__init__(" ".join(parts) + f": {os.strerror(errno)}")
        self.errno = errno


class RuntimeFailedError(SystemFailureError):
    """The OCI runtime could not start the container process."""

    def __init__(self, message: str, exit_code: int = 125) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# --- registries (orlop.distribution) -----------------------------------------


class RegistryError(SystemFailureError):
    """A registry answered with an error or could not be reached; the text is Docker's
    (``manifest unknown``, ``unauthorized: ...``) where the registry sent one."""


class RegistryAuthError(PermissionDeniedError):
    """Credentials refused, or a pull/push the registry denies (Docker's texts)."""


class PullAccessDeniedError(NotFoundError):
    """``pull access denied for x, repository does not exist or may require 'docker
    login'``: a 404 over the API, as dockerd answers it."""


class LoginFailedError(RegistryAuthError):
    """``docker login`` refused: 401 over ``POST /auth``, as dockerd."""

    http_status = 401


class ManifestNotFoundError(NotFoundError):
    """``manifest for busybox:nope not found: manifest unknown: manifest unknown``."""


class DigestMismatchError(InvalidParameterError):
    """A blob or manifest whose content does not match its digest or size: nothing of it
    is stored."""


# --- builds (orlop.build) ----------------------------------------------------------


class BuildStepError(SystemFailureError):
    """A RUN step's command failed: Docker's ``The command '/bin/sh -c false' returned a
    non-zero code: 1``; ``docker build`` exits with that code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code or 1
