"""Orlop and Podman (Debian's podman 4.3) exchanging images through one registry (Debian's
docker-registry) on 127.0.0.1: what Orlop pushes, Podman pulls under the same image id;
what Podman pushes (its own ``podman import`` config and layer), Orlop pulls and runs
under the same image id.

Podman only imports, pushes, pulls and inspects here (no container is run).  All its state
is private: ``--root``/``--runroot``/``--tmpdir``/``--network-config-dir`` in a temporary
directory, a registries.conf with no search registries, and it runs in its own mount
namespace with tmpfs over ``/var/lib`` and ``/run``, because containers/image writes its
blob-info cache to ``/var/lib/containers/cache`` and netavark its state to
``/run/containers`` whatever ``--root`` says.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from registry_util import Registry, needs_registry, push_imported, run_orlop

PODMAN = shutil.which("podman")
pytestmark = [needs_registry,
              pytest.mark.skipif(PODMAN is None, reason="podman (Debian package) is not installed")]

_PRIVATE_MOUNTS = ('mount -t tmpfs podman-var /var/lib && mount -t tmpfs podman-run /run'
                   ' && exec "$@"')


@dataclass
class Podman:
    dir: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        d = self.dir
        env = {**os.environ, "CONTAINERS_REGISTRIES_CONF": str(d / "registries.conf"),
               "CONTAINERS_CONF": str(d / "containers.conf"),
               "CONTAINERS_STORAGE_CONF": str(d / "storage.conf"),
               "XDG_RUNTIME_DIR": str(d / "xdg")}
        cmd = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
               _PRIVATE_MOUNTS, "sh", str(PODMAN), "--root", str(d / "storage"),
               "--runroot", str(d / "run"), "--storage-driver", "vfs",
               "--tmpdir", str(d / "tmp"), "--network-config-dir", str(d / "net"),
               "--cgroup-manager", "cgroupfs", "--events-backend", "none", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env,
                              check=False)

    def ok(self, *args: str) -> str:
        res = self.run(*args)
        assert res.returncode == 0, f"podman {' '.join(args)}: {res.stdout}{res.stderr}"
        return res.stdout


@pytest.fixture
def podman(server_dir: Path) -> Iterator[Podman]:
    d = server_dir / "podman"
    for sub in ("storage", "run", "tmp", "net", "xdg"):
        (d / sub).mkdir(parents=True)
    (d / "registries.conf").write_text("unqualified-search-registries = []\n")
    (d / "containers.conf").write_text("")
    (d / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{d / "storage"}"\nrunroot = "{d / "run"}"\n')
    pm = Podman(d)
    probe = pm.run("info", "--format", "{{.Store.GraphDriverName}}")
    if probe.returncode != 0:
        pytest.skip(f"podman cannot run with private state here: {probe.stderr.strip()}")
    try:
        yield pm
    finally:
        # vfs layers are plain directories; nothing is mounted outside podman's namespace.
        shutil.rmtree(d, ignore_errors=True)


def test_podman_pulls_what_orlop_pushed(
        server_dir: Path, registry: Registry, podman: Podman, busybox_tar: Path) -> None:
    ref, want, digest = push_imported(server_dir, registry.host, busybox_tar)

    podman.ok("pull", "--tls-verify=false", ref)
    assert "sha256:" + podman.ok("image", "inspect", "--format", "{{.Id}}", ref).strip() == want
    assert podman.ok("image", "inspect", "--format", "{{.Digest}}", ref).strip() == digest


def test_orlop_pulls_and_runs_what_podman_pushed(
        server_dir: Path, registry: Registry, podman: Podman, busybox_tar: Path) -> None:
    ref = f"{registry.host}/interop/frompodman:v2"
    podman.ok("import", "--change", 'CMD ["/bin/sh"]', "--change", "ENV FROM=podman",
              str(busybox_tar), ref)
    want = "sha256:" + podman.ok("image", "inspect", "--format", "{{.Id}}", ref).strip()
    podman.ok("push", "--tls-verify=false", ref)

    root = server_dir / "root"
    out = run_orlop(root, server_dir, "pull", ref)
    assert out.splitlines()[-1] == ref
    assert run_orlop(root, server_dir, "image", "inspect", "-f", "{{.Id}}", ref).strip() == want
    assert run_orlop(root, server_dir, "run", "--rm", "--network", "none", ref,
                  "sh", "-c", "echo $FROM").strip() == "podman"
