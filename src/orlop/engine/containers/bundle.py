"""Turn a container into an OCI runtime bundle: config.json plus a rootfs path.

The bundle is the contract with every runtime (the built-in one, crun, runc).  The
overlay rootfs is described by ``org.orlop.overlay.*`` annotations: the built-in
runtime mounts it inside the container's own mount namespace, so no container mount
ever shows in the host's mount table; for an external runtime the engine mounts it
on the host first, as Docker does.

The spec is typed (``runtime.spec.Spec``) from the start: the engine adjusts the
runtime's ``default_spec()``, writes it with ``Spec.save`` for crun/runc, and hands the
same object to the built-in runtime's ``launch()``; no second copy of Docker's defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from orlop.engine.containers.users import ResolvedUser
from orlop.runtime.spec import (
    ANNOTATION_LOWERDIR,
    ANNOTATION_UPPERDIR,
    ANNOTATION_WORKDIR,
    DEFAULT_PATH,
    Mount,
    Namespace,
    Spec,
    User,
    default_spec,
)


def build_spec(
    *,
    args: Sequence[str],
    env: Sequence[str],
    cwd: str,
    user: ResolvedUser,
    hostname: str,
    terminal: bool,
    rootfs: Path,
    readonly_rootfs: bool,
    network: str,
    lower_dirs: Sequence[Path],
    upper_dir: Path,
    work_dir: Path,
    extra_mounts: Sequence[Mount],
    netns: str = "",
) -> Spec:
    """The config.json for one container start: the runtime's ``default_spec()`` (Docker's
    defaults, one copy) adjusted for this container.  ``lower_dirs`` bottom layer first;
    ``netns``: the path of a network namespace to join instead of making one."""
    spec = default_spec(list(args), str(rootfs))
    process = spec.process
    process.terminal = terminal
    process.user = User(uid=user.uid, gid=user.gid,
                        additional_gids=list(user.additional_gids))
    process.env = list(env)
    process.cwd = cwd or "/"
    # Docker's default: off (--security-opt no-new-privileges turns it on); the
    # seccomp filter is loaded without it, while the init still has
    # CAP_SYS_ADMIN (runtime/procsetup.finalize_namespace).
    process.no_new_privileges = False
    spec.root.readonly = readonly_rootfs
    spec.hostname = hostname
    spec.mounts.extend(extra_mounts)
    spec.annotations.update({
        ANNOTATION_LOWERDIR: ":".join(str(d) for d in reversed(lower_dirs)),
        ANNOTATION_UPPERDIR: str(upper_dir),
        ANNOTATION_WORKDIR: str(work_dir),
    })
    namespaces = [ns for ns in spec.linux.namespaces if ns.type != "network"]
    if netns:  # prepared by the engine (netavark) or another container's: joined
        namespaces.append(Namespace("network", netns))
    elif network != "host":
        namespaces.append(Namespace("network"))
    spec.linux.namespaces = namespaces
    return spec


def process_env(image_env: Sequence[str], user_env: Sequence[str], hostname: str,
                home: str, terminal: bool, *, keep_bare: bool = False) -> list[str]:
    """Docker's environment: PATH and HOSTNAME first, then the image's, then the user's
    (a later KEY= replaces an earlier one, keeping its position).

    An entry without ``=`` (``-e FOO`` with FOO unset where the client ran, API
    ``Env: ["Foo"]``) is kept as given in ``Config.Env`` (``keep_bare``, for inspect),
    as dockerd does, and left out of the process's environment, as runc does."""
    merged: dict[str, str | None] = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname}
    for item in [*image_env, *user_env]:
        key, sep, value = item.partition("=")
        if not sep:
            if keep_bare:
                merged[key] = None
            continue
        merged[key] = value
    if terminal:
        merged.setdefault("TERM", "xterm")
    merged.setdefault("HOME", home or "/root")
    return [k if v is None else f"{k}={v}" for k, v in merged.items()]

