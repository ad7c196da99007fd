"""Orlop and a real dockerd (Debian's docker.io, 20.10) exchanging images through one
registry (Debian's docker-registry) on 127.0.0.1: what Orlop pushes, dockerd pulls and
runs under the same image id; what dockerd pushes (gzip layers, its own config), Orlop
pulls and runs under the same image id.

The dockerd is private (tests/dockerd_util.py): temporary socket, data-root, exec-root,
no bridge, no iptables; stopped by pid and its roots unmounted and removed on teardown.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockerd_util import Dockerd, start_dockerd
from registry_util import Registry, needs_registry, push_imported, run_orlop

pytestmark = needs_registry


@pytest.fixture
def dockerd(registry: Registry) -> Iterator[Dockerd]:
    d, why = start_dockerd(insecure=(registry.host,))
    if d is None:
        pytest.skip(f"a private dockerd cannot start on this machine: {why}")
    try:
        yield d
    finally:
        d.stop()


def test_dockerd_pulls_and_runs_what_orlop_pushed(
        server_dir: Path, registry: Registry, dockerd: Dockerd, busybox_tar: Path) -> None:
    ref, want, digest = push_imported(server_dir, registry.host, busybox_tar)

    out = dockerd.ok("pull", ref)
    assert "v1: Pulling from interop/bb" in out
    assert f"Digest: {digest}" in out
    assert f"Status: Downloaded newer image for {ref}" in out
    assert dockerd.ok("image", "inspect", "-f", "{{.Id}}", ref).strip() == want
    assert dockerd.ok("image", "inspect", "-f", "{{index .RepoDigests 0}}", ref).strip() \
        == f"{registry.host}/interop/bb@{digest}"
    assert dockerd.ok("run", "--rm", "--network", "none", ref,
                      "sh", "-c", "echo from-orlop").strip() == "from-orlop"


def test_orlop_pulls_and_runs_what_dockerd_pushed(
        server_dir: Path, registry: Registry, dockerd: Dockerd, busybox_tar: Path) -> None:
    ref = f"{registry.host}/interop/fromdocker:v2"
    # dockerd's own image: its import writes the config, its push gzips the layer.
    dockerd.ok("import", "-c", 'CMD ["/bin/sh"]', "-c", "ENV FROM=dockerd",
               str(busybox_tar), ref)
    want = dockerd.ok("image", "inspect", "-f", "{{.Id}}", ref).strip()
    out = dockerd.ok("push", ref)
    assert "v2: digest: sha256:" in out
    digest = out.split("v2: digest: ", 1)[1].split()[0]

    root = server_dir / "root"
    t0 = time.time()
    out = run_orlop(root, server_dir, "pull", ref)
    assert out.splitlines()[0] == "v2: Pulling from interop/fromdocker"
    assert f"Digest: {digest}" in out
    assert out.splitlines()[-1] == ref
    assert run_orlop(root, server_dir, "image", "inspect", "-f", "{{.Id}}", ref).strip() == want
    assert run_orlop(root, server_dir, "run", "--rm", "--network", "none", ref,
                  "sh", "-c", "echo $FROM").strip() == "dockerd"
    # And back: Orlop pushes it again under another tag, dockerd pulls that, same id.
    again = f"{registry.host}/interop/fromdocker:again"
    run_orlop(root, server_dir, "tag", ref, again)
    run_orlop(root, server_dir, "push", again)
    dockerd.ok("rmi", ref)
    dockerd.ok("pull", again)
    assert dockerd.ok("image", "inspect", "-f", "{{.Id}}", again).strip() == want

    # The pull/push events: the same shape from both daemons.
    def events(lines: str) -> list[tuple[str, str, str, dict[str, str]]]:
        evs = [json.loads(ln) for ln in lines.splitlines()]
        return [(e["Action"], e["id"], e["Actor"]["ID"], e["Actor"]["Attributes"])
                for e in evs if e["Action"] in ("pull", "push")]

    until = f"{time.time():.9f}"
    repo = f"{registry.host}/interop/fromdocker"
    theirs = events(dockerd.ok("events", "--since", f"{t0:.9f}", "--until", until,
                               "--format", "{{json .}}"))
    ours = events(run_orlop(root, server_dir, "events", "--since", f"{t0:.9f}", "--until",
                         until, "--format", "{{json .}}"))
    assert theirs == [("pull", again, again, {"name": repo})]
    assert ours == [("pull", ref, ref, {"name": repo}), ("push", again, again, {"name": repo})]
