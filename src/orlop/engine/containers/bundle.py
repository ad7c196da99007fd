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


def replace_or_append(defaults: Sequence[str], overrides: Sequence[str]) -> list[str]:
    """moby's ``ReplaceOrAppendEnvValues``: an override ``KEY=v`` replaces the default
    of that key in place or is appended; a bare ``KEY`` removes a default and is itself
    dropped (only the defaults are looked up: a bare key after an appended one does not
    remove it)."""
    out: list[str | None] = list(defaults)
    index = {item.partition("=")[0]: i for i, item in enumerate(defaults)}
    for item in overrides:
        key, sep, _ = item.partition("=")
        if not sep:
            if key in index:
                out[index[key]] = None
            continue
        if key in index:
            out[index[key]] = item
        else:
            out.append(item)
    return [item for item in out if item is not None]


def process_env(config_env: Sequence[str], hostname: str, home: str, terminal: bool,
                extra: Sequence[str] = (), *, linked: Sequence[str] = ()) -> list[str]:
    """The process's environment as dockerd and runc make it: moby's defaults (PATH,
    HOSTNAME, TERM on a terminal) with the container's ``Config.Env`` on top, then
    ``extra`` (an exec's ``-e``) on top of that (``replace_or_append`` each time); runc
    sets the entries one by one, so a repeated key keeps its first place and its last
    value; and HOME, if still unset, is the user's home (runc's ``setupUser``).
    ``linked``: the legacy links' variables, among the defaults (moby's
    ``CreateDaemonEnvironment``), so ``Config.Env`` overrides them."""
    defaults = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}"]
    if terminal:
        defaults.append("TERM=xterm")
    defaults += linked
    env = replace_or_append(defaults, config_env)
    if extra:
        env = replace_or_append(env, extra)
    merged: dict[str, str] = {}
    for item in env:
        key, _, value = item.partition("=")
        merged[key] = value
    merged.setdefault("HOME", home or "/root")
    return [f"{k}={v}" for k, v in merged.items()]
