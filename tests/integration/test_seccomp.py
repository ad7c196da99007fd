"""Seccomp: Docker's default profile in real containers, under both runtimes.

A small static C program (data/syscalls.c, built with the host's gcc) makes each raw
syscall and prints its errno, so the tests tell seccomp's EPERM from the kernel's own
answer: where the filter allows a call, the arguments make the kernel fail it with
another errno (or succeed harmlessly); nothing here can change the host.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import Orlop

HAVE_CRUN = os.path.exists("/usr/bin/crun")
RUNTIMES = ["orlop", pytest.param("crun", marks=pytest.mark.skipif(
    not HAVE_CRUN, reason="crun is not installed"))]
SOURCE = Path(__file__).parent / "data" / "syscalls.c"
CALLS = ["unshare-user", "unshare-mount", "mount", "keyctl", "bpf", "ptrace", "kcmp",
         "clock_settime", "clone3", "personality", "vsock"]


@pytest.fixture(scope="session")
def syscalls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the static test program, bound read-only into containers."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed: cannot build the static syscall helper")
    out = tmp_path_factory.mktemp("orlop-syscalls")
    res = subprocess.run([gcc, "-static", "-O2", "-o", str(out / "sc"), str(SOURCE)],
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        pytest.skip(f"cannot build a static binary (libc6-dev?): {res.stderr[-300:]}")
    return out


def _calls(bb: Orlop, helper: Path, *flags: str) -> dict[str, str]:
    out = bb.ok("run", "--rm", *flags, "-v", f"{helper}:/t:ro", "busybox", "/t/sc", *CALLS)
    return dict(line.split() for line in out.splitlines())


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_seccomp_default_profile_denies_what_docker_denies(bb: Orlop, syscalls_dir: Path,
                                                          runtime: str) -> None:
    got = _calls(bb, syscalls_dir, "--runtime", runtime)
    assert got == {
        # gated by CAP_SYS_ADMIN in the profile: the root of CVE-2022-0185-style
        # exploits (a user namespace gives an unprivileged process CAP_SYS_ADMIN)
        "unshare-user": "EPERM", "unshare-mount": "EPERM", "mount": "EPERM",
        "keyctl": "EPERM",  # never allowed: the keyring is not namespaced
        "bpf": "EPERM", "kcmp": "EPERM", "clock_settime": "EPERM",
        "clone3": "ENOSYS",  # so that libcs fall back to clone, whose flags are checked
        "personality": "EPERM",  # only the listed personas
        "vsock": "EPERM",  # socket(AF_VSOCK) is refused by an argument rule
        # Docker's profile allows ptrace on kernels >= 4.8 (it checks the tracer's
        # capabilities itself since then); see test_ptrace_non_child_needs_privilege
        "ptrace": "OK",
    }
    status = bb.ok("run", "--rm", "--runtime", runtime, "busybox", "grep", "-E",
                   "^(Seccomp|NoNewPrivs):", "/proc/self/status")
    assert status.split() == ["NoNewPrivs:", "0", "Seccomp:", "2"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_seccomp_capabilities_open_the_groups_they_gate(bb: Orlop, syscalls_dir: Path,
                                                       runtime: str) -> None:
    admin = _calls(bb, syscalls_dir, "--runtime", runtime, "--cap-add", "SYS_ADMIN")
    assert admin["unshare-mount"] == admin["mount"] == admin["unshare-user"] == "OK"
    assert admin["bpf"] == "EINVAL"  # let through to the kernel, which refuses cmd 9999
    assert admin["clone3"] == "EINVAL"
    assert admin["keyctl"] == "EPERM"  # not a capability matter in the profile
    # invalid clock: EINVAL proves the filter let it through; the clock is not touched
    assert _calls(bb, syscalls_dir, "--runtime", runtime,
                  "--cap-add", "SYS_TIME")["clock_settime"] == "EINVAL"
    assert _calls(bb, syscalls_dir, "--runtime", runtime,
                  "--cap-add", "SYS_PTRACE")["kcmp"] == "OK"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_seccomp_unconfined_has_no_filter(bb: Orlop, syscalls_dir: Path,
                                          runtime: str) -> None:
    got = _calls(bb, syscalls_dir, "--runtime", runtime, "--security-opt",
                 "seccomp=unconfined")
    assert got["unshare-user"] == got["keyctl"] == got["personality"] == "OK"
    assert got["clock_settime"] == got["clone3"] == "EINVAL"
    assert got["unshare-mount"] == "EPERM"  # the kernel's answer: no CAP_SYS_ADMIN
    status = bb.ok("run", "--rm", "--runtime", runtime, "--security-opt",
                   "seccomp=unconfined", "busybox", "grep", "^Seccomp:", "/proc/self/status")
    assert status.split() == ["Seccomp:", "0"]


def test_ptrace_non_child_needs_privilege(bb: Orlop, syscalls_dir: Path) -> None:
    """Docker's profile lets ptrace through (kernel >= 4.8) and relies on the kernel's
    own check: a non-root process cannot attach to PID 1 (root), root in the container
    can, as with Docker.  exec'd processes get the container's filter too."""
    bb.ok("run", "-d", "--name", "tr", "-v", f"{syscalls_dir}:/t:ro", "busybox", "sleep",
          "60")
    try:
        user = bb.ok("exec", "-u", "1000", "tr", "/t/sc", "ptrace", "unshare-user")
        assert user.split() == ["ptrace", "EPERM", "unshare-user", "EPERM"]
        root = bb.ok("exec", "tr", "/t/sc", "ptrace", "keyctl")
        assert root.split() == ["ptrace", "OK", "keyctl", "EPERM"]
    finally:
        bb("rm", "-f", "tr")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_seccomp_custom_profile_file_is_applied(bb: Orlop, runtime: str) -> None:
    profile = bb.cwd / "nomkdir.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
    }, indent=2))
    res = bb("run", "--name", "nomk", "--runtime", runtime, "--security-opt",
             f"seccomp={profile}", "busybox", "sh", "-c", "mkdir /x; echo rc=$?; touch /y")
    assert res.returncode == 0, res.stderr
    assert "rc=1" in res.stdout and "Operation not permitted" in res.stderr
    # Docker's CLI sends the file's content, compacted; inspect shows it so.
    info = json.loads(bb.ok("inspect", "nomk"))[0]
    compact = json.dumps(json.loads(profile.read_text()), separators=(",", ":"))
    assert info["HostConfig"]["SecurityOpt"] == [f"seccomp={compact}"]


def test_no_new_privileges_option(bb: Orlop) -> None:
    for opt, want in (("no-new-privileges", "1"), ("no-new-privileges=true", "1"),
                      ("no-new-privileges=false", "0")):
        out = bb.ok("run", "--rm", "--security-opt", opt, "busybox", "grep", "-E",
                    "^(Seccomp|NoNewPrivs):", "/proc/self/status")
        assert out.split() == ["NoNewPrivs:", want, "Seccomp:", "2"], opt


def test_security_opt_bad_values_refused_nothing_created(bb: Orlop) -> None:
    bad_json = bb.cwd / "bad.json"
    bad_json.write_text("{not json")
    both = bb.cwd / "both.json"
    both.write_text(json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["x"],
                                "archMap": [{"architecture": "x"}], "syscalls": []}))
    cases = {
        "seccomp=/nonexistent/profile.json": "opening seccomp profile (/nonexistent/profile"
                                             ".json) failed",
        f"seccomp={bad_json}": f"compacting json for seccomp profile ({bad_json}) failed",
        f"seccomp={both}": "both 'architectures' and 'archMap' are specified",
        "foo=bar": 'invalid --security-opt 2: "foo=bar"',
        "foo": 'Invalid --security-opt: "foo"',
        "no-new-privileges=maybe": 'invalid --security-opt 2: "no-new-privileges=maybe"',
        "apparmor=docker-default": "AppArmor is not supported",
        "label=type:svirt_t": "SELinux labels are not supported",
    }
    for opt, text in cases.items():
        res = bb("create", "--security-opt", opt, "busybox", "true")
        assert res.returncode == 125, (opt, res.stderr)
        assert text in res.stderr, (opt, res.stderr)
    assert bb.ok("ps", "-aq") == ""
    # an operator no kernel filter has: a clear error from either runtime, not a traceback
    bad_op = bb.cwd / "badop.json"
    bad_op.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_BOGUS"}]}]}))
    for runtime in ("orlop", "crun"):  # the built-in runtime and crun
        res = bb("run", "--rm", "--runtime", runtime, "--security-opt", f"seccomp={bad_op}",
                 "busybox", "true")
        assert res.returncode == 125, (runtime, res.stderr)
        assert "unknown comparison operator 'SCMP_CMP_BOGUS'" in res.stderr, res.stderr
        assert "Traceback" not in res.stderr
    assert bb.ok("ps", "-aq") == ""
    # the values that ask for no confinement are what Orlop gives anyway
    bb.ok("run", "--rm", "--security-opt", "apparmor=unconfined", "--security-opt",
          "label=disable", "busybox", "true")


def test_info_reports_seccomp_and_cache_is_used(bb: Orlop) -> None:
    info = json.loads(bb.ok("info", "--format", "{{json .}}"))
    assert info["SecurityOptions"] == ["name=seccomp,profile=builtin"]
    assert "seccomp\n   Profile: builtin" in bb.ok("info")
    bb.ok("run", "--rm", "busybox", "true")
    cache = Path(info["RunRoot"]) / "seccomp"
    programs = list(cache.glob("*.bpf"))
    assert len(programs) == 1 and cache.stat().st_mode & 0o777 == 0o700
    before = programs[0].stat().st_mtime_ns
    bb.ok("run", "--rm", "busybox", "true")  # the same profile: read, not rebuilt
    assert programs[0].stat().st_mtime_ns == before
