"""Issue 15, containers, through the Engine API: the docker CLI, docker-py and
docker-compose against orlopd.  Each field is applied as dockerd applies it or refused
with dockerd's text (the texts and outputs are dockerd 20.10's on this kind of host)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from typing import Any

import pytest

from .conftest import Server

RUN = ("run", "--rm", "--network", "none")


def _api_error(client: Any, **kw: Any) -> tuple[int, str]:
    docker = pytest.importorskip("docker")
    with pytest.raises(docker.errors.APIError) as exc:
        client.containers.create("busybox", "true", network_mode="none", **kw)
    return exc.value.status_code, str(exc.value.explanation)


# --- the docker CLI ------------------------------------------------------------------------------


def test_docker_cli_flags_are_applied(bbd: Server) -> None:
    out = bbd.ok(*RUN, "--ulimit", "nofile=1024:2048", "--shm-size", "16m", "--device",
                 "/dev/zero:/dev/myzero", "--group-add", "10", "--cpu-shares", "512",
                 "busybox", "sh", "-c",
                 "ulimit -n; ulimit -Hn; df -k /dev/shm | tail -1; ls -l /dev/myzero; id -G")
    lines = out.splitlines()
    assert lines[:2] == ["1024", "2048"]
    assert lines[2].split()[:2] == ["shm", "16384"]
    assert lines[3].startswith("crw-rw-rw-") and "1,   5" in lines[3]
    assert lines[4] == "0 10"
    assert bbd.ok(*RUN, "--pid", "host", "busybox", "sh", "-c", "echo $$").strip() != "1"


def test_docker_cli_host_config_has_dockerds_keys(bbd: Server) -> None:
    bbd.ok("create", "--name", "full", "--network", "none", "--ulimit", "nofile=1024:2048",
           "--shm-size", "16m", "--cpu-shares", "512", "--cpuset-cpus", "0", "--device",
           "/dev/zero:/dev/myzero:r", "--device-cgroup-rule", "c 1:5 rwm", "--pid", "host",
           "--uts", "host", "--group-add", "10", "--log-driver", "none", "busybox", "true")
    out = bbd.ok("inspect", "-f", "{{.HostConfig.CpuShares}} {{.HostConfig.PidMode}} "
                 "{{.HostConfig.UTSMode}} {{.HostConfig.CgroupnsMode}} {{.HostConfig.ShmSize}} "
                 "{{.HostConfig.CpusetCpus}} {{json .HostConfig.Ulimits}} "
                 "{{json .HostConfig.DeviceCgroupRules}} {{.HostConfig.Isolation}}|"
                 "{{.HostConfig.MemorySwappiness}}|{{json .HostConfig.Devices}}", "full")
    # Byte for byte what the same docker CLI prints for dockerd 20.10 (with this mix of
    # fields it falls back to the raw JSON: sorted keys, "<no value>").
    assert out.strip() == (
        '512 host host host 16777216 0 [{"Hard":2048,"Name":"nofile","Soft":1024}] '
        '["c 1:5 rwm"] |<no value>|[{"CgroupPermissions":"r","PathInContainer":"/dev/myzero",'
        '"PathOnHost":"/dev/zero"}]')
    assert bbd.ok("inspect", "-f", "{{.HostConfig.Isolation}}|{{.HostConfig.MemorySwappiness}}",
                  "full").strip() == "|<nil>"


@pytest.mark.parametrize(("args", "text"), [
    (["--platform", "linux/arm64"], "image with reference busybox was found but does not "
     "match the specified platform: wanted linux/arm64, actual: linux/amd64"),
    (["--runtime", "nosuch"], "Unknown runtime specified nosuch"),
    (["--log-driver", "nosuch"],
     'error looking up logging plugin nosuch: plugin "nosuch" not found'),
    (["--device", "/dev/nosuch"], "error gathering device information while adding custom "
     'device "/dev/nosuch": no such file or directory'),
    (["--cpuset-cpus", "99"], "Requested CPUs are not available - requested 99"),
])
def test_docker_cli_refusals_have_dockerds_text(bbd: Server, args: list[str],
                                                text: str) -> None:
    if args[0] == "--platform" and os.uname().machine != "x86_64":
        pytest.skip("the text names amd64")
    res = bbd.docker(*RUN, "--pull", "never", *args, "busybox", "true")
    assert res.returncode in (125, 127), res.stderr  # 127: "no such file" (the CLI's rule)
    assert text in res.stderr
    assert bbd.ok("ps", "-aq") == ""


def test_docker_cli_log_driver_none(bbd: Server) -> None:
    cid = bbd.ok("run", "-d", "--network", "none", "--log-driver", "none", "busybox",
                 "echo", "hi").strip()
    bbd.ok("wait", cid)
    res = bbd.docker("logs", cid)
    assert res.returncode == 1
    assert res.stderr.strip() == \
        "Error response from daemon: configured logging driver does not support reading"
    bbd.ok("rm", cid)


def test_docker_cli_env_without_value(bbd: Server) -> None:
    env_before = os.environ.pop("FOO_UNSET", None)
    try:
        bbd.ok("create", "--name", "e1", "--network", "none", "-e", "FOO_UNSET", "-e",
               "BAR=1", "busybox", "env")
    finally:
        if env_before is not None:
            os.environ["FOO_UNSET"] = env_before
    env = json.loads(bbd.ok("inspect", "-f", "{{json .Config.Env}}", "e1"))
    # Both as given (the bare name kept, as dockerd keeps it). Their relative order was once
    # seen reversed in a full-suite run only (not alone): followed up in the closing note.
    assert "FOO_UNSET" in env and "BAR=1" in env, env
    out = bbd.ok("start", "-a", "e1")
    assert "BAR=1" in out.split() and "FOO_UNSET" not in out


# --- docker-py ----------------------------------------------------------------------------------


def test_docker_py_fields_applied(client: Any) -> None:
    docker = pytest.importorskip("docker")
    c = client.containers.create(
        "busybox", ["sh", "-c", "ulimit -n; df -k /dev/shm | tail -1; ls -l /dev/myzero; "
                    "id -G; hostname"],
        ulimits=[docker.types.Ulimit(name="nofile", soft=1024, hard=2048)], shm_size="16m",
        devices=["/dev/zero:/dev/myzero:rwm"], cpu_shares=512, group_add=["10", "1234"],
        network_mode="none", pid_mode="host", uts_mode="host")
    c.start()
    assert c.wait()["StatusCode"] == 0
    lines = c.logs().decode().splitlines()
    assert lines[0] == "1024"
    assert lines[1].split()[:2] == ["shm", "16384"]
    assert "1,   5" in lines[2]
    assert lines[3] == "0 10 1234"
    assert lines[4] == os.uname().nodename
    hc = c.attrs["HostConfig"]
    assert (hc["CpuShares"], hc["PidMode"], hc["UTSMode"], hc["ShmSize"], hc["GroupAdd"]) == (
        512, "host", "host", 16777216, ["10", "1234"])
    c.remove()


def test_docker_py_cgroupns_private(client: Any) -> None:
    c = client.containers.create("busybox", ["cat", "/proc/self/cgroup"], cgroupns="private",
                                 network_mode="none")
    assert c.attrs["HostConfig"]["CgroupnsMode"] == "private"
    c.start()
    c.wait()
    lines = c.logs().decode().splitlines()
    assert lines and all(line.endswith(":/") for line in lines), lines
    c.remove()


def test_docker_py_runtime_runc(client: Any) -> None:
    if not shutil.which("runc"):
        pytest.skip("runc is not installed")
    c = client.containers.create("busybox", "true", runtime="runc",
                                 network_mode="none")
    assert c.attrs["HostConfig"]["Runtime"] == "runc"
    c.start()
    assert c.wait()["StatusCode"] == 0
    c.remove()
    assert _api_error(client, runtime="nosuch") == (400, "Unknown runtime specified nosuch")


def test_docker_py_api_client_runtime_beside_config_is_applied(client: Any) -> None:
    """APIClient.create_container(runtime=) puts Runtime at the body's top level, which
    dockerd ignores; Orlop runs the runtime asked for."""
    if not shutil.which("runc"):
        pytest.skip("runc is not installed")
    api = client.api
    ct = api.create_container("busybox", ["sleep", "0.5"], runtime="runc",
                              host_config=api.create_host_config(network_mode="none"))
    assert api.inspect_container(ct)["HostConfig"]["Runtime"] == "runc"
    api.start(ct)
    assert api.wait(ct)["StatusCode"] == 0
    api.remove_container(ct)
    with pytest.raises(Exception, match="Unknown runtime specified nosuch"):
        api.create_container("busybox", "true", runtime="nosuch")


def test_docker_py_env_without_value_is_kept(client: Any) -> None:
    c = client.containers.create("busybox", "env", environment=["Foo", "A=1"],
                                 network_mode="none")
    assert c.attrs["Config"]["Env"][-2:] == ["Foo", "A=1"]
    c.start()
    c.wait()
    out = c.logs().decode().split()
    assert "A=1" in out and "Foo" not in out
    c.remove()


def test_docker_py_volumes_same_path_in_volumes_and_binds(client: Any) -> None:
    c = client.containers.create("busybox", "true", volumes=["/anon", "vv:/named"],
                                 network_mode="none")
    assert sorted(m["Destination"] for m in c.attrs["Mounts"]) == ["/anon", "/named"]
    c.remove(v=True)


def test_docker_py_volume_driver_kept_and_applied(client: Any) -> None:
    c = client.containers.create("busybox", "true", volume_driver="local",
                                 volumes=["vd1:/x"], network_mode="none")
    assert c.attrs["HostConfig"]["VolumeDriver"] == "local"
    assert client.volumes.get("vd1").attrs["Driver"] == "local"
    c.remove(v=True)
    assert _api_error(client, volume_driver="nosuchdrv", volumes=["vd2:/x"]) == (
        404, 'create vd2: error looking up volume plugin nosuchdrv: plugin "nosuchdrv" '
        "not found")


def test_docker_py_log_config(client: Any) -> None:
    docker = pytest.importorskip("docker")
    status, text = _api_error(client, log_config={"Type": "bogus"})
    assert (status, text) == (404, 'error looking up logging plugin bogus: plugin "bogus" '
                                   "not found")
    c = client.containers.create("busybox", "true", network_mode="none",
                                 log_config={"Type": "json-file", "Config": {"max-file": "2"}})
    assert c.attrs["HostConfig"]["LogConfig"] == {"Type": "json-file",
                                                  "Config": {"max-file": "2"}}
    c.remove()
    c = client.containers.run("busybox", "echo hi", log_config={"Type": "none"},
                              network_mode="none", detach=True)
    c.wait()
    with pytest.raises(docker.errors.APIError) as exc:
        c.logs()
    assert exc.value.status_code == 501
    assert exc.value.explanation == "configured logging driver does not support reading"
    c.remove()


def test_docker_py_platform(client: Any) -> None:
    if os.uname().machine != "x86_64":
        pytest.skip("amd64 host only")
    client.containers.create("busybox", "true", platform="linux/amd64",
                             network_mode="none").remove()
    assert _api_error(client, platform="linux/arm64") == (
        404, "image with reference busybox was found but does not match the specified "
        "platform: wanted linux/arm64, actual: linux/amd64")


def test_docker_py_restart_policy_does_not_hang_wait(bbd: Server) -> None:
    """docker-py's test_create_with_restart_policy: wait returns at the first exit."""
    docker = pytest.importorskip("docker")
    api = docker.APIClient(base_url=bbd.host, version="auto", timeout=30)
    cid = api.create_container("busybox", ["sleep", "1"], host_config=api.create_host_config(
        restart_policy={"Name": "always", "MaximumRetryCount": 0}, network_mode="none"))["Id"]
    api.start(cid)
    t0 = time.monotonic()
    assert api.wait(cid)["StatusCode"] == 0
    assert time.monotonic() - t0 < 15
    with pytest.raises(docker.errors.APIError) as exc:
        api.remove_container(cid)
    assert "You cannot remove a running container" in str(exc.value.explanation)
    api.remove_container(cid, force=True)
    api.close()


# --- docker-compose -------------------------------------------------------------------------------

COMPOSE = """\
version: "3.7"
services:
  lim:
    image: busybox
    network_mode: none
    command: sh -c "ulimit -n; ulimit -Hn; ulimit -u; df -k /dev/shm | tail -1"
    shm_size: 16m
    ulimits:
      nproc: 10
      nofile:
        soft: 1024
        hard: 2048
"""


def test_compose_ulimits_and_shm_size_are_applied(bbd: Server) -> None:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed")
    app = bbd.dir / "app"
    app.mkdir()
    (app / "docker-compose.yml").write_text(COMPOSE)
    env = {**os.environ, "DOCKER_HOST": bbd.host, "COMPOSE_INTERACTIVE_NO_CLI": "1"}

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, "-p", "lim", *args], cwd=app, env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    res = compose("up", "--no-color")
    assert res.returncode == 0, res.stderr
    out = [line.split("|", 1)[1].strip() for line in res.stdout.splitlines() if "|" in line]
    assert out[:3] == ["1024", "2048", "10"]
    assert out[3].split()[:2] == ["shm", "16384"]
    assert compose("down").returncode == 0


# --- nothing silently accepted ------------------------------------------------------------------


@pytest.mark.parametrize(("kw", "text"), [
    ({"oom_score_adj": 5}, "HostConfig.OomScoreAdj=5 is not supported by Orlop"),
    ({"cpu_quota": 50000}, "HostConfig.CpuQuota=50000 is not supported by Orlop"),
    ({"mem_reservation": "10m"},
     "HostConfig.MemoryReservation=10485760 is not supported by Orlop"),
    ({"ipc_mode": "host"}, 'HostConfig.IpcMode="host" is not supported by Orlop'),
    # (mem_swappiness is applied now: test_dockerpy_fidelity.py)
    ({"cpu_period": 50000}, "HostConfig.CpuPeriod=50000 is not supported by Orlop"),
    ({"oom_kill_disable": True}, "HostConfig.OomKillDisable=true is not supported by Orlop"),
])
def test_docker_py_fields_orlop_does_not_apply_are_refused(client: Any, kw: dict[str, Any],
                                                           text: str) -> None:
    assert _api_error(client, **kw) == (501, text)
    assert client.containers.list(all=True) == []


@pytest.mark.parametrize(("args", "text"), [
    (["--annotation", "a=b"], 'HostConfig.Annotations={"a":"b"} is not supported by Orlop'),
    (["--health-cmd", "true", "--health-start-interval", "1s"],
     "Healthcheck.StartInterval is not supported by Orlop"),
    (["--ipc", "host"], 'HostConfig.IpcMode="host" is not supported by Orlop'),
])
def test_docker_cli_flags_orlop_does_not_apply_are_refused(bbd: Server, args: list[str],
                                                           text: str) -> None:
    """API 1.43's Annotations and 1.44's Healthcheck.StartInterval (the docker CLI 28 sends
    them to orlopd, which speaks 1.45) were dropped: refused now."""
    res = bbd.docker(*RUN, *args, "busybox", "true")
    assert res.returncode == 125 and text in res.stderr, res.stderr
    assert bbd.ok("ps", "-aq") == ""


def test_ipc_and_userns_modes_are_kept_as_given_through_the_api(client: Any, bbd: Server
                                                                ) -> None:
    c = client.containers.create("busybox", "true", network_mode="none",
                                 ipc_mode="shareable", userns_mode="host")
    assert (c.attrs["HostConfig"]["IpcMode"], c.attrs["HostConfig"]["UsernsMode"]) == \
        ("shareable", "host")
    c.remove()
    bbd.ok("create", "--name", "ipcr", "--ipc", "shareable", "busybox", "true")
    assert bbd.ok("inspect", "-f", "{{.HostConfig.IpcMode}}", "ipcr").strip() == "shareable"


def test_docker_py_memswap_limit_is_applied(client: Any) -> None:
    assert _api_error(client, memswap_limit="100m") == (
        400, "You should always set the Memory limit when using Memoryswap limit, see usage")
    c = client.containers.create("busybox", "true", network_mode="none", mem_limit="64m",
                                 memswap_limit="128m")
    assert c.attrs["HostConfig"]["MemorySwap"] == 128 << 20
    c.start()
    assert c.wait()["StatusCode"] == 0
    c.remove()


def test_docker_py_env_order_as_dockerd(client: Any, busybox_tar: Any) -> None:
    """``Config.Env`` through orlopd is the sent entries in order, then the image's
    unnamed ones, as dockerd 20.10 gave them (docker-py sends the list as given; the
    docker CLI 28 itself sends ``-e`` entries rotated now and then, as a proxy between it
    and dockerd showed: they pass through a Go map, so CLI-made containers are no witness
    of the order)."""
    with open(busybox_tar, "rb") as f:
        client.api.import_image_from_data(
            f.read(), repository="envimg", tag="latest",
            changes=["ENV PATH=/usr/bin:/bin", "ENV A=img B=img"])
    c = client.containers.create("envimg", "env", network_mode="none",
                                 environment=["FOO_UNSET", "BAR=1", "A=user"])
    try:
        assert c.attrs["Config"]["Env"] == \
            ["FOO_UNSET", "BAR=1", "A=user", "PATH=/usr/bin:/bin", "B=img"]
        c.start()
        c.wait(timeout=30)
        out = c.logs().decode().splitlines()
        assert [e for e in out if not e.startswith("HOSTNAME=")] == \
            ["PATH=/usr/bin:/bin", "BAR=1", "A=user", "B=img", "HOME=/root"]
    finally:
        c.remove(force=True)
    c = client.containers.create("busybox", "true", network_mode="none")
    assert c.attrs["Config"]["Env"] is None
    c.remove()
