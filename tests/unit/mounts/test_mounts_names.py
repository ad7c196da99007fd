"""The local driver's volume name rule, with Docker's texts."""

from __future__ import annotations

import pytest

from orlop.errors import InvalidVolumeNameError
from orlop.mounts.parser import validate_volume_name

RULE = '"[a-zA-Z0-9][a-zA-Z0-9_.-]"'


@pytest.mark.parametrize(
    "name", ["ab", "vol_named", "a.b-c_d", "0x", "A1", "x" * 255, "cr.lab", "a--"],
)
def test_validate_volume_name_valid_name_passes(name):
    validate_volume_name(name)


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("a\n", '"a\\n"'),
        ("ab\n", '"ab\\n"'),
        ("-bad", '"-bad"'),
        ("sp ace", '"sp ace"'),
        ("~/x", '"~/x"'),
        (".hidden", '".hidden"'),
        ("_under", '"_under"'),
        ("a/b", '"a/b"'),
        ("../x", '"../x"'),
        ("relative/path", '"relative/path"'),
        ("/abs/path", '"/abs/path"'),
        ("", '""'),
        ("tab\there", '"tab\\there"'),
        ('q"uote', '"q\\"uote"'),
        ("é", '"é"'),
        ("ab\x01", '"ab\\x01"'),
    ],
)
def test_validate_volume_name_invalid_chars_raises_docker_text(name, quoted):
    with pytest.raises(InvalidVolumeNameError) as info:
        validate_volume_name(name)
    assert str(info.value) == (
        f"create {name}: {quoted} includes invalid characters for a local volume name, only "
        f"{RULE} are allowed. If you intended to pass a host directory, use absolute path")


@pytest.mark.parametrize("name", ["a", "Z", "0", "_", "\n"])
def test_validate_volume_name_one_byte_raises_too_short(name):
    with pytest.raises(InvalidVolumeNameError) as info:
        validate_volume_name(name)
    assert str(info.value) == (f"create {name}: volume name is too short, names should be at "
                               "least two alphanumeric characters")


def test_validate_volume_name_300_chars_raises_too_long():
    name = "x" * 300
    with pytest.raises(InvalidVolumeNameError) as info:
        validate_volume_name(name)
    assert str(info.value) == (f"create {name}: volume name is too long (300 bytes), names "
                               "can be at most 255 bytes")


def test_validate_volume_name_256_chars_raises_too_long():
    with pytest.raises(InvalidVolumeNameError, match="too long"):
        validate_volume_name("y" * 256)
