"""merge_mounts precedence, --volumes-from inheritance, duplicates, parents-first sorting."""

from __future__ import annotations

import pytest

from orlop.errors import InvalidMountError
from orlop.mounts.parser import (
    check_duplicates,
    parse_image_volume,
    parse_mount_flag,
    parse_tmpfs_flag,
    parse_volume_flag,
    parse_volumes_from,
)
from orlop.mounts.plan import VolumesFrom, inherit_mount_points, merge_mounts, sort_mounts
from orlop.mounts.spec import MountPoint, MountSpec
from orlop.wire.mounts import mount_point_json

CWD = "/w"
VOL = MountPoint(type="volume", destination="/dbdata", source="/v/anon/_data", name="anon",
                 driver="local", mode="")
NAMED = MountPoint(type="volume", destination="/named", source="/v/vf_named/_data",
                   name="vf_named", driver="local", mode="z")
BIND = MountPoint(type="bind", destination="/bind", source="/h/vfbind", propagation="rprivate",
                  copy_up=False)
TMPFS = MountPoint(type="tmpfs", destination="/tfs2", copy_up=False)
RO_BIND = MountPoint(type="bind", destination="/robind", source="/h/ro", rw=False,
                     propagation="rprivate")


def _targets(plan) -> dict[str, str]:
    return {(e.target if isinstance(e, MountSpec) else e.destination):
            (e.source if isinstance(e, MountSpec) else e.name or e.source)
            for e in plan.entries}


@pytest.mark.parametrize(
    ("raw", "ref", "mode"),
    [("dbdata", "dbdata", ""), ("dbdata:ro", "dbdata", "ro"), ("dbdata:rw", "dbdata", "rw"),
     ("dbdata:rw,z", "dbdata", "rw,z"), ("dbdata:ro,Z", "dbdata", "ro,Z"),
     ("4f87a4d21204:ro", "4f87a4d21204", "ro"), ("dbdata:", "dbdata", "")],
)
def test_parse_volumes_from_valid_spec_gives_ref_and_mode(raw, ref, mode):
    assert parse_volumes_from(raw) == (ref, mode)


@pytest.mark.parametrize(
    ("raw", "message"),
    [("dbdata:xx", "invalid mode: xx"), ("dbdata:ro,rw", "invalid mode: ro,rw"),
     ("dbdata:rshared", "invalid mode: rshared"), ("dbdata:nocopy", "invalid mode: nocopy"),
     ("dbdata:ro:x", "invalid mode: ro:x"),
     ("", "volumes-from specification cannot be an empty string"),
     (":ro", "invalid volumes-from specification ':ro': the container name is empty")],
)
def test_parse_volumes_from_bad_spec_raises_docker_text(raw, message):
    with pytest.raises(InvalidMountError) as info:
        parse_volumes_from(raw)
    assert str(info.value) == message


def test_inherit_mount_points_default_mode_keeps_rw_and_clears_mode():
    got = inherit_mount_points("c1", "", [VOL, NAMED, BIND, TMPFS, RO_BIND])
    assert [mp.destination for mp in got] == ["/dbdata", "/named", "/bind", "/robind"]
    assert [mp.rw for mp in got] == [True, True, True, False]
    assert {mp.mode for mp in got} == {""}
    assert {mp.from_volumes_from for mp in got} == {"c1"}
    assert not any(mp.copy_up for mp in got)
    assert mount_point_json(got[1]) == {
        "Type": "volume", "Name": "vf_named", "Source": "/v/vf_named/_data",
        "Destination": "/named", "Driver": "local", "Mode": "", "RW": True, "Propagation": ""}


def test_inherit_mount_points_ro_mode_makes_everything_read_only():
    got = inherit_mount_points("c1", "ro", [VOL, NAMED, BIND])
    assert [mp.rw for mp in got] == [False, False, False]


def test_inherit_mount_points_rw_mode_never_makes_read_only_writable():
    got = inherit_mount_points("c1", "rw,z", [RO_BIND])
    assert got[0].rw is False


def test_merge_mounts_volumes_from_then_own_v_overrides_same_target():
    own = parse_volume_flag("vf_other:/dbdata", CWD)
    plan = merge_mounts(volumes_from=[VolumesFrom("c1", "", [VOL, NAMED, BIND])],
                        volume_flags=[own])
    assert _targets(plan) == {"/dbdata": "vf_other", "/named": "vf_named",
                              "/bind": "/h/vfbind"}
    assert plan.specs == [own]
    assert [mp.destination for mp in plan.released] == ["/dbdata"]


def test_merge_mounts_later_volumes_from_overrides_earlier():
    other = MountPoint(type="volume", destination="/dbdata", name="second", driver="local")
    plan = merge_mounts(volumes_from=[VolumesFrom("c1", "", [VOL]),
                                      VolumesFrom("c2", "ro", [other])])
    (entry,) = plan.points
    assert (entry.name, entry.rw, entry.from_volumes_from) == ("second", False, "c2")


def test_merge_mounts_existing_points_are_replaced_by_volumes_from():
    plan = merge_mounts(existing=[VOL], volumes_from=[VolumesFrom("c1", "", [VOL])])
    assert plan.points[0].from_volumes_from == "c1"
    assert plan.released == (VOL,)


def test_merge_mounts_mount_and_tmpfs_flags_override_volumes_from():
    plan = merge_mounts(volumes_from=[VolumesFrom("c1", "", [VOL, BIND])],
                        mount_flags=[parse_mount_flag("type=volume,src=mv,dst=/bind", CWD)],
                        tmpfs_flags=[parse_tmpfs_flag("/dbdata")])
    types = {e.target: e.type for e in plan.specs}
    assert types == {"/bind": "volume", "/dbdata": "tmpfs"}
    assert plan.points == []


def test_merge_mounts_image_volume_only_where_nothing_is_mounted():
    plan = merge_mounts(volumes_from=[VolumesFrom("c1", "", [VOL])],
                        tmpfs_flags=[parse_tmpfs_flag("/t")],
                        volume_flags=[parse_volume_flag("named:/data", CWD)],
                        image_volumes=["/dbdata", "/t/", "/data", "/fresh", "/fresh"])
    image = [e for e in plan.specs if e.origin == "image"]
    assert [(e.target, e.source, e.mode) for e in image] == [("/fresh", "", "")]
    assert len(plan.entries) == 4


def test_merge_mounts_image_volume_spec_object_is_accepted():
    plan = merge_mounts(image_volumes=[parse_image_volume("/data/")])
    assert plan.specs[0].target == "/data"


@pytest.mark.parametrize(
    ("flags", "target"),
    [
        ({"volume_flags": ["va:/data", "vb:/data"]}, "/data"),
        ({"volume_flags": ["v1:/x"], "mount_flags": ["type=volume,src=v2,dst=/x"]}, "/x"),
        ({"mount_flags": ["type=volume,src=v1,dst=/x", "type=volume,src=v2,dst=/x/"]}, "/x"),
        ({"volume_flags": ["/x"], "tmpfs_flags": ["/x"]}, "/x"),
        ({"volume_flags": ["/x", "vol:/x"]}, "/x"),
        ({"tmpfs_flags": ["/t", "/t/./"]}, "/t"),
    ],
)
def test_merge_mounts_duplicate_user_target_raises_docker_text(flags, target):
    with pytest.raises(InvalidMountError) as info:
        merge_mounts(
            volume_flags=[parse_volume_flag(r, CWD) for r in flags.get("volume_flags", [])],
            mount_flags=[parse_mount_flag(r, CWD) for r in flags.get("mount_flags", [])],
            tmpfs_flags=[parse_tmpfs_flag(r) for r in flags.get("tmpfs_flags", [])],
        )
    assert str(info.value) == f"Duplicate mount point: {target}"


def test_check_duplicates_distinct_targets_pass():
    check_duplicates([parse_volume_flag("/a", CWD), parse_volume_flag("/a/b", CWD),
                      parse_tmpfs_flag("/b")])


@pytest.mark.parametrize(
    ("path", "message"),
    [("data", "invalid image volume 'data': invalid mount path: 'data' mount path must be "
              "absolute"),
     ("/", "invalid image volume '/': invalid specification: destination can't be '/'")],
)
def test_parse_image_volume_bad_path_raises(path, message):
    with pytest.raises(InvalidMountError) as info:
        parse_image_volume(path)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("given", "want"),
    [
        (["/etc/resolv.conf", "/etc"], ["/etc", "/etc/resolv.conf"]),
        (["/a/b/c", "/z", "/a/b", "/a"], ["/z", "/a", "/a/b", "/a/b/c"]),
        (["/b", "/a", "/c/d", "/c"], ["/b", "/a", "/c", "/c/d"]),  # stable among equals
        (["/x/", "/x/y"], ["/x/", "/x/y"]),
        ([], []),
    ],
)
def test_sort_mounts_destinations_give_parents_first(given, want):
    assert sort_mounts(given) == want


def test_sort_mounts_key_function_sorts_objects():
    points = [MountPoint(type="bind", destination="/data/sub", source="/h"),
              MountPoint(type="volume", destination="/data", name="vv")]
    assert [p.destination for p in sort_mounts(points, key=lambda p: p.destination)] == [
        "/data", "/data/sub"]
