"""Pure mount rules of issue 10: nothing over procfs, image volumes off /proc and /sys,
binds of the engine root only with slave/shared propagation."""

from __future__ import annotations

import pytest

from orlop.errors import InvalidMountError
from orlop.kernel.procmounts import proc_mount_error
from orlop.mounts.parser import (
    parse_image_volume,
    parse_mount_flag,
    parse_tmpfs_flag,
    parse_volume_flag,
)
from orlop.mounts.spec import MountSpec
from orlop.mounts.validate import bind_daemon_root_propagation, is_within
from orlop.wire.mounts import from_api_mount

CWD = "/w"
NOT_PROC = '"/proc" cannot be mounted because it is not of type proc'


@pytest.mark.parametrize(("parse", "raw", "message"), [
    (parse_volume_flag, "v:/proc", NOT_PROC),
    (parse_volume_flag, "/host:/proc/:ro", NOT_PROC),
    (parse_volume_flag, "/host:/proc/sys", '"/proc/sys" cannot be mounted because it is inside'),
    (parse_volume_flag, "/proc", NOT_PROC),
    (parse_mount_flag, "type=volume,dst=/proc//self", '"/proc/self" cannot be mounted'),
    (parse_mount_flag, "type=tmpfs,dst=/proc/../proc", NOT_PROC),
    (parse_mount_flag, "type=bind,src=/x,dst=/proc/kcore", '"/proc/kcore" cannot be mounted'),
    (parse_mount_flag, "type=volume,src=v,dst=/proc/meminfo", '"/proc/meminfo" cannot be'),
])
def test_user_mount_over_procfs_is_refused(parse, raw, message):
    with pytest.raises(InvalidMountError, match=message):
        parse(raw, CWD)


def test_tmpfs_and_api_mount_over_procfs_are_refused():
    with pytest.raises(InvalidMountError, match=NOT_PROC):
        parse_tmpfs_flag("/proc:size=1m")
    with pytest.raises(InvalidMountError, match=NOT_PROC):
        from_api_mount({"Type": "bind", "Source": "/tmp", "Target": "/proc"})


def test_lxcfs_binds_and_lookalike_paths_are_allowed():
    assert parse_mount_flag("type=bind,src=/x,dst=/proc/meminfo", CWD).target == "/proc/meminfo"
    assert parse_volume_flag("/x:/proc/net/dev:ro", CWD).target == "/proc/net/dev"
    assert parse_volume_flag("vol:/procx", CWD).target == "/procx"
    assert parse_tmpfs_flag("/proc2").target == "/proc2"


@pytest.mark.parametrize("path", ["/proc", "/proc/", "/proc/sys", "/sys", "/sys/x",
                                  "/sys/fs/cgroup", "//proc", "/x/../proc"])
def test_image_volume_on_proc_or_sys_is_refused(path):
    with pytest.raises(InvalidMountError, match=f"invalid image volume '{path}': a volume "
                                                "cannot be mounted on /(proc|sys)"):
        parse_image_volume(path)


@pytest.mark.parametrize("path", ["/procx", "/system", "/data/proc", "/var/sys"])
def test_image_volume_elsewhere_is_kept(path):
    assert parse_image_volume(path).target == path


@pytest.mark.parametrize(("dest", "is_proc", "is_bind", "refused"), [
    ("/proc", True, False, False),
    ("/proc", False, True, True),
    ("/proc/cpuinfo", False, True, False),
    ("/proc/cpuinfo", False, False, True),
    ("/proc/sys/kernel/ns_last_pid", False, True, False),
    ("/proc/sys/kernel", False, True, True),
    ("/procfs", False, False, False),
])
def test_proc_mount_error_follows_runc(dest, is_proc, is_bind, refused):
    assert (proc_mount_error(dest, is_proc=is_proc, is_bind=is_bind) is not None) is refused


ROOT = "/var/lib/orlop"


def _bind(source: str, propagation: str = "") -> MountSpec:
    return MountSpec(type="bind", target="/m", source=source, propagation=propagation)


@pytest.mark.parametrize("source", ["/var/lib/orlop", "/var/lib/orlop/volumes/v/_data",
                                    "/var/lib", "/var", "/"])
def test_bind_of_engine_root_defaults_to_rslave_and_refuses_private(source):
    assert bind_daemon_root_propagation(_bind(source), source, ROOT) == "rslave"
    for ok in ("rslave", "rshared"):
        assert bind_daemon_root_propagation(_bind(source, ok), source, ROOT) == ok
    for bad in ("rprivate", "private", "slave", "shared"):
        with pytest.raises(InvalidMountError) as exc:
            bind_daemon_root_propagation(_bind(source, bad), source, ROOT)
        assert exc.value.message == (
            'invalid mount config: must use either propagation mode "rslave" or "rshared" '
            f'when mount source is within the daemon root, daemon root: "{ROOT}", bind '
            f'mount source: "{source}", propagation: "{bad}"')


@pytest.mark.parametrize("source", ["/var/lib/orlop2", "/var/lib/other", "/srv"])
def test_bind_outside_engine_root_is_untouched(source):
    assert bind_daemon_root_propagation(_bind(source, "rprivate"), source, ROOT) == "rprivate"
    assert bind_daemon_root_propagation(_bind(source), source, ROOT) == ""


def test_is_within_is_component_wise():
    assert is_within("/a/b", "/a") and is_within("/a", "/a") and is_within("/x", "/")
    assert not is_within("/ab", "/a")
