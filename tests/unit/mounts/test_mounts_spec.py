"""MountSpec/MountPoint: Docker's inspect entries, HostConfig.Mounts JSON, JSON records."""

from __future__ import annotations

import json

import pytest

from orlop.errors import InvalidMountError, InvalidVolumeNameError
from orlop.mounts.parser import parse_mount_flag, parse_tmpfs_flag, parse_volume_flag
from orlop.mounts.spec import MountPoint, MountSpec
from orlop.wire.mounts import from_api_mount, mount_point_json, to_api_mount

CWD = "/work/w"
VOLS = "/var/lib/docker/volumes"
ANON = "55b8695705535732a26f05bac90676b871b51c5902cdb10a0b9eee46a3722ece"


def _point(spec: MountSpec, name: str = "") -> MountPoint:
    name = name or spec.source
    source = f"{VOLS}/{name}/_data" if spec.type == "volume" else ""
    return MountPoint.from_spec(spec, source=source, name=name)


# docker-behaviour.md section 3 and the mountbind/mountvol/tmpfs/volfrom transcripts.
INSPECT_SAMPLES = [
    (parse_volume_flag("vol_named:/data", CWD), "",
     '{"Type": "volume", "Name": "vol_named", "Source": "/var/lib/docker/volumes/vol_named/'
     '_data", "Destination": "/data", "Driver": "local", "Mode": "z", "RW": true, '
     '"Propagation": ""}'),
    (parse_volume_flag("vol_named:/data:ro", CWD), "",
     '{"Type": "volume", "Name": "vol_named", "Source": "/var/lib/docker/volumes/vol_named/'
     '_data", "Destination": "/data", "Driver": "local", "Mode": "ro", "RW": false, '
     '"Propagation": ""}'),
    (parse_volume_flag("/dbdata", CWD), ANON,
     f'{{"Type": "volume", "Name": "{ANON}", "Source": "{VOLS}/{ANON}/_data", '
     '"Destination": "/dbdata", "Driver": "local", "Mode": "", "RW": true, "Propagation": ""}'),
    (parse_mount_flag("type=volume,source=mv1,target=/data", CWD), "",
     '{"Type": "volume", "Name": "mv1", "Source": "/var/lib/docker/volumes/mv1/_data", '
     '"Destination": "/data", "Driver": "local", "Mode": "z", "RW": true, "Propagation": ""}'),
    (parse_mount_flag("type=volume,target=/data", CWD), ANON,
     f'{{"Type": "volume", "Name": "{ANON}", "Source": "{VOLS}/{ANON}/_data", '
     '"Destination": "/data", "Driver": "local", "Mode": "z", "RW": true, "Propagation": ""}'),
    (parse_volume_flag("/host/dir:/data:ro", CWD), "",
     '{"Type": "bind", "Source": "/host/dir", "Destination": "/data", "Mode": "ro", '
     '"RW": false, "Propagation": "rprivate"}'),
    (parse_volume_flag("/host/dir:/data:z", CWD), "",
     '{"Type": "bind", "Source": "/host/dir", "Destination": "/data", "Mode": "z", '
     '"RW": true, "Propagation": "rprivate"}'),
    (parse_mount_flag("type=bind,src=/host/mb,dst=/mnt,readonly", CWD), "",
     '{"Type": "bind", "Source": "/host/mb", "Destination": "/mnt", "Mode": "", "RW": false, '
     '"Propagation": "rprivate"}'),
    (parse_mount_flag("type=bind,source=/host/mb,target=/mnt", CWD), "",
     '{"Type": "bind", "Source": "/host/mb", "Destination": "/mnt", "Mode": "", "RW": true, '
     '"Propagation": "rprivate"}'),
    (parse_mount_flag("type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770", CWD), "",
     '{"Type":"tmpfs","Source":"","Destination":"/t","Mode":"","RW":true,"Propagation":""}'),
]


@pytest.mark.parametrize(("spec", "name", "sample"), INSPECT_SAMPLES)
def test_mount_point_to_inspect_resolved_spec_equals_docker_sample(spec, name, sample):
    got = mount_point_json(_point(spec, name))
    want = json.loads(sample)
    assert got == want
    assert list(got) == list(want)  # Docker's key order


def test_mount_point_from_spec_other_driver_drops_default_mode():
    spec = parse_mount_flag("type=volume,src=mv,dst=/d", CWD)
    assert MountPoint.from_spec(spec, source="/p", driver="other").mode == ""
    explicit = parse_volume_flag("mv:/d:z", CWD)
    assert MountPoint.from_spec(explicit, source="/p", driver="other").mode == "z"


def test_mount_point_json_round_trip_keeps_every_field():
    mp = MountPoint(type="tmpfs", destination="/t", rw=False, tmpfs_size=1024, tmpfs_mode=0o1777,
                    tmpfs_options=("exec", "uid=1"), origin="tmpfs-flag",
                    from_volumes_from="abc")
    data = mp.to_json()
    assert json.loads(json.dumps(data)) == data
    assert MountPoint.from_json(data) == mp
    assert MountPoint.from_json(json.dumps(data)) == mp


def test_mount_point_to_json_keys_are_stable():
    keys = list(MountPoint(type="bind", destination="/x").to_json())
    assert keys == ["type", "destination", "source", "name", "driver", "mode", "rw",
                    "propagation", "copy_up", "subpath", "bind_recursive", "tmpfs_size",
                    "tmpfs_mode", "tmpfs_options", "origin", "from_volumes_from", "chown"]


@pytest.mark.parametrize(
    "record",
    [{"destination": "/x"}, {"type": "npipe", "destination": "/x"},
     {"type": "bind", "destination": "/x", "rw": "yes"},
     {"type": "bind", "destination": 3}, {"type": "tmpfs", "destination": "/t",
                                          "tmpfs_size": "1m"},
     {"type": "bind", "destination": "/x", "bind_recursive": "maybe"}, ["bind"]],
)
def test_mount_point_from_json_bad_record_raises(record):
    with pytest.raises(InvalidMountError, match="invalid mount point record"):
        MountPoint.from_json(record)


def test_mount_point_from_json_unknown_key_is_ignored():
    assert MountPoint.from_json({"type": "bind", "destination": "/x", "future": 1}) == \
        MountPoint(type="bind", destination="/x")


def test_mount_spec_frozen_mappings_are_hashable():
    spec = parse_mount_flag("type=volume,src=vv,dst=/d,volume-label=a=b", CWD)
    assert hash(spec) == hash(parse_mount_flag("type=volume,src=vv,dst=/d,volume-label=a=b",
                                               CWD))
    with pytest.raises(TypeError):
        spec.volume_labels["x"] = "y"  # type: ignore[index]


API_SAMPLES = [
    ("type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770",
     {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1048576, "Mode": 1016}}),
    ("target=/x", {"Type": "volume", "Target": "/x"}),
    ("type=volume,src=vv,dst=/d,ro,volume-nocopy,volume-label=team=a,volume-driver=local,"
     "volume-opt=o=size=5m,volume-subpath=x",
     {"Type": "volume", "Source": "vv", "Target": "/d", "ReadOnly": True,
      "VolumeOptions": {"NoCopy": True, "Labels": {"team": "a"}, "Subpath": "x",
                        "DriverConfig": {"Name": "local", "Options": {"o": "size=5m"}}}}),
    ("type=bind,src=/tmp,dst=/x,ro,src=/var", {"Type": "bind", "Source": "/var",
                                               "Target": "/x", "ReadOnly": True}),
    ("type=bind,src=/h,dst=/x,bind-propagation=rshared,bind-nonrecursive",
     {"Type": "bind", "Source": "/h", "Target": "/x",
      "BindOptions": {"Propagation": "rshared", "NonRecursive": True}}),
    ("type=bind,src=/h,dst=/x,ro,bind-recursive=writable",
     {"Type": "bind", "Source": "/h", "Target": "/x", "ReadOnly": True,
      "BindOptions": {"ReadOnlyNonRecursive": True}}),
    ("type=bind,src=/h,dst=/x,ro,bind-recursive=readonly,bind-propagation=rprivate",
     {"Type": "bind", "Source": "/h", "Target": "/x", "ReadOnly": True,
      "BindOptions": {"Propagation": "rprivate", "ReadOnlyForceRecursive": True}}),
]


@pytest.mark.parametrize(("raw", "api"), API_SAMPLES)
def test_to_api_mount_mount_flag_gives_docker_json(raw, api):
    assert to_api_mount(parse_mount_flag(raw, CWD)) == api


@pytest.mark.parametrize(("raw", "api"), API_SAMPLES)
def test_from_api_mount_round_trip_gives_same_spec_fields(raw, api):
    parsed = parse_mount_flag(raw, CWD)
    back = from_api_mount(api)
    assert to_api_mount(back) == api
    for name in ("type", "target", "source", "read_only", "mode", "propagation", "copy_up",
                 "volume_driver", "volume_labels", "volume_options", "volume_subpath",
                 "bind_recursive", "tmpfs_size", "tmpfs_mode", "tmpfs_options",
                 "create_host_path", "origin"):
        assert getattr(back, name) == getattr(parsed, name), name


def test_to_api_mount_tmpfs_flag_extra_words_give_tmpfs_options_list():
    api = to_api_mount(parse_tmpfs_flag("/t:exec,uid=1000"))
    assert api == {"Type": "tmpfs", "Target": "/t",
                   "TmpfsOptions": {"Options": [["exec"], ["uid", "1000"]]}}
    assert from_api_mount(api).tmpfs_options == ("exec", "uid=1000")


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        ({"Type": "npipe", "Target": "/x"}, InvalidMountError,
         'invalid mount config for type "npipe": mount type unknown'),
        ({"Type": "", "Target": "/x"}, InvalidMountError,
         'invalid mount config for type "": mount type unknown'),
        ({"Type": "bind", "Source": "/h"}, InvalidMountError,
         'invalid mount config for type "bind": field Target must not be empty'),
        ({"Type": "bind", "Target": "/x"}, InvalidMountError,
         'invalid mount config for type "bind": field Source must not be empty'),
        ({"Type": "volume", "Target": "/x", "BindOptions": {}}, InvalidMountError,
         'invalid mount config for type "volume": field BindOptions must not be specified'),
        ({"Type": "bind", "Source": "/h", "Target": "/x", "VolumeOptions": {}},
         InvalidMountError,
         'invalid mount config for type "bind": field VolumeOptions must not be specified'),
        ({"Type": "bind", "Source": "/h", "Target": "/x", "TmpfsOptions": {}},
         InvalidMountError,
         'invalid mount config for type "bind": field TmpfsOptions must not be specified'),
        ({"Type": "tmpfs", "Source": "x", "Target": "/t"}, InvalidMountError,
         'invalid mount config for type "tmpfs": field Source must not be specified'),
        ({"Type": "bind", "Source": "/h", "Target": "/x",
          "BindOptions": {"Propagation": "weird"}}, InvalidMountError,
         'invalid mount config for type "bind": invalid propagation mode: weird'),
        ({"Type": "bind", "Source": "/h", "Target": "/x", "ReadOnly": True,
          "BindOptions": {"NonRecursive": True, "ReadOnlyForceRecursive": True}},
         InvalidMountError,
         'invalid mount config for type "bind": BindOptions: NonRecursive and '
         "ReadOnlyForceRecursive cannot be set together"),
        ({"Type": "bind", "Source": "/h", "Target": "/x",
          "BindOptions": {"ReadOnlyNonRecursive": True}}, InvalidMountError,
         "invalid mount config for type \"bind\": option 'bind-recursive=writable' requires "
         "'readonly' to be specified in conjunction"),
        ({"Type": "volume", "Source": "/abs", "Target": "/x"}, InvalidVolumeNameError,
         'create /abs: "/abs" includes invalid characters for a local volume name, only '
         '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
         "use absolute path"),
        ({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"Options": [["bogus"]]}},
         InvalidMountError, 'invalid mount config for type "tmpfs": invalid tmpfs option '
                            '["bogus"]'),
        ({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": -1}},
         InvalidMountError, 'invalid mount config for type "tmpfs": invalid tmpfs size: -1'),
        ({"Type": 1, "Target": "/x"}, InvalidMountError,
         "invalid mount: field Type must be a string, got a number"),
        ({"Type": "bind", "Source": "/h", "Target": "/x", "ReadOnly": "yes"},
         InvalidMountError, "invalid mount: field ReadOnly must be a boolean, got a string"),
        ({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": True}},
         InvalidMountError,
         "invalid mount: field TmpfsOptions.SizeBytes must be an integer, got a boolean"),
        ({"Type": "volume", "Target": "/x", "VolumeOptions": []}, InvalidMountError,
         "invalid mount: field VolumeOptions must be an object, got an array"),
        ({"Type": "volume", "Source": "vv", "Target": "/x",
          "VolumeOptions": {"Labels": {"a": 1}}}, InvalidMountError,
         "invalid mount: field VolumeOptions.Labels[a] must be a string, got a number"),
        ({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"Options": [["a", "b", "c"]]}},
         InvalidMountError, "invalid mount: each TmpfsOptions.Options entry must be [flag] or "
                            "[key, value], got ['a', 'b', 'c']"),
        ({"Type": "bind", "Source": "/h\x00", "Target": "/x"}, InvalidMountError,
         'invalid bind source "/h\\x00": contains a NUL byte'),
    ],
)
def test_from_api_mount_bad_object_raises_clear_text(data, error, message):
    with pytest.raises(error) as info:
        from_api_mount(data)
    assert str(info.value) == message


def test_from_api_mount_not_an_object_raises():
    with pytest.raises(InvalidMountError, match="expected an object, got an array"):
        from_api_mount([])  # type: ignore[arg-type]


def test_from_api_mount_cleans_target_and_source_and_ignores_unknown_keys():
    spec = from_api_mount({"Type": "bind", "Source": "/h//d/", "Target": "/x/y/../z/",
                           "Consistency": "cached", "Future": 1})
    assert (spec.source, spec.target, spec.create_host_path) == ("/h/d", "/x/z", False)
