"""docker-py's own integration suite (tag 7.2.0, vendored unmodified in dockerpy_suite/)
run against orlopd.

The suite runs in a pytest subprocess with ``DOCKER_HOST`` at an orlopd on a private root;
its images are the local busybox image under the names the suite uses (no pull), and
orlopd's registry traffic goes to a dead loopback proxy, so nothing leaves the machine
(dockerpy_suite/README.md).  A test fails here when a suite test fails that is not in
dockerpy_expected_failures.txt, or when a listed one passes (the list must shrink).

The whole suite takes minutes, so it is ``slow``; the default run takes a representative
subset (``SUBSET``).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import Server, start_server, stop_server

docker = pytest.importorskip("docker")
pytest.importorskip("paramiko")  # the suite's helpers import it (docker's ssh extra)

HERE = Path(__file__).resolve().parent
SUITE = HERE / "dockerpy_suite"
EXPECTED = HERE / "dockerpy_expected_failures.txt"
# Where orlopd's registry traffic goes: a loopback port nothing listens on (the discard
# port), as an HTTP(S) proxy, so a pull fails at once and no request leaves the machine.
DEAD_PROXY = "http://127.0.0.1:9"
# One test of the suite may take this long (a hang must not stall the whole run).
PER_TEST_TIMEOUT = 90
# The default run: a few fast files across the API (the client, exec, volumes, errors,
# docker-py's regressions); the whole suite (containers, images, networks, builds,
# healthchecks, ...: ~150-230 s here) runs with ``-m slow``.  Kept small so that the
# project's default run stays well under 20 minutes on 2 cores.
SUBSET = (
    "tests/integration/api_client_test.py",
    "tests/integration/api_exec_test.py",
    "tests/integration/api_volume_test.py",
    "tests/integration/context_api_test.py",
    "tests/integration/errors_test.py",
    "tests/integration/models_volumes_test.py",
    "tests/integration/regression_test.py",
)


@dataclass(frozen=True)
class Outcome:
    nodeid: str
    outcome: str  # passed, failed, error, skipped
    message: str
    duration: float = 0.0  # seconds, setup to teardown


def _root_is_shared() -> bool:
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if fields[4] == "/":
            return any(f.startswith("shared:") for f in fields[6:fields.index("-")])
    return False


# Conditions an entry can be limited to: ``[name] node id | reason``.
CONDITIONS: dict[str, Callable[[], bool]] = {
    "cgroup2": lambda: Path("/sys/fs/cgroup/cgroup.controllers").exists(),
    "private-root": lambda: not _root_is_shared(),
}


def load_expected(path: Path = EXPECTED, *, every: bool = False
                  ) -> dict[str, tuple[str, str]]:
    """``node id -> (group, reason)`` from the list: ``## group`` headings, then one
    ``node id | reason`` line per test, or ``[condition] node id | reason`` for a failure
    expected only on some machines (CONDITIONS); ``every``: whatever the conditions."""
    expected: dict[str, tuple[str, str]] = {}
    group = ""
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("# "):
            continue
        if line.startswith("## "):
            group = line[3:].strip()
            continue
        nodeid, sep, reason = line.partition(" | ")
        assert sep and reason.strip() and group, f"{path.name}:{n}: 'node id | reason' " \
            "under a '## group' heading expected"
        if nodeid.startswith("["):
            cond, _, nodeid = nodeid[1:].partition("] ")
            assert cond in CONDITIONS, f"{path.name}:{n}: unknown condition [{cond}]"
            if not every and not CONDITIONS[cond]():
                continue
        assert nodeid not in expected, f"{path.name}:{n}: {nodeid} listed twice"
        expected[nodeid.strip()] = (group, reason.strip())
    return expected


# What the suite needs of alpine:3.10 beyond busybox: its ``postgres`` user (70:70, an
# exec test runs ``whoami`` as it) and its ``/var/opt`` (an exec test's workdir).
ALPINE_USERS = {"etc/passwd": b"postgres:x:70:70::/var/lib/postgresql:/bin/sh\n",
                "etc/group": b"postgres:x:70:\n"}
ALPINE_DIRS = ("var/opt",)


def alpine_standin(busybox_tar: Path, out: Path) -> Path:
    """The busybox rootfs with the parts of alpine:3.10 the suite relies on."""
    with tarfile.open(busybox_tar) as src, tarfile.open(out, "w") as dst:
        for m in src.getmembers():
            data = src.extractfile(m) if m.isfile() else None
            extra = ALPINE_USERS.get(m.name.removeprefix("./"))
            if data is not None and extra is not None:
                body = data.read() + extra
                m.size = len(body)
                dst.addfile(m, io.BytesIO(body))
            else:
                dst.addfile(m, data)
        for d in ALPINE_DIRS:
            info = tarfile.TarInfo("./" + d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 0
            dst.addfile(info)
    return out


def load_image(server: Server, busybox_tar: Path, work: Path) -> str:
    """The suite's images: the alpine stand-in imported as ``alpine:3.10`` with alpine's
    config (``/bin/sh`` as the command), tagged with the other names; returns its id."""
    c = docker.APIClient(base_url=server.host, version="auto", timeout=120)
    try:
        tar = alpine_standin(busybox_tar, work / "alpine-standin.tar")
        c.import_image_from_file(str(tar), repository="alpine", tag="3.10", changes=[
            'CMD ["/bin/sh"]',
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
        image_id: str = c.inspect_image("alpine:3.10")["Id"]
        for name in ("alpine:latest", "busybox:latest", "hello-world:latest"):
            repo, tag = name.split(":")
            c.tag(image_id, repo, tag)
        return image_id
    finally:
        c.close()


def run_suite(server: Server, image_id: str, work: Path, selection: tuple[str, ...],
              timeout: float) -> dict[str, Outcome]:
    """Run the vendored suite (``selection``: paths or node ids relative to it) in a
    pytest subprocess against ``server``; each test's outcome by node id."""
    report = work / "report.jsonl"
    ini = work / "pytest.ini"
    # docker-py's own pytest.ini (its repository root), plus a per-test timeout.
    ini.write_text(f"[pytest]\naddopts = --tb=short -rxs\ntimeout = {PER_TEST_TIMEOUT}\n")
    # A config.json of its own: docker-py keeps its contexts beside it (with none found
    # they would land in the working directory).
    config = work / "docker-config"
    config.mkdir()
    (config / "config.json").write_text("{}\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DOCKER_", "PYTEST_")) and k != "PYTHONPATH"}
    env.update({
        "DOCKER_HOST": server.host,
        "DOCKER_CONFIG": str(config),
        "PYTHONPATH": str(HERE),  # dockerpy_plugin
        "PYTHONDONTWRITEBYTECODE": "1",  # the vendored tree stays as checked in
        "ORLOP_DOCKERPY_REPORT": str(report),
        "ORLOP_DOCKERPY_IMAGE": image_id,
    })
    cmd = [sys.executable, "-m", "pytest", "-c", str(ini), "--rootdir", str(SUITE),
           "--confcutdir", str(SUITE), "-p", "no:cacheprovider", "-p", "dockerpy_plugin",
           "-q", *(str(SUITE / s) for s in selection)]
    res = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True,
                         timeout=timeout, check=False)
    if not report.exists():
        raise AssertionError(f"the suite reported nothing (exit {res.returncode}):\n"
                             f"{res.stdout[-4000:]}\n{res.stderr[-4000:]}")
    outcomes: dict[str, Outcome] = {}
    for line in report.read_text().splitlines():
        d = json.loads(line)
        outcomes[d["nodeid"]] = Outcome(d["nodeid"], d["outcome"], d["message"],
                                        d.get("duration", 0.0))
    return outcomes


def leave_nothing(server: Server) -> None:
    """The suite leaves containers running (and networks): removed before orlopd stops,
    since a detached container's monitor outlives it."""
    c = docker.APIClient(base_url=server.host, version="auto", timeout=120)
    try:
        for ct in c.containers(all=True):
            with contextlib.suppress(docker.errors.APIError):
                c.remove_container(ct["Id"], force=True, v=True)
        with contextlib.suppress(docker.errors.APIError):
            c.prune_networks()
    finally:
        c.close()


def check(outcomes: dict[str, Outcome], expected: dict[str, tuple[str, str]]) -> None:
    failed = {o.nodeid: o for o in outcomes.values() if o.outcome in ("failed", "error")}
    unexpected = sorted(set(failed) - set(expected))
    now_pass = sorted(n for n in expected if n in outcomes
                      and outcomes[n].outcome == "passed")
    counts = {k: sum(o.outcome == k for o in outcomes.values())
              for k in ("passed", "failed", "error", "skipped")}
    print(f"docker-py suite against orlopd: {counts}, "
          f"{len(set(failed) & set(expected))} of them expected")
    problems = [f"{n}: failed, not an expected failure\n{failed[n].message}\n"
                for n in unexpected]
    problems += [f"{n}: listed as an expected failure ({expected[n][0]}) but passes: "
                 f"take it off {EXPECTED.name}" for n in now_pass]
    assert not problems, "\n".join(problems)


def _run(server_dir: Path, busybox_tar: Path, selection: tuple[str, ...],
         timeout: float) -> None:
    assert docker.__version__ == "7.2.0", (
        f"the vendored suite is docker-py 7.2.0's; docker {docker.__version__} is installed "
        "(scripts/setup.sh installs the pinned one)")
    expected = load_expected()
    env = {"HTTP_PROXY": DEAD_PROXY, "HTTPS_PROXY": DEAD_PROXY, "NO_PROXY": ""}
    server = start_server(server_dir, env=env)
    try:
        work = server_dir / "dockerpy"
        work.mkdir()
        image_id = load_image(server, busybox_tar, work)
        outcomes = run_suite(server, image_id, work, selection, timeout)
    finally:
        leave_nothing(server)
        stop_server(server)
    check(outcomes, expected)


def test_expected_failures_list_is_well_formed() -> None:
    expected = load_expected(every=True)
    for nodeid in expected:
        path, *_, name = nodeid.split("::")
        assert (SUITE / path).is_file(), f"{nodeid}: no such file in the vendored suite"
        assert f"def {name}(" in (SUITE / path).read_text(), f"{nodeid}: no such test"


@pytest.mark.timeout(600)
@pytest.mark.slow  # the default run was near 20 min on 2 cores; -m slow runs it
def test_dockerpy_suite_subset(server_dir: Path, busybox_tar: Path) -> None:
    _run(server_dir, busybox_tar, SUBSET, timeout=540)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_dockerpy_suite_whole(server_dir: Path, busybox_tar: Path) -> None:
    _run(server_dir, busybox_tar, ("tests/integration",), timeout=3500)
