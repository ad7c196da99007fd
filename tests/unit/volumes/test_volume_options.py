"""Name and option validation, mount-option and size parsing of the local driver."""

from __future__ import annotations

from pathlib import Path

import pytest

from orlop.errors import InvalidParameterError, InvalidVolumeNameError
from orlop.kernel.flags import MountFlag
from orlop.units import ram_in_bytes
from orlop.volumes.drivers.local import LocalDriver
from orlop.volumes.drivers.mountopts import parse_driver_options
from orlop.volumes.names import check_create_name, is_valid_name

DRIVER = LocalDriver(Path("/nonexistent/volumes"))


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "_under", "-bad", "sp ace", "~x"])
def test_check_create_name_invalid_characters_docker_text(name: str) -> None:
    with pytest.raises(InvalidVolumeNameError) as e:
        check_create_name(name, "/v")
    assert str(e.value) == (
        f'create {name}: "{name}" includes invalid characters for a local volume name, only '
        '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
        "use absolute path")


def test_check_create_name_one_char_too_short() -> None:
    with pytest.raises(InvalidVolumeNameError, match="volume name is too short"):
        check_create_name("a", "/v")


def test_check_create_name_too_long_refused() -> None:
    with pytest.raises(InvalidVolumeNameError, match=r"^create x{300}: "):
        check_create_name("x" * 300, "/v")


@pytest.mark.parametrize(("name", "ok"), [("ab", True), ("a..b", True), ("..", False),
                                          ("a/b", False), ("x" * 256, False), ("", False)])
def test_is_valid_name_is_one_safe_component(name: str, ok: bool) -> None:
    assert is_valid_name(name) is ok


def test_validate_unknown_option_docker_text() -> None:
    with pytest.raises(InvalidParameterError) as e:
        DRIVER.validate({"foo": "bar"})
    assert str(e.value) == 'invalid option: "foo"'


@pytest.mark.parametrize(("opts", "missing"), [({"type": "tmpfs"}, "device"),
                                               ({"device": "tmpfs"}, "type"),
                                               ({"o": "bind", "device": "/x"}, "type")])
def test_validate_mandatory_options_docker_text(opts: dict[str, str], missing: str) -> None:
    with pytest.raises(InvalidParameterError) as e:
        DRIVER.validate(opts)
    assert str(e.value) == f'missing required option: "{missing}"'


def test_validate_accepts_docker_forms() -> None:
    DRIVER.validate(None)
    DRIVER.validate({})
    DRIVER.validate({"type": "tmpfs", "device": "tmpfs", "o": "size=5m"})
    DRIVER.validate({"type": "none", "device": "/srv", "o": "bind"})
    DRIVER.validate({"size": "10m"})
    DRIVER.validate({"size": "10m", "o": "noexec"})


@pytest.mark.parametrize("opts", [{"size": "abc"}, {"size": "10k"},
                                  {"size": "10m", "type": "ext4", "device": "/x"}])
def test_validate_bad_size_refused(opts: dict[str, str]) -> None:
    with pytest.raises(InvalidParameterError, match='"size"'):
        DRIVER.validate(opts)


def test_needs_mount_only_with_type_or_size() -> None:
    assert not DRIVER.needs_mount(None)
    assert DRIVER.needs_mount({"size": "8m"})
    assert DRIVER.needs_mount({"type": "tmpfs", "device": "tmpfs"})


@pytest.mark.parametrize(("text", "size"), [("512", 512), ("5m", 5 << 20), ("5M", 5 << 20),
                                            ("1.5GiB", 3 << 29), ("10 MB", 10 << 20),
                                            ("2k", 2048)])
def test_parse_size_docker_units(text: str, size: int) -> None:
    assert ram_in_bytes(text) == size


def test_parse_driver_options_splits_flags_data_propagation() -> None:
    mo = parse_driver_options("size=5m,ro,noexec,uid=1000,rprivate,loop")
    assert mo.flags == MountFlag.RDONLY | MountFlag.NOEXEC
    assert mo.data == "size=5m,uid=1000"
    assert mo.propagation == MountFlag.PRIVATE | MountFlag.REC
    assert mo.loop


def test_parse_driver_options_rw_clears_ro_and_bind() -> None:
    mo = parse_driver_options("ro,rw,rbind")
    assert mo.flags == MountFlag.BIND | MountFlag.REC
    assert mo.data == ""


def test_parse_driver_options_reads_the_runtimes_word_table() -> None:
    """One mount(8) table (runtime/mountopts.py): every word it knows is a flag or a
    propagation here too, never filesystem data; userspace words never reach the kernel."""
    from orlop.runtime.mountopts import FLAGS, PROPAGATION

    for word in [*FLAGS, *PROPAGATION]:
        assert parse_driver_options(word).data == "", word
    mo = parse_driver_options(" nofail , lazytime,rshared,private,size=1m,_netdev")
    assert mo.flags == MountFlag.LAZYTIME
    assert mo.propagation == MountFlag.SHARED | MountFlag.PRIVATE | MountFlag.REC
    assert mo.data == "size=1m"
    assert not mo.loop

