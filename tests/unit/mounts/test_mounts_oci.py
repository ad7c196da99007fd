"""oci_mount: config.json entries (runtime.spec.Mount) for binds, volumes and tmpfs."""

from __future__ import annotations

import pytest

from orlop.errors import InvalidMountError
from orlop.mounts.oci import oci_mount
from orlop.mounts.parser import parse_mount_flag, parse_tmpfs_flag, parse_volume_flag
from orlop.mounts.spec import MountPoint

CWD = "/w"


@pytest.mark.parametrize(
    ("mp", "options"),
    [
        (MountPoint(type="bind", destination="/d", source="/h"), ["rbind", "rw", "rprivate"]),
        (MountPoint(type="bind", destination="/d", source="/h", rw=False, propagation="rslave"),
         ["rbind", "rro", "rslave"]),
        (MountPoint(type="bind", destination="/d", source="/h", rw=False,
                    bind_recursive="disabled"), ["bind", "ro", "rprivate"]),
        (MountPoint(type="bind", destination="/d", source="/h", bind_recursive="disabled"),
         ["bind", "rw", "rprivate"]),
        (MountPoint(type="bind", destination="/d", source="/h", rw=False,
                    bind_recursive="readonly", propagation="rprivate"),
         ["rbind", "rro", "rprivate"]),
        (MountPoint(type="bind", destination="/d", source="/h", rw=False,
                    bind_recursive="writable"), ["rbind", "ro", "rprivate"]),
        (MountPoint(type="volume", destination="/d", source="/h", name="v", driver="local"),
         ["rbind", "rw", "rprivate"]),
    ],
)
def test_oci_mount_bind_or_volume_gives_bind_entry(mp, options):
    assert oci_mount(mp).to_dict() == {"destination": "/d", "type": "bind", "source": "/h",
                             "options": options}


@pytest.mark.parametrize(
    ("spec", "options"),
    [
        (parse_tmpfs_flag("/t"), ["nosuid", "nodev", "noexec"]),
        (parse_tmpfs_flag("/t:size=1m,mode=1777,noexec"),
         ["nosuid", "nodev", "noexec", "size=1m", "mode=1777"]),
        (parse_tmpfs_flag("/t:ro,exec"), ["nosuid", "nodev", "ro", "exec"]),
        (parse_mount_flag("type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770", CWD),
         ["nosuid", "nodev", "noexec", "size=1m", "mode=1770"]),
        (parse_mount_flag("type=tmpfs,target=/t,readonly", CWD),
         ["nosuid", "nodev", "noexec", "ro"]),
    ],
)
def test_oci_mount_tmpfs_gives_docker_defaults_and_data(spec, options):
    assert oci_mount(MountPoint.from_spec(spec)).to_dict() == {
        "destination": "/t", "type": "tmpfs", "source": "tmpfs", "options": options}


def test_oci_mount_volume_flag_ro_bind_end_to_end_is_recursively_read_only():
    mp = MountPoint.from_spec(parse_volume_flag("/host/dir:/data:ro", CWD))
    assert oci_mount(mp).options == ["rbind", "rro", "rprivate"]
    mp = MountPoint.from_spec(parse_volume_flag("vol:/data:ro", CWD))
    assert oci_mount(mp).options == ["rbind", "rro", "rprivate"]


def test_oci_mount_without_rro_support_falls_back_to_ro_unless_forced():
    """Docker's rules: a default read-only mount falls back to ro; readonly is refused."""
    why = 'rro is not supported by runtime "x"'
    mp = MountPoint.from_spec(parse_volume_flag("/host/dir:/data:ro", CWD))
    assert oci_mount(mp, why).options == ["rbind", "ro", "rprivate"]
    forced = MountPoint.from_spec(parse_mount_flag(
        "type=bind,src=/h,dst=/d,readonly,bind-recursive=readonly,bind-propagation=rprivate",
        CWD))
    assert oci_mount(forced).options == ["rbind", "rro", "rprivate"]
    with pytest.raises(InvalidMountError, match="rro is not supported"):
        oci_mount(forced, why)
    # A file has no submounts: "ro" is recursive already, whatever was asked.
    assert oci_mount(forced, why, source_is_dir=False).options == ["rbind", "ro", "rprivate"]
    assert oci_mount(mp, source_is_dir=False).options == ["rbind", "ro", "rprivate"]
    rw = MountPoint.from_spec(parse_volume_flag("/host/dir:/data", CWD))
    assert oci_mount(rw, why).options == ["rbind", "rw", "rprivate"]
