"""The host options of run/create (issue 15): parsed and checked with Docker's rules and
texts (docker/cli's parsers, go-units' ParseUlimit, dockerd's checks)."""

from __future__ import annotations

import pytest

from orlop.engine.containers.hostopts import (
    check_cgroup_rule,
    check_platform,
    check_runtime,
    parse_cpuset,
    parse_device,
    parse_ulimit,
    validate_host_options,
)
from orlop.engine.runoptions import DeviceMapping, RunOptions, Ulimit
from orlop.errors import InvalidParameterError, NotFoundError, OrlopError, UnsupportedError


def test_parse_ulimit() -> None:
    assert parse_ulimit("nofile=1024:2048") == Ulimit("nofile", 1024, 2048)
    assert parse_ulimit("nproc=10") == Ulimit("nproc", 10, 10)
    assert parse_ulimit("core=-1") == Ulimit("core", -1, -1)
    assert parse_ulimit("core=0:-1") == Ulimit("core", 0, -1)
    with pytest.raises(InvalidParameterError, match=r"^invalid ulimit type: bogus$"):
        parse_ulimit("bogus=1")
    with pytest.raises(InvalidParameterError, match="soft limit must be less than or equal "
                       "to hard limit: 2048 > 1024"):
        parse_ulimit("nofile=2048:1024")
    with pytest.raises(InvalidParameterError, match="invalid ulimit argument: nofile"):
        parse_ulimit("nofile")
    with pytest.raises(InvalidParameterError, match='parsing "x": invalid syntax'):
        parse_ulimit("nofile=x")


def test_parse_device() -> None:
    assert parse_device("/dev/zero") == DeviceMapping("/dev/zero", "/dev/zero", "rwm")
    assert parse_device("/dev/zero:r") == DeviceMapping("/dev/zero", "/dev/zero", "r")
    assert parse_device("/dev/zero:/dev/z") == DeviceMapping("/dev/zero", "/dev/z", "rwm")
    assert parse_device("/dev/zero:/dev/z:rw") == DeviceMapping("/dev/zero", "/dev/z", "rw")
    with pytest.raises(InvalidParameterError, match="bad mode specified: x"):
        parse_device("/dev/zero:/dev/z:x")
    with pytest.raises(InvalidParameterError, match="z is not an absolute path"):
        parse_device("/dev/zero:z")


def test_cgroup_rule_and_cpuset() -> None:
    assert check_cgroup_rule("c 1:5 rwm") == "c 1:5 rwm"
    assert check_cgroup_rule("a *:* m") == "a *:* m"
    with pytest.raises(InvalidParameterError, match="invalid device cgroup format 'x 1:5 r'"):
        check_cgroup_rule("x 1:5 r")
    assert parse_cpuset("0-2,4") == {0, 1, 2, 4}
    with pytest.raises(InvalidParameterError):
        parse_cpuset("2-1")


def test_platform() -> None:
    check_platform("", "busybox", "linux", "amd64")
    check_platform("linux", "busybox", "linux", "amd64")
    check_platform("linux/amd64", "busybox", "linux", "amd64")
    check_platform("linux/x86_64", "busybox", "linux", "amd64")
    with pytest.raises(NotFoundError, match=r"^image with reference busybox was found but does "
                       r"not match the specified platform: wanted linux/arm64, actual: "
                       r"linux/amd64$"):
        check_platform("linux/arm64", "busybox", "linux", "amd64")


def test_runtime_names() -> None:
    check_runtime("")
    check_runtime("orlop")
    check_runtime("/usr/bin/crun")
    with pytest.raises(InvalidParameterError, match=r"^Unknown runtime specified nosuch$"):
        check_runtime("nosuch")


@pytest.mark.parametrize(("kw", "error", "text"), [
    ({"log_driver": "syslog"}, NotFoundError,
     'error looking up logging plugin syslog: plugin "syslog" not found'),
    ({"shm_size": -1}, InvalidParameterError, "SHM size can not be less than 0"),
    ({"cpu_shares": 1}, InvalidParameterError, "the minimum allowed cpu-shares is 2"),
    ({"pid_mode": "bogus"}, InvalidParameterError, "--pid: invalid PID mode"),
    ({"pid_mode": "container:x"}, UnsupportedError, "--pid container:<name>"),
    ({"uts_mode": "bogus"}, InvalidParameterError, "--uts: invalid UTS mode"),
    ({"cgroupns_mode": "bogus"}, InvalidParameterError, "--cgroupns: invalid CGROUP mode"),
    ({"uts_mode": "host", "hostname": "h"}, InvalidParameterError,
     "conflicting options: hostname and the UTS mode"),
    ({"devices": [DeviceMapping("/nonexistent", "/x")]}, NotFoundError,
     'custom device "/nonexistent": no such file or directory'),
    ({"devices": [DeviceMapping("/etc/hostname", "/x")]}, InvalidParameterError,
     "not a device node"),
    ({"devices": [DeviceMapping("/dev", "/x")]}, UnsupportedError,
     "a directory of devices is not supported"),
])
def test_validate_host_options_texts(kw: dict[str, object], error: type[OrlopError],
                                     text: str) -> None:
    with pytest.raises(error) as exc:
        validate_host_options(RunOptions(image="busybox", **kw))  # type: ignore[arg-type]
    assert text in str(exc.value)


def test_validate_host_options_accepts_dockers_forms() -> None:
    validate_host_options(RunOptions(
        image="busybox", log_driver="none", shm_size=1 << 20, cpu_shares=2,
        pid_mode="host", uts_mode="host", cgroupns_mode="private",
        devices=[DeviceMapping("/dev/null", "/dev/n", "r")], cpuset_cpus="0",
        ulimits=[Ulimit("nofile", 1, 2)], device_cgroup_rules=["c 1:3 rwm"]))


def test_unapplied_host_config_fields_refused_unless_unset() -> None:
    from orlop.wire.create import refuse_unapplied

    # What the docker CLI, docker-py and compose send when nothing is asked for.
    refuse_unapplied({"OomScoreAdj": 0, "MemorySwappiness": -1, "IpcMode": "",
                      "Isolation": "", "Links": None, "OomKillDisable": False,
                      "BlkioWeightDevice": [], "CgroupParent": ""})
    refuse_unapplied({"MemorySwappiness": None, "IpcMode": "private"})
    with pytest.raises(UnsupportedError, match=r"HostConfig\.OomKillDisable=true"):
        refuse_unapplied({"OomKillDisable": True})
    with pytest.raises(UnsupportedError, match=r"HostConfig\.OomScoreAdj=false"):
        refuse_unapplied({"OomScoreAdj": False})


def test_isolation_default_only_with_dockerds_text() -> None:
    validate_host_options(RunOptions(image="busybox", isolation="Default"))
    with pytest.raises(InvalidParameterError,
                       match="Invalid isolation: \"hyperv\" - linux only supports 'default'"):
        validate_host_options(RunOptions(image="busybox", isolation="hyperv"))


def test_memory_swappiness_range_has_dockerds_text() -> None:
    from orlop.engine.containers.hostopts import check_swappiness

    for bad in (-2, 101):
        with pytest.raises(InvalidParameterError,
                           match=f"Invalid value: {bad}, valid memory swappiness range is "
                                 "0-100"):
            check_swappiness(bad)
