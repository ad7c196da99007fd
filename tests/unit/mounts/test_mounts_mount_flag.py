"""--mount parsing: Docker's CLI texts, then the daemon's validation texts."""

from __future__ import annotations

import pytest
from mounttexts import CWD, INVALID_CHARS

from orlop.errors import InvalidMountError, InvalidMountFlagError, InvalidVolumeNameError
from orlop.mounts.parser import parse_mount_flag, validate_bind_source


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("type=bind,src=/tmp", "target is required"),
        ("type=bind,src=/tmp,dst=/x,volume-opt=a=b",
         "cannot mix 'volume-*' options with mount type 'bind'"),
        ("type=bind,src=/tmp,dst=/x,tmpfs-size=1m",
         "cannot mix 'tmpfs-*' options with mount type 'bind'"),
        ("type=volume,dst=/x,bind-propagation=rshared",
         "cannot mix 'bind-*' options with mount type 'volume'"),
        ("type=volume,dst=/x,foo=bar", "unexpected key 'foo' in 'foo=bar'"),
        ("type=volume,dst=/x,readonly=maybe", "invalid value for readonly: maybe"),
        ("type=volume,dst=/x,ro=maybe", "invalid value for ro: maybe"),
        ("type=tmpfs,target=/t,tmpfs-size=abc", "invalid value for tmpfs-size: abc"),
        ("type=tmpfs,target=/t,tmpfs-mode=999", "invalid value for tmpfs-mode: 999"),
        ("type=volume,dst=/x,volume-nocopy=perhaps", "invalid value for volume-nocopy: perhaps"),
        ("type=volume,dst=/x,x", "invalid field 'x' must be a key=value pair"),
        ("type=,dst=/x", "type is required"),
        ("", "target is required"),
        ("type=bind,src=/tmp,dst=/x,bind-recursive=maybe",
         'invalid value for bind-recursive: maybe (must be "enabled", "disabled", '
         '"writable", or "readonly")'),
        ("type=bind,src=/tmp,dst=/x,bind-recursive=writable",
         "option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction"),
        ("type=bind,src=/tmp,dst=/x,ro,bind-recursive=readonly",
         "option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be "
         "specified in conjunction"),
        ("type=tmpfs,dst=/t,volume-nocopy",
         "cannot mix 'volume-*' options with mount type 'tmpfs'"),
    ],
)
def test_parse_mount_flag_cli_bad_input_raises_docker_cli_text(raw, message):
    with pytest.raises(InvalidMountFlagError) as info:
        parse_mount_flag(raw, CWD)
    assert str(info.value) == message
    assert (info.value.flag, info.value.value) == ("--mount", raw)


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        ("type=foo,target=/x", InvalidMountError,
         'invalid mount config for type "foo": mount type unknown'),
        ("type=volume,src=v,dst=relative", InvalidMountError,
         "invalid mount config for type \"volume\": invalid mount path: 'relative' mount path "
         "must be absolute"),
        ("type=bind,dst=/x", InvalidMountError,
         'invalid mount config for type "bind": field Source must not be empty'),
        ("type=volume,src=../x,dst=/x", InvalidVolumeNameError, INVALID_CHARS.format(n="/work/x")),
        ("type=volume,src=/abs/path,dst=/x", InvalidVolumeNameError,
         INVALID_CHARS.format(n="/abs/path")),
        ("type=bind,src=/tmp,dst=/x,bind-propagation=weird", InvalidMountError,
         'invalid mount config for type "bind": invalid propagation mode: weird'),
        ("type=tmpfs,source=foo,target=/t", InvalidMountError,
         'invalid mount config for type "tmpfs": field Source must not be specified'),
        ("type=bind,src=relative/dir,dst=/mnt", InvalidMountError,
         "invalid mount config for type \"bind\": invalid mount path: 'relative/dir' mount "
         "path must be absolute"),
        ("type=bind,src=/tmp,dst=/", InvalidMountError,
         "invalid mount config for type \"bind\": invalid specification: destination can't "
         "be '/'"),
        ("type=volume,dst=/x,ro", InvalidMountError,
         'invalid mount config for type "volume": must not set ReadOnly mode when using '
         "anonymous volumes"),
        ("type=volume,dst=/x,volume-subpath=a", InvalidMountError,
         'invalid mount config for type "volume": must not set Subpath when using anonymous '
         "volumes"),
        ("type=volume,src=vv,dst=/x,volume-subpath=../a", InvalidMountError,
         'invalid mount config for type "volume": subpath must be a relative path within the '
         "volume"),
        ("type=volume,src=vv,dst=/x,volume-subpath=/a", InvalidMountError,
         'invalid mount config for type "volume": subpath must be a relative path within the '
         "volume"),
        ("type=volume,src=a,dst=/x", InvalidVolumeNameError,
         "create a: volume name is too short, names should be at least two alphanumeric "
         "characters"),
        ("type=foo,target=relative", InvalidMountError,
         "invalid mount config for type \"foo\": invalid mount path: 'relative' mount path "
         "must be absolute"),
    ],
)
def test_parse_mount_flag_daemon_bad_input_raises_docker_text(raw, error, message):
    with pytest.raises(error) as info:
        parse_mount_flag(raw, CWD)
    assert not isinstance(info.value, InvalidMountFlagError)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("target=/x", {"type": "volume", "source": "", "target": "/x", "mode": "z"}),
        ("type=volume,source=mv1,target=/data", {"source": "mv1", "mode": "z", "copy_up": True}),
        ("type=volume,source=mv1,target=/data,readonly", {"read_only": True}),
        ("type=volume,source=mv1,target=/data,ro", {"read_only": True}),
        ("type=volume,source=mv1,target=/data,ro=true", {"read_only": True}),
        ("type=volume,source=mv1,target=/data,ro=1,ro=0", {"read_only": False}),
        ("type=volume,source=mv1,target=/data,volume-nocopy", {"copy_up": False}),
        ("type=volume,source=mv1,target=/data,volume-nocopy=true", {"copy_up": False}),
        ("type=volume,source=mv1,target=/data,volume-nocopy=false", {"copy_up": True}),
        ("type=volume,source=mvtmp,target=/data,volume-driver=local,volume-opt=type=tmpfs,"
         "volume-opt=device=tmpfs,volume-opt=o=size=5m",
         {"volume_driver": "local", "mode": "z",
              "volume_options": {"type": "tmpfs", "device": "tmpfs", "o": "size=5m"}}),
        ("type=volume,source=mvlab,target=/data,volume-label=team=a,volume-label=env=",
         {"volume_labels": {"team": "a", "env": ""}}),
        ('type=volume,src=mv,dst=/d,"volume-opt=o=size=5m,uid=1000"',
         {"volume_options": {"o": "size=5m,uid=1000"}}),
        ("type=volume,src=mv,dst=/d,volume-driver=other", {"mode": "", "volume_driver": "other"}),
        ("type=volume,src=mv,dst=/d,volume-subpath=a/b", {"volume_subpath": "a/b"}),
        ("Type=Volume,SRC=mv,Dst=/d,consistency=cached", {"type": "volume", "source": "mv"}),
        ("type=bind,source=/h/mb,target=/mnt", {"type": "bind", "source": "/h/mb", "mode": "",
                                                   "create_host_path": False}),
        ("type=bind,src=/tmp,dst=/x,ro,src=/var", {"source": "/var", "read_only": True}),
        ("type=bind,src=./rel,dst=/x", {"source": "/work/w/rel"}),
        ("type=bind,src=/h/,dst=/x/", {"source": "/h", "target": "/x"}),
        ("type=bind,src=/h,dst=/x,bind-propagation=RShared", {"propagation": "rshared"}),
        ("type=bind,src=/h,dst=/x,bind-nonrecursive", {"bind_recursive": "disabled"}),
        ("type=bind,src=/h,dst=/x,bind-nonrecursive=false", {"bind_recursive": "enabled"}),
        ("type=bind,src=/h,dst=/x,bind-recursive=disabled", {"bind_recursive": "disabled"}),
        ("type=bind,src=/h,dst=/x,ro,bind-recursive=writable", {"bind_recursive": "writable"}),
        ("type=bind,src=/h,dst=/x,ro,bind-recursive=readonly,bind-propagation=rprivate",
         {"bind_recursive": "readonly", "propagation": "rprivate"}),
        ("type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770",
         {"type": "tmpfs", "tmpfs_size": 1048576, "tmpfs_mode": 0o1770, "mode": ""}),
        ("type=tmpfs,target=/t,readonly", {"read_only": True}),
    ],
)
def test_parse_mount_flag_valid_spec_gives_expected_fields(raw, expected):
    spec = parse_mount_flag(raw, CWD)
    assert spec.origin == "mount-flag"
    assert spec.raw == raw
    for name, value in expected.items():
        assert getattr(spec, name) == value, name


def test_validate_bind_source_missing_path_raises_docker_text():
    spec = parse_mount_flag("type=bind,src=/h/does-not-exist,dst=/mnt", CWD)
    with pytest.raises(InvalidMountError) as info:
        validate_bind_source(spec, lambda _path: False)
    assert str(info.value) == ('invalid mount config for type "bind": bind source path does '
                               "not exist: /h/does-not-exist")


def test_validate_bind_source_existing_path_passes():
    seen: list[str] = []

    def exists(path: str) -> bool:
        seen.append(path)
        return True

    spec = parse_mount_flag("type=bind,src=/h/d,dst=/mnt", CWD)
    validate_bind_source(spec, exists)
    assert seen == ["/h/d"]


def test_validate_bind_source_volume_flag_bind_is_not_checked():
    from orlop.mounts.parser import parse_volume_flag

    spec = parse_volume_flag("/h/missing:/x", CWD)
    validate_bind_source(spec, lambda _path: pytest.fail("must not be called"))


def test_parse_mount_flag_nul_byte_raises_clear_text():
    with pytest.raises(InvalidMountError, match="contains a NUL byte"):
        parse_mount_flag("type=bind,src=/h\x00x,dst=/x", CWD)
