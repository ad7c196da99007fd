"""Seccomp, --security-opt and --sysctl through orlopd, driven by the real docker CLI and
docker-compose (HostConfig.SecurityOpt and HostConfig.Sysctls)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import Server


def test_docker_cli_seccomp_profile_file_nnp_and_sysctl(bbd: Server) -> None:
    profile = bbd.dir / "nomkdir.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}))
    # the docker CLI reads the file and sends its JSON in SecurityOpt
    res = bbd.docker("run", "--rm", "--security-opt", f"seccomp={profile}", "busybox",
                     "mkdir", "/x")
    assert res.returncode == 1 and "Operation not permitted" in res.stderr
    out = bbd.ok("run", "--rm", "--security-opt", "no-new-privileges", "--sysctl",
                 "kernel.shmmni=1234", "busybox", "sh", "-c",
                 "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; "
                 "cat /proc/sys/kernel/shmmni")
    assert out.split() == ["NoNewPrivs:", "1", "Seccomp:", "2", "1234"]
    assert json.loads(bbd.ok("info", "--format", "{{json .SecurityOptions}}")) == [
        "name=seccomp,profile=builtin"]


def test_api_refuses_host_sysctl_and_unknown_security_opt(bbd: Server) -> None:
    for host, text in (
        ({"Sysctls": {"vm.swappiness": "1"}},
         'sysctl "vm.swappiness" is not in a separate kernel namespace'),
        ({"SecurityOpt": ["seccomp"]}, 'invalid --security-opt 1: "seccomp"'),
        ({"SecurityOpt": ["seccomp={nope"]}, "Decoding seccomp profile failed"),
    ):
        body = json.dumps({"Image": "busybox", "Cmd": ["true"], "HostConfig": host}).encode()
        status, _, data = bbd.raw("POST", "/v1.41/containers/create", body,
                                  {"Content-Type": "application/json"})
        assert status == 400 and text in json.loads(data)["message"], (host, data)
    assert bbd.ok("ps", "-aq") == ""


COMPOSE = """\
version: "3.7"
services:
  box:
    image: busybox
    command: sh -c "sleep 1; grep '^Seccomp:' /proc/self/status; cat /proc/sys/kernel/shmmni"
    security_opt:
      - seccomp:unconfined
    sysctls:
      kernel.shmmni: 2345
"""


def test_compose_security_opt_and_sysctls(bbd: Server) -> None:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed (scripts/setup.sh installs it)")
    app = Path(bbd.dir) / "app"
    app.mkdir()
    (app / "docker-compose.yml").write_text(COMPOSE)
    env = {**os.environ, "DOCKER_HOST": bbd.host, "COMPOSE_INTERACTIVE_NO_CLI": "1"}
    # The sleep: compose 1.29's dockerpty attaches lazily (a Python 3 ``map``), i.e. after
    # the start, with logs=0, so output a container writes before that is lost with any
    # engine; Orlop starts fast enough to lose it about once in six runs.
    res = subprocess.run([exe, "-p", "sec", "run", "--rm", "box"], cwd=app, env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["Seccomp:", "0", "2345"]
