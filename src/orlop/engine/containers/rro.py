"""Can this kernel and this runtime make a bind mount recursively read-only (``rro``)?

moby ``supportsRecursivelyReadOnly``: the kernel needs mount_setattr(2) (Linux >= 5.12)
and the OCI runtime must list ``rro`` among the mount options of ``RUNTIME features``.
The built-in runtime applies ``rro`` with ``mount_setattr(AT_RECURSIVE)``; crun has
understood ``rro`` since before it had a ``features`` verb (1.8.1, the version on
Debian 12, knows the option but not the verb), so a crun without ``features`` is
asked its version.  The answer is cached per runtime for the life of the process.
"""

from __future__ import annotations

import functools
import json
import os
import re

BUILTIN_RUNTIME = "orlop"
# The oldest crun checked to apply "rro" (tests/integration/test_mount_security.py).
CRUN_RRO_SINCE = (1, 8)


@functools.cache
def recursive_ro_error(runtime: str) -> str | None:
    """``None`` when ``rro`` works with ``runtime``; otherwise Docker's reason text."""
    import shutil

    from orlop.kernel.fs import mount_setattr_supported

    if not mount_setattr_supported():
        return "rro is not supported: mount_setattr is unavailable (kernel is older than 5.12?)"
    if runtime == BUILTIN_RUNTIME:
        return None
    exe = runtime if "/" in runtime else shutil.which(runtime)
    if not exe:
        return f'rro is not supported by runtime "{runtime}": not found'
    options = _feature_mount_options(exe)
    if options is None:
        if os.path.basename(exe) == "crun" and _crun_version(exe) >= CRUN_RRO_SINCE:
            return None
        return (f"rro is not supported by runtime \"{runtime}\": "
                "OCI features struct is not available")
    if "rro" not in options:
        return f"rro is not supported by runtime \"{runtime}\""
    return None


def _feature_mount_options(exe: str) -> list[str] | None:
    """``mountOptions`` of ``EXE features`` (OCI runtime-spec features), or None."""
    import subprocess  # here: only an external runtime is asked

    try:
        res = subprocess.run([exe, "features"], capture_output=True, text=True, timeout=10,
                             check=False)
        data = json.loads(res.stdout) if res.returncode == 0 else None
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    options = data.get("mountOptions") if isinstance(data, dict) else None
    if not isinstance(options, list):
        return None
    return [o for o in options if isinstance(o, str)]


def _crun_version(exe: str) -> tuple[int, int]:
    import subprocess  # here: only an external runtime is asked

    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10,
                             check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return (0, 0)
    m = re.search(r"crun version (\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)
