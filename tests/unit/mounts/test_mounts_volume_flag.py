"""-v / --volume parsing: every row of docker-behaviour.md section 4 that concerns -v."""

from __future__ import annotations

import pytest
from mounttexts import CWD, INVALID_CHARS

from orlop.errors import InvalidMountError, InvalidMountFlagError, InvalidVolumeNameError
from orlop.mounts.parser import parse_volume_flag


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        ("relative/path:/x", InvalidVolumeNameError, INVALID_CHARS.format(n="relative/path")),
        (":/x", InvalidMountFlagError, "invalid spec: :/x: empty section between colons"),
        ("a:b:c:d", InvalidMountError, "invalid volume specification: 'a:b:c:d'"),
        ("vol:relative", InvalidMountError,
         "invalid volume specification: 'vol:relative': invalid mount config for type "
         "\"volume\": invalid mount path: 'relative' mount path must be absolute"),
        ("/abs:relative", InvalidMountError,
         "invalid volume specification: '/abs:relative': invalid mount config for type "
         "\"bind\": invalid mount path: 'relative' mount path must be absolute"),
        ("vol:/x:zz", InvalidMountError, "invalid mode: zz"),
        ("vol:/x:ro,rw", InvalidMountError, "invalid mode: ro,rw"),
        ("/tmp:/", InvalidMountError,
         "invalid volume specification: '/tmp:/': invalid mount config for type \"bind\": "
         "invalid specification: destination can't be '/'"),
        ("vol:", InvalidMountFlagError, "invalid spec: vol:: empty section between colons"),
        ("", InvalidMountFlagError, "invalid empty volume spec"),
        ("-bad:/x", InvalidVolumeNameError, INVALID_CHARS.format(n="-bad")),
        ("sp ace:/x", InvalidVolumeNameError, INVALID_CHARS.format(n="sp ace")),
        ("~/x:/x", InvalidVolumeNameError, INVALID_CHARS.format(n="~/x")),
    ],
)
def test_parse_volume_flag_docker_bad_input_raises_docker_text(raw, error, message):
    with pytest.raises(error) as info:
        parse_volume_flag(raw, CWD)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # Docker accepts these as anonymous volumes at nonsense destinations; Orlop refuses.
        ("relative", "invalid volume specification: 'relative': invalid mount config for type "
                     "\"volume\": invalid mount path: 'relative' mount path must be absolute"),
        ("a:/x", "create a: volume name is too short, names should be at least two "
                 "alphanumeric characters"),
        # more cases of the same rules
        ("/x:ro", "invalid volume specification: '/x:ro'"),
        ("vol:/x:ro:y", "invalid volume specification: 'vol:/x:ro:y'"),
        ("/a::/b", "invalid spec: /a::/b: empty section between colons"),
        ("vol:/x:", "invalid spec: vol:/x:: empty section between colons"),
        ("vol:/x:rshared", "invalid volume specification: 'vol:/x:rshared': invalid mount "
                           "config for type \"volume\": field BindOptions must not be specified"),
        ("/h:/x:nocopy", "invalid volume specification: '/h:/x:nocopy': invalid mount config "
                         "for type \"bind\": field VolumeOptions must not be specified"),
        ("vol:/x:z,Z", "invalid mode: z,Z"),
        ("vol:/x:shared,slave", "invalid mode: shared,slave"),
        ("vol:/x:nocopy,nocopy", "invalid mode: nocopy,nocopy"),
        ("vol:/x:RO", "invalid mode: RO"),
        ("vol:/", "invalid volume specification: 'vol:/': invalid mount config for type "
                  "\"volume\": invalid specification: destination can't be '/'"),
        ("/h:/x/..", "invalid volume specification: '/h:/x/..': invalid mount config for type "
                     "\"bind\": invalid specification: destination can't be '/'"),
        ("vol\x00:/x", 'invalid volume specification "vol\\x00:/x": contains a NUL byte'),
    ],
)
def test_parse_volume_flag_refused_input_raises_clear_text(raw, message):
    with pytest.raises((InvalidMountError, InvalidVolumeNameError)) as info:
        parse_volume_flag(raw, CWD)
    assert str(info.value) == message


def test_parse_volume_flag_cli_error_carries_flag_and_value():
    with pytest.raises(InvalidMountFlagError) as info:
        parse_volume_flag(":/x", CWD)
    assert (info.value.flag, info.value.value) == ("--volume", ":/x")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("vol_named:/data", {"type": "volume", "source": "vol_named", "target": "/data",
                             "mode": "z", "read_only": False, "copy_up": True,
                             "create_host_path": False}),
        ("vol_named:/data:ro", {"type": "volume", "source": "vol_named", "mode": "ro",
                                    "read_only": True}),
        ("cu_new:/data:nocopy", {"type": "volume", "mode": "nocopy", "copy_up": False}),
        ("v1:/x:rw,z", {"mode": "rw,z", "read_only": False}),
        ("v1:/x:ro,Z,nocopy", {"mode": "ro,Z,nocopy", "read_only": True, "copy_up": False}),
        ("v1:/x:cached", {"mode": "cached"}),
        ("/data", {"type": "volume", "source": "", "target": "/data", "mode": "", "copy_up": True}),
        ("/data/", {"type": "volume", "source": "", "target": "/data"}),
        ("/host/dir:/data", {"type": "bind", "source": "/host/dir", "target": "/data", "mode": "",
                                 "create_host_path": True, "propagation": ""}),
        ("/host/dir:/data:ro", {"type": "bind", "mode": "ro", "read_only": True}),
        ("/host/dir:/data:z", {"type": "bind", "mode": "z", "read_only": False}),
        ("/host/dir:/data:rw,rslave", {"type": "bind", "mode": "rw,rslave",
                                           "propagation": "rslave"}),
        ("/host//dir/:/data//sub/", {"source": "/host/dir", "target": "/data/sub"}),
        ("./rel:/x", {"type": "bind", "source": "/work/w/rel", "create_host_path": True}),
        ("../x:/x", {"type": "bind", "source": "/work/x"}),
        (".:/x", {"type": "bind", "source": "/work/w"}),
        (".hidden:/x", {"type": "bind", "source": "/work/w/.hidden"}),
        ("ab:/x", {"type": "volume", "source": "ab"}),
    ],
)
def test_parse_volume_flag_valid_spec_gives_expected_fields(raw, expected):
    spec = parse_volume_flag(raw, CWD)
    assert spec.origin == "volume-flag"
    assert spec.raw == raw
    for name, value in expected.items():
        assert getattr(spec, name) == value, name


def test_parse_volume_flag_relative_cwd_raises_value_error():
    with pytest.raises(ValueError, match="cwd must be an absolute path"):
        parse_volume_flag("./x:/x", "relative")
