"""Issue 15, containers: every run/create flag is applied as Docker applies it or refused
with Docker's text (real containers, as root; the built-in runtime and crun).

The expected outputs and texts are dockerd 20.10's, taken on this machine's kind of host
(cgroup v1 hybrid) with the same busybox image.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from harness import Orlop

CRUN = shutil.which("crun")
RUNTIMES = ["orlop", pytest.param("crun", marks=pytest.mark.skipif(
    not CRUN, reason="crun is not installed"))]
RUN = ("run", "--rm", "--network", "none")


def _refused(o: Orlop, *args: str, text: str) -> None:
    res = o(*args)
    assert res.returncode != 0, res.stdout
    assert text in res.stderr, res.stderr
    assert o.ok("ps", "-aq") == ""


# --- step 1: HostConfig with every key dockerd gives ------------------------------------------

# dockerd 20.10 (API 1.41), `docker create --network none busybox true`, in its order.
DOCKERD_HOSTCONFIG_KEYS = [
    "Binds", "ContainerIDFile", "LogConfig", "NetworkMode", "PortBindings", "RestartPolicy",
    "AutoRemove", "VolumeDriver", "VolumesFrom", "ConsoleSize", "CapAdd", "CapDrop",
    "CgroupnsMode", "Dns", "DnsOptions", "DnsSearch", "ExtraHosts", "GroupAdd", "IpcMode",
    "Cgroup", "Links", "OomScoreAdj", "PidMode", "Privileged", "PublishAllPorts",
    "ReadonlyRootfs", "SecurityOpt", "UTSMode", "UsernsMode", "ShmSize", "Runtime",
    "Isolation", "CpuShares", "Memory", "NanoCpus", "CgroupParent", "BlkioWeight",
    "BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps", "BlkioDeviceReadIOps",
    "BlkioDeviceWriteIOps", "CpuPeriod", "CpuQuota", "CpuRealtimePeriod",
    "CpuRealtimeRuntime", "CpusetCpus", "CpusetMems", "Devices", "DeviceCgroupRules",
    "DeviceRequests", "MemoryReservation", "MemorySwap", "MemorySwappiness",
    "OomKillDisable", "PidsLimit", "Ulimits", "CpuCount", "CpuPercent", "IOMaximumIOps",
    "IOMaximumBandwidth", "MaskedPaths", "ReadonlyPaths"]


def test_host_config_has_every_key_of_dockerd_with_its_defaults(bb: Orlop) -> None:
    bb.ok("create", "--name", "h1", "--network", "none", "busybox", "true")
    hc = json.loads(bb.ok("inspect", "-f", "{{json .HostConfig}}", "h1"))
    keys = [k for k in hc if k in DOCKERD_HOSTCONFIG_KEYS]
    assert keys == DOCKERD_HOSTCONFIG_KEYS
    assert {k: hc[k] for k in (
        "CpuShares", "PidMode", "UTSMode", "CgroupnsMode", "Isolation", "MemorySwappiness",
        "DeviceCgroupRules", "ShmSize", "Ulimits", "Devices", "GroupAdd", "IpcMode",
        "LogConfig", "RestartPolicy", "VolumeDriver", "CpusetCpus", "ConsoleSize")} == {
        "CpuShares": 0, "PidMode": "", "UTSMode": "", "CgroupnsMode": "host",
        "Isolation": "", "MemorySwappiness": None, "DeviceCgroupRules": None,
        "ShmSize": 67108864, "Ulimits": [], "Devices": [], "GroupAdd": None,
        "IpcMode": "private", "LogConfig": {"Type": "json-file", "Config": {}},
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "VolumeDriver": "",
        "CpusetCpus": "", "ConsoleSize": [0, 0]}
    assert bb.ok("inspect", "-f", "{{.HostConfig.CpuShares}} {{.HostConfig.PidMode}}|"
                 "{{.HostConfig.Isolation}}|{{.HostConfig.CgroupnsMode}}", "h1"
                 ).strip() == "0 ||host"


def test_host_config_records_what_was_asked_as_dockerd(bb: Orlop) -> None:
    bb.ok("create", "--name", "full", "--network", "none", "--ulimit", "nofile=1024:2048",
          "--shm-size", "16m", "--cpu-shares", "512", "--cpuset-cpus", "0", "--device",
          "/dev/zero:/dev/myzero:r", "--device-cgroup-rule", "c 1:5 rwm", "--pid", "host",
          "--uts", "host", "--group-add", "10", "--log-driver", "none", "busybox", "true")
    hc = json.loads(bb.ok("inspect", "-f", "{{json .HostConfig}}", "full"))
    assert {k: hc[k] for k in ("LogConfig", "GroupAdd", "PidMode", "UTSMode", "ShmSize",
                               "CpuShares", "CpusetCpus", "Devices", "DeviceCgroupRules",
                               "Ulimits")} == {
        "LogConfig": {"Type": "none", "Config": {}}, "GroupAdd": ["10"], "PidMode": "host",
        "UTSMode": "host", "ShmSize": 16777216, "CpuShares": 512, "CpusetCpus": "0",
        "Devices": [{"PathOnHost": "/dev/zero", "PathInContainer": "/dev/myzero",
                     "CgroupPermissions": "r"}],
        "DeviceCgroupRules": ["c 1:5 rwm"],
        "Ulimits": [{"Name": "nofile", "Hard": 2048, "Soft": 1024}]}


# --- step 2: applied -----------------------------------------------------------------------


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_ulimit_shm_size_device_and_group_add_are_applied(bb: Orlop, runtime: str) -> None:
    out = bb.ok(*RUN, "--runtime", runtime, "--ulimit", "nofile=1024:2048", "--shm-size",
                "16m", "--device", "/dev/zero:/dev/myzero", "--group-add", "10",
                "--group-add", "1234", "busybox", "sh", "-c",
                "ulimit -n; ulimit -Hn; df -k /dev/shm | tail -1; ls -l /dev/myzero; "
                "head -c 3 /dev/myzero | od -An -c; id -G")
    lines = out.splitlines()
    assert lines[:2] == ["1024", "2048"]
    assert lines[2].split()[:2] == ["shm", "16384"]
    assert lines[3].startswith("crw-rw-rw-") and "1,   5" in lines[3]
    assert lines[4].split() == ["\\0", "\\0", "\\0"]
    assert lines[5] == "0 10 1234"
    assert os.stat("/dev/null").st_rdev == os.makedev(1, 3)


def test_ulimit_unlimited_and_compose_style_nproc(bb: Orlop) -> None:
    out = bb.ok(*RUN, "--ulimit", "nproc=10", "--ulimit", "core=-1", "busybox", "sh", "-c",
                "ulimit -u; ulimit -Hu; ulimit -c")
    assert out.split() == ["10", "10", "unlimited"]


def test_id_shows_the_primary_and_supplementary_groups(bb: Orlop) -> None:
    assert bb.ok(*RUN, "busybox", "id").strip() == "uid=0(root) gid=0(root) groups=0(root)"
    assert bb.ok(*RUN, "-u", "daemon", "busybox", "id").strip() == \
        "uid=1(daemon) gid=1(daemon) groups=1(daemon)"
    assert bb.ok(*RUN, "--group-add", "10", "--group-add", "1234", "busybox", "id"
                 ).strip() == "uid=0(root) gid=0(root) groups=0(root),10,1234"


def test_exec_user_gets_group_add_and_etc_group_memberships(bb: Orlop,
                                                           no_leftover_containers: None) -> None:
    """moby's getUser for ``exec -u``: the user's /etc/group memberships (the container's
    own file, as changed since the start) then the container's ``--group-add``; without
    ``-u`` the exec has the container's groups.  Outputs as dockerd 20.10 printed them."""
    bb.ok("run", "-d", "--name", "grp", "--network", "none", "--group-add", "10",
          "--group-add", "1234", "busybox", "sleep", "60")
    try:
        bb.ok("exec", "grp", "sh", "-c", "echo extra:x:777:daemon >> /etc/group")
        assert bb.ok("exec", "grp", "id").strip() == \
            "uid=0(root) gid=0(root) groups=0(root),10,1234"
        assert bb.ok("exec", "-u", "daemon", "grp", "id").strip() == \
            "uid=1(daemon) gid=1(daemon) groups=1(daemon),10,777(extra),1234"
        assert bb.ok("exec", "-u", "1:extra", "grp", "id").strip() == \
            "uid=1(daemon) gid=777(extra) groups=10,777(extra),1234"
    finally:
        bb.ok("rm", "-f", "grp")


def test_cpu_shares_and_cpuset_are_written_to_the_cgroup(bb: Orlop,
                                                         no_leftover_containers: None) -> None:
    cid = bb.ok("run", "-d", "--network", "none", "--cpu-shares", "512", "--cpuset-cpus",
                "0", "busybox", "sleep", "30").strip()
    try:
        v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
        if v2:
            d = Path("/sys/fs/cgroup/orlop") / cid
            assert (d / "cpu.weight").read_text().strip() == str(1 + (510 * 9999) // 262142)
        else:
            d = Path("/sys/fs/cgroup/cpu/orlop") / cid
            assert (d / "cpu.shares").read_text().strip() == "512"
            d = Path("/sys/fs/cgroup/cpuset/orlop") / cid
        assert (d / "cpuset.cpus").read_text().strip() == "0"
    finally:
        bb.ok("rm", "-f", cid)
    assert not (Path("/sys/fs/cgroup/cpuset/orlop") / cid).exists()


@pytest.mark.skipif(not CRUN, reason="crun is not installed")
@pytest.mark.skipif(Path("/sys/fs/cgroup/cgroup.controllers").exists(), reason="cgroup v1")
def test_crun_containers_get_their_limits(bb: Orlop, no_leftover_containers: None) -> None:
    """crun runs without a cgroup manager here: the engine makes and limits the cgroup and
    starts crun in it (the limits were once recorded and silently not applied)."""
    out = bb.ok(*RUN, "--runtime", "crun", "-m", "64m", "--cpu-shares", "512", "busybox",
                "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
                "/sys/fs/cgroup/cpu/cpu.shares")
    assert out.split() == [str(64 << 20), "512"]
    cid = bb.ok("run", "-d", "--network", "none", "--runtime", "crun", "-m", "64m",
                "busybox", "sleep", "30").strip()
    try:
        assert (Path("/sys/fs/cgroup/memory/orlop") / cid / "memory.limit_in_bytes"
                ).read_text().strip() == str(64 << 20)
    finally:
        bb.ok("rm", "-f", cid)
    assert not (Path("/sys/fs/cgroup/memory/orlop") / cid).exists()


def test_pid_host_and_uts_host(bb: Orlop, no_leftover_containers: None) -> None:
    out = bb.ok(*RUN, "--pid", "host", "busybox", "sh", "-c", "echo $$; ls /proc")
    assert int(out.split()[0]) > 1 and "1" in out.split()[1:]
    assert bb.ok(*RUN, "--uts", "host", "busybox", "hostname").strip() == \
        socket.gethostname()
    # Detached too (the parked init once died of SIGPIPE there).
    cid = bb.ok("run", "-d", "--network", "none", "--pid", "host", "busybox", "echo",
                "hi").strip()
    assert bb.ok("wait", cid).strip() == "0"
    assert bb.ok("logs", cid) == "hi\n"
    bb.ok("rm", cid)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("limits", [[], ["-m", "64m"]])
def test_cgroupns_private_roots_every_hierarchy_at_the_container(
        bb: Orlop, runtime: str, limits: list[str]) -> None:
    """dockerd 20.10 on a cgroup v1 host: every line of /proc/self/cgroup ends in "/"."""
    bb.ok("create", "--name", "ns", "--network", "none", "--runtime", runtime,
          "--cgroupns", "private", *limits, "busybox", "cat", "/proc/self/cgroup")
    assert bb.ok("inspect", "-f", "{{.HostConfig.CgroupnsMode}}", "ns").strip() == "private"
    lines = bb.ok("start", "-a", "ns").splitlines()
    assert lines and all(line.endswith(":/") for line in lines), lines
    bb.ok(*RUN, "--cgroupns", "host", "busybox", "true")


def test_log_driver_none_keeps_no_log_and_logs_fails(bb: Orlop,
                                                    no_leftover_containers: None) -> None:
    cid = bb.ok("run", "-d", "--network", "none", "--log-driver", "none", "busybox", "echo",
                "hi").strip()
    bb.ok("wait", cid)
    res = bb("logs", cid)
    assert res.returncode == 1
    assert "configured logging driver does not support reading" in res.stderr
    assert not list((bb.root / "containers" / cid).glob("*-json.log*"))
    assert bb.ok("inspect", "-f", "{{.LogPath}}", cid) == "\n"
    # Attached, the output still reaches the terminal.
    assert bb.ok(*RUN, "--log-driver", "none", "busybox", "echo", "attached") == "attached\n"
    bb.ok("rm", cid)


def test_log_opt_max_file_alone_is_accepted(bb: Orlop) -> None:
    bb.ok(*RUN, "--log-opt", "max-file=3", "busybox", "true")


def test_env_without_a_value_is_kept_as_given(bb: Orlop) -> None:
    env = {k: v for k, v in os.environ.items() if k != "FOO_UNSET"}
    bb.ok("create", "--name", "e1", "--network", "none", "-e", "FOO_UNSET", "-e",
          "FOO_SET", "-e", "BAR=1", "busybox", "env", env={**env, "FOO_SET": "x"})
    # dockerd: the user's entries then the image's (busybox imported here has none)
    assert json.loads(bb.ok("inspect", "-f", "{{json .Config.Env}}", "e1")) == [
        "FOO_UNSET", "FOO_SET=x", "BAR=1"]
    out = bb.ok("start", "-a", "e1").split()
    assert "FOO_SET=x" in out and "BAR=1" in out
    assert not [line for line in out if line.startswith("FOO_UNSET")]


def test_volume_driver_is_kept_and_applied_to_new_volumes(bb: Orlop) -> None:
    bb.ok("create", "--name", "vd", "--volume-driver", "local", "-v", "vd1:/x", "busybox",
          "true")
    assert bb.ok("inspect", "-f", "{{.HostConfig.VolumeDriver}}", "vd").strip() == "local"
    assert bb.ok("volume", "inspect", "-f", "{{.Driver}}", "vd1").strip() == "local"
    bb.ok("rm", "vd")
    _refused(bb, "create", "--volume-driver", "nosuchdrv", "-v", "vd2:/x", "busybox", "true",
             text='error looking up volume plugin nosuchdrv: plugin "nosuchdrv" not found')
    assert bb.ok("volume", "ls", "-q").split() == ["vd1"]


def test_runtime_runc_or_crun_applied_unknown_refused(bb: Orlop) -> None:
    _refused(bb, *RUN, "--runtime", "nosuch", "busybox", "true",
             text="Unknown runtime specified nosuch")
    for name in ("runc", "crun"):
        if shutil.which(name):
            bb.ok("create", "--name", name, "--runtime", name, "busybox", "true")
            assert bb.ok("inspect", "-f", "{{.HostConfig.Runtime}}", name).strip() == name


# --- step 2: refused, with Docker's texts ------------------------------------------------------


@pytest.mark.parametrize(("args", "text"), [
    (["--platform", "linux/arm64"], "image with reference busybox was found but does not "
     "match the specified platform: wanted linux/arm64, actual: linux/amd64"),
    (["--log-driver", "nosuch"],
     'error looking up logging plugin nosuch: plugin "nosuch" not found'),
    (["--device", "/dev/nosuch"], "error gathering device information while adding custom "
     'device "/dev/nosuch": no such file or directory'),
    (["--cgroupns", "bogus"], "--cgroupns: invalid CGROUP mode"),
    (["--pid", "bogus"], "--pid: invalid PID mode"),
    (["--uts", "bogus"], "--uts: invalid UTS mode"),
    (["--ulimit", "bogus=1"],
     'invalid argument "bogus=1" for "--ulimit" flag: invalid ulimit type: bogus'),
    (["--ulimit", "nofile=2048:1024"], 'invalid argument "nofile=2048:1024" for "--ulimit" '
     "flag: ulimit soft limit must be less than or equal to hard limit: 2048 > 1024"),
    (["--shm-size", "-1"], """invalid argument "-1" for "--shm-size" flag: invalid size: '-1'"""),
    (["--device-cgroup-rule", "x 1:5 rwm"], 'invalid argument "x 1:5 rwm" for '
     """"--device-cgroup-rule" flag: invalid device cgroup format 'x 1:5 rwm'"""),
    (["--cpuset-cpus", "99"], "Requested CPUs are not available - requested 99"),
    (["--cpu-shares", "1"], "the minimum allowed cpu-shares is 2"),
    (["--add-host", "bad"],
     'invalid argument "bad" for "--add-host" flag: bad format for add-host: "bad"'),
    (["--add-host", "h:notip"],
     'invalid argument "h:notip" for "--add-host" flag: invalid IP address in add-host: '
     '"notip"'),
])
def test_refused_with_dockers_text(bb: Orlop, args: list[str], text: str) -> None:
    if args[0] == "--platform" and os.uname().machine != "x86_64":
        pytest.skip("the text names amd64")
    _refused(bb, *RUN, *args, "busybox", "true", text=text)


def test_platform_of_the_host_is_accepted(bb: Orlop) -> None:
    if os.uname().machine != "x86_64":
        pytest.skip("amd64 host only")
    bb.ok(*RUN, "--platform", "linux/amd64", "busybox", "true")
    bb.ok(*RUN, "--platform", "linux", "busybox", "true")


def test_rshared_bind_of_a_source_on_a_private_mount_is_refused(bb: Orlop,
                                                                 tmp_orlop_dir: Path) -> None:
    src = tmp_orlop_dir / "src"
    src.mkdir()
    private = subprocess.run(["findmnt", "-no", "PROPAGATION", "--target", str(src)],
                             capture_output=True, text=True, check=False).stdout.strip()
    if private == "shared":
        pytest.skip("the test directory is on a shared mount here")
    for args in (["-v", f"{src}:/x:rshared"],
                 ["--mount", f"type=bind,src={src},dst=/x,bind-propagation=rshared"]):
        res = bb(*RUN, *args, "busybox", "true")
        assert res.returncode == 125, res.stderr
        assert f"path {src} is mounted on " in res.stderr
        assert "but it is not a shared mount" in res.stderr
    res = bb(*RUN, "-v", f"{src}:/x:rslave", "busybox", "true")
    assert "but it is not a shared or slave mount" in res.stderr
    # On a shared mount, it is applied.
    subprocess.run(["mount", "--bind", str(src), str(src)], check=True)
    subprocess.run(["mount", "--make-shared", str(src)], check=True)
    bb.ok(*RUN, "-v", f"{src}:/x:rshared", "busybox", "true")


def test_env_order_and_unset_as_dockerd(bb: Orlop, busybox_tar: Path,
                                        no_leftover_containers: None) -> None:
    """``Config.Env`` is the user's entries then the image's unnamed ones (moby's merge);
    the process gets PATH, HOSTNAME (TERM) with Config.Env on top and a bare key unsets
    a default; an exec's ``-e`` goes on top of that, a bare key unsetting; commit keeps
    Config.Env; ``--change ENV`` replaces in place.  Outputs: dockerd 20.10's."""
    bb.ok("import", "--change", "ENV PATH=/usr/bin:/bin", "--change", "ENV A=img B=img",
          str(busybox_tar), "envimg")
    bb.ok("create", "--name", "e1", "-e", "FOO_UNSET", "-e", "BAR=1", "-e", "A=user",
          "envimg", "true")
    assert json.loads(bb.ok("inspect", "-f", "{{json .Config.Env}}", "e1")) == \
        ["FOO_UNSET", "BAR=1", "A=user", "PATH=/usr/bin:/bin", "B=img"]
    bb.ok("create", "--name", "e2", "busybox", "true")
    assert bb.ok("inspect", "-f", "{{json .Config.Env}}", "e2").strip() == "null"
    out = bb.ok(*RUN, "-e", "FOO_UNSET", "-e", "BAR=1", "-e", "A=user", "envimg", "env")
    assert [e for e in out.splitlines() if not e.startswith("HOSTNAME=")] == \
        ["PATH=/usr/bin:/bin", "BAR=1", "A=user", "B=img", "HOME=/root"]
    out = bb.ok(*RUN, "-e", "HOSTNAME=hh", "-e", "HOME=/h", "-e", "A=1", "-e", "A=2",
                "busybox", "env")
    assert out.splitlines()[1:] == ["HOSTNAME=hh", "HOME=/h", "A=2"]
    bb.ok("run", "-d", "-t", "--name", "xe", "--network", "none", "-e", "A=user", "-e",
          "HOME=/h", "-e", "BARE", "envimg", "sleep", "60")
    try:
        def exec_env(*args: str) -> list[str]:
            return [e for e in bb.ok("exec", *args, "env").replace("\r", "").splitlines()
                    if not e.startswith("HOSTNAME=")]

        assert exec_env("xe") == ["PATH=/usr/bin:/bin", "A=user", "HOME=/h", "B=img"]
        assert exec_env("-t", "xe") == \
            ["PATH=/usr/bin:/bin", "TERM=xterm", "A=user", "HOME=/h", "B=img"]
        assert exec_env("-e", "A=ex", "-e", "NEW=1", "-e", "B", "xe") == \
            ["PATH=/usr/bin:/bin", "A=ex", "HOME=/h", "NEW=1"]
        bb.ok("commit", "--change", "ENV Z=9 A=chg", "xe", "cimg")
        assert json.loads(bb.ok("image", "inspect", "-f", "{{json .Config.Env}}", "cimg")) \
            == ["A=chg", "HOME=/h", "BARE", "PATH=/usr/bin:/bin", "B=img", "Z=9"]
    finally:
        bb.ok("rm", "-f", "xe")


# --- step 3: the docker CLI 28's flags Orlop lacked (issue 15) ---------------------------------


def test_isolation_memory_swap_and_swappiness_flags(bb: Orlop) -> None:
    """The flags of HostConfig fields the API already applied, with the docker CLI's
    checks (measured with CLI 28 against dockerd 20.10)."""
    bb.ok("create", "--name", "i1", "--network", "none", "--isolation", "default",
          "-m", "64m", "--memory-swap", "-1", "busybox", "true")
    assert bb.ok("inspect", "-f", "{{.HostConfig.Isolation}} {{.HostConfig.MemorySwap}}",
                 "i1").strip() == "default -1"
    bb.ok("create", "--name", "i2", "--network", "none", "-m", "64m", "--memory-swap",
          "128m", "busybox", "true")
    assert bb.ok("inspect", "-f", "{{.HostConfig.MemorySwap}}", "i2").strip() == "134217728"
    bb.ok("rm", "i1", "i2")
    _refused(bb, "create", "--isolation", "hyperv", "busybox", "true",
             text="Invalid isolation: \"hyperv\" - linux only supports 'default'")
    _refused(bb, "create", "--memory-swappiness", "101", "busybox", "true",
             text="invalid value: 101. Valid memory swappiness range is 0-100")
    _refused(bb, "create", "--memory-swappiness", "x", "busybox", "true",
             text='invalid argument "x" for "--memory-swappiness" flag: strconv.ParseInt: '
                  'parsing "x": invalid syntax')
    _refused(bb, "create", "--memory-swap", "1g", "busybox", "true",
             text="You should always set the Memory limit when using Memoryswap limit, "
                  "see usage")
    _refused(bb, "create", "-m", "64m", "--memory-swap", "32m", "busybox", "true",
             text="Minimum memoryswap limit should be larger than memory limit, see usage")
    _refused(bb, "create", "--memory-swap", "abc", "busybox", "true",
             text="""invalid argument "abc" for "--memory-swap" flag: invalid size: 'abc'""")
    res = bb("create", "--name", "sw", "--network", "none", "--memory-swappiness", "30",
             "busybox", "true")
    if res.returncode == 0:  # cgroup v1 memory: applied (the cgroup: test_dockerpy_fidelity)
        assert bb.ok("inspect", "-f", "{{.HostConfig.MemorySwappiness}}", "sw") == "30\n"
    else:
        assert "cgroup v2 has no memory swappiness" in res.stderr, res.stderr


@pytest.mark.parametrize(("args", "text"), [
    (["--oom-score-adj", "5"], "--oom-score-adj 5 is not supported by Orlop "
     "(HostConfig.OomScoreAdj)"),
    (["--cpu-quota=5000"], "--cpu-quota 5000 is not supported by Orlop (HostConfig.CpuQuota)"),
    (["--gpus", "all"], "--gpus all is not supported by Orlop (HostConfig.DeviceRequests)"),
    (["--annotation", "a=b"], "--annotation a=b is not supported by Orlop "
     "(HostConfig.Annotations)"),
    (["--health-start-interval", "2s"], "--health-start-interval 2s is not supported by "
     "Orlop (Healthcheck.StartInterval)"),
    (["--ipc", "host"], "--ipc host is not supported by Orlop (HostConfig.IpcMode)"),
    (["--userns", "x"], "--userns: invalid USER mode"),
    (["--oom-kill-disable"], "--oom-kill-disable=true is not supported by Orlop "
     "(HostConfig.OomKillDisable)"),
    (["--sig-proxy=false"], "--sig-proxy=false is not supported by Orlop (signals are "
     "always proxied)"),
    (["--disable-content-trust=0"], "--disable-content-trust=false is not supported by "
     "Orlop (content trust)"),
])
def test_docker_cli_flags_orlop_does_not_apply_are_refused(bb: Orlop, args: list[str],
                                                           text: str) -> None:
    _refused(bb, *RUN, *args, "busybox", "true", text=text)


def test_docker_cli_flags_asking_for_nothing_are_accepted(bb: Orlop) -> None:
    """The values that mean Docker's default (Go bool flags take ``--flag`` or
    ``--flag=value``, never the next word); after the image they are the command's."""
    out = bb.ok(*RUN, "--oom-score-adj", "0", "--ipc", "private", "--userns", "host",
                "--sig-proxy", "--oom-kill-disable=false", "--disable-content-trust",
                "busybox", "echo", "--sig-proxy=false", "--ipc", "host")
    assert out == "--sig-proxy=false --ipc host\n"
    res = bb("create", "-d", "busybox", "true")  # `docker create` has no -d
    assert res.returncode == 125 and "unrecognized arguments: -d" in res.stderr


def test_ipc_and_userns_modes_are_kept_as_given(bb: Orlop) -> None:
    """``--ipc shareable`` / ``--userns host`` ask for what Orlop's containers are: shown
    by inspect as given (they read private and "" before); dockerd 20.10's defaults."""
    bb.ok("create", "--name", "ipc1", "--ipc", "shareable", "--userns", "host",
          "--network", "none", "busybox", "true")
    bb.ok("create", "--name", "ipc2", "--network", "none", "busybox", "true")
    fmt = "{{.HostConfig.IpcMode}}/{{.HostConfig.UsernsMode}}"
    assert bb.ok("inspect", "-f", fmt, "ipc1").strip() == "shareable/host"
    assert bb.ok("inspect", "-f", fmt, "ipc2").strip() == "private/"


def test_cidfile_label_file_and_quiet(bb: Orlop) -> None:
    cwd = bb.cwd
    cid = bb.ok("create", "-q", "--cidfile", "cid", "--network", "none", "busybox",
                "true").strip()
    assert (cwd / "cid").read_text() == cid  # no newline, as the docker CLI writes it
    assert bb.ok("inspect", "-f", "{{.HostConfig.ContainerIDFile}}", cid) == "cid\n"
    res = bb("create", "--cidfile", "cid", "busybox", "true")
    assert res.returncode != 0 and "container ID file found, make sure the other " \
        "container isn't running or delete cid" in res.stderr
    res = bb("run", "--cidfile", "nodir/cid", "busybox", "true")
    assert res.returncode != 0 and "failed to create the container ID file: open " \
        "nodir/cid: no such file or directory" in res.stderr
    res = bb("create", "--cidfile", "gone", "--pull", "never", "nosuchimage", "true")
    assert res.returncode != 0 and not (cwd / "gone").exists()  # no container, no file
    assert bb.ok("ps", "-aq") == cid[:12] + "\n"
    bb.ok("run", "--rm", "--cidfile", "fg", "--network", "none", "busybox", "true")
    assert len((cwd / "fg").read_text()) == 64  # the foreground run's, kept after --rm
    bb.ok("run", "-d", "--cidfile", "bg", "--network", "none", "busybox", "true")
    assert (cwd / "bg").read_text() in bb.ok("ps", "-aq", "--no-trunc")
    # docker/cli's kvfile: leading white space dropped, trailing kept, comments and
    # blank lines skipped, a line without "=" left out; -l after the files wins
    (cwd / "labels").write_text("a=1\n# comment\n\nbare\n  c=3 \n")
    lid = bb.ok("create", "--label-file", "labels", "-l", "a=9", "busybox", "true").strip()
    assert json.loads(bb.ok("inspect", "-f", "{{json .Config.Labels}}", lid)) == \
        {"a": "9", "c": "3 "}
    res = bb("create", "--label-file", "nofile", "busybox", "true")
    assert res.returncode == 125 and "open nofile: no such file or directory" in res.stderr
