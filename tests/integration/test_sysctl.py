"""--sysctl: namespaced sysctls set inside the container only; the host never changes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness import Orlop

HAVE_CRUN = os.path.exists("/usr/bin/crun")
RUNTIMES = ["orlop", pytest.param("crun", marks=pytest.mark.skipif(
    not HAVE_CRUN, reason="crun is not installed"))]
# one of each namespace kind: network, IPC, POSIX message queues (IPC)
SYSCTLS = ("net.ipv4.ip_unprivileged_port_start", "kernel.shmmni", "fs.mqueue.msg_max")


def _host(name: str) -> str:
    return Path("/proc/sys", *name.split(".")).read_text().strip()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_sysctl_set_in_container_host_unchanged(bb: Orlop, runtime: str) -> None:
    before = {name: _host(name) for name in SYSCTLS}
    # values that differ from the host's, so that seeing them proves they were written
    wanted = {name: str(int(value) - 1) for name, value in before.items()}
    flags = [arg for name, value in wanted.items() for arg in ("--sysctl", f"{name}={value}")]
    paths = " ".join("/proc/sys/" + name.replace(".", "/") for name in SYSCTLS)
    out = bb.ok("run", "--name", "sc", "--runtime", runtime, *flags, "busybox", "cat",
                *paths.split())
    assert out.split() == list(wanted.values())
    assert {name: _host(name) for name in SYSCTLS} == before
    assert json.loads(bb.ok("inspect", "sc"))[0]["HostConfig"]["Sysctls"] == wanted


def test_sysctl_not_namespaced_refused_nothing_created(bb: Orlop) -> None:
    cases = {
        ("vm.swappiness=1",): "sysctl 'vm.swappiness=1' is not whitelisted",
        ("kernel.hostname=x",): "sysctl 'kernel.hostname=x' is not whitelisted",
        ("novalue",): "sysctl 'novalue' is not whitelisted",
        # the network namespace is the host's: net.* would change the host
        ("net.ipv4.ip_unprivileged_port_start=80", "--network", "host"):
            'sysctl "net.ipv4.ip_unprivileged_port_start" is not allowed in the hosts '
            "network namespace",
    }
    for (value, *more), text in cases.items():
        res = bb("create", "--sysctl", value, *more, "busybox", "true")
        assert res.returncode == 125, (value, res.stderr)
        assert text in res.stderr, (value, res.stderr)
    assert bb.ok("ps", "-aq") == ""


def test_sysctl_unknown_name_fails_at_start(bb: Orlop) -> None:
    res = bb("run", "--rm", "--sysctl", "net.ipv4.no_such_knob=1", "busybox", "true")
    assert res.returncode == 125
    assert "open /proc/sys/net/ipv4/no_such_knob: no such file or directory" in res.stderr
