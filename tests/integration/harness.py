"""The integration harness: real containers, as root, each test with its own --root.

Every test gets a fresh temporary root under /tmp (its name contains "orlop"), and on
teardown everything mounted below it is unmounted and the directory removed, so the
suite leaves no mount behind even when a test fails half-way.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testsupport import (  # noqa: F401 - mounts_under: for the tests
    busybox_tarball,
    mounts_under,
    orlop_cli,
    scratch_dir,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def busybox_tar() -> Path:
    """The busybox rootfs tarball built from Debian's busybox-static (cached in .cache/)."""
    return busybox_tarball()


@dataclass
class Orlop:
    """Runs the real `orlop` CLI against one temporary root."""

    root: Path
    cwd: Path

    def __call__(self, *args: str, input: bytes | str | None = None, check: bool = False,
                 timeout: float = 60, env: dict[str, str] | None = None,
                 ) -> subprocess.CompletedProcess[str]:
        cmd = [*orlop_cli(), "--root", str(self.root), *args]
        full_env = {**os.environ, **(env or {})}
        full_env.pop("ORLOP_ROOT", None)
        res = subprocess.run(
            cmd, check=False, input=input.decode() if isinstance(input, bytes) else input,
            capture_output=True, text=True, timeout=timeout, cwd=self.cwd, env=full_env,
        )
        if check and res.returncode != 0:
            raise AssertionError(
                f"orlop {' '.join(args)} exited {res.returncode}\n"
                f"stdout: {res.stdout}\nstderr: {res.stderr}")
        return res

    def ok(self, *args: str, **kw: object) -> str:
        """Run and require exit 0; returns stdout."""
        return self(*args, check=True, **kw).stdout  # type: ignore[arg-type]


@pytest.fixture
def tmp_orlop_dir() -> Iterator[Path]:
    with scratch_dir("orlop-test-") as d:
        yield d


@pytest.fixture
def orlop(tmp_orlop_dir: Path) -> Orlop:
    """An Orlop CLI with an empty root; cwd is a scratch dir next to it."""
    work = tmp_orlop_dir / "work"
    work.mkdir()
    return Orlop(root=tmp_orlop_dir / "root", cwd=work)


@pytest.fixture
def no_leftover_containers(tmp_orlop_dir: Path) -> Iterator[None]:
    """Detached containers outlive the CLI: remove them before the root goes."""
    yield
    o = Orlop(root=tmp_orlop_dir / "root", cwd=tmp_orlop_dir)
    if (o.root / "orlop.db").exists():
        ids = o("ps", "-aq", "--no-trunc").stdout.split()
        if ids:
            o("rm", "-f", *ids, timeout=60)


@pytest.fixture
def bb(orlop: Orlop, busybox_tar: Path) -> Orlop:
    """An Orlop CLI whose root already has busybox:latest."""
    orlop.ok("import", str(busybox_tar), "busybox:latest")
    return orlop
