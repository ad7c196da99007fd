"""--tmpfs parsing, size units and Docker's tmpfs option merging."""

from __future__ import annotations

import pytest

from orlop.errors import InvalidMountError
from orlop.mounts.parser import convert_tmpfs_options, parse_tmpfs_flag
from orlop.mounts.tmpfs import (
    format_tmpfs_size,
    kernel_size_in_bytes,
    merge_tmpfs_options,
)


@pytest.mark.parametrize(
    ("text", "size"),
    [("1024", 1024), ("1k", 1024), ("1m", 1 << 20), ("3G", 3 << 30), ("1e", 1 << 60)],
)
def test_kernel_size_in_bytes_memparse_units_gives_bytes(text, size):
    assert kernel_size_in_bytes(text) == size


@pytest.mark.parametrize(
    ("size", "text"),
    [(1048576, "1m"), (1024, "1k"), (1536, "1536"), (5 << 30, "5g"), (1 << 40, "1024g"),
     (3 * 1024 + 0, "3k"), (1, "1")],
)
def test_format_tmpfs_size_even_multiple_gives_docker_suffix(size, text):
    assert format_tmpfs_size(size) == text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/t", {"target": "/t", "read_only": False, "tmpfs_size": None, "tmpfs_mode": None,
                    "tmpfs_options": ()}),
        ("/t:size=1m,mode=1777,noexec", {"tmpfs_size": 1 << 20, "tmpfs_mode": 0o1777,
                                             "tmpfs_options": ("noexec",)}),
        ("/t:", {"tmpfs_options": ()}),
        ("/t/:ro", {"target": "/t", "read_only": True}),
        ("/t:ro,rw", {"read_only": False}),
        ("/t:exec,noexec,exec", {"tmpfs_options": ("exec",)}),
        ("/t:size=50%", {"tmpfs_size": None, "tmpfs_options": ("size=50%",)}),
        ("/t:size=50%,size=1k", {"tmpfs_size": 1024, "tmpfs_options": ()}),
        ("/t:uid=1000,gid=1000,nr_inodes=400k,nosuid,dev",
         {"tmpfs_options": ("uid=1000", "gid=1000", "nr_inodes=400k", "nosuid", "dev")}),
    ],
)
def test_parse_tmpfs_flag_valid_spec_gives_expected_fields(raw, expected):
    spec = parse_tmpfs_flag(raw)
    assert (spec.type, spec.origin, spec.raw, spec.source, spec.mode) == (
        "tmpfs", "tmpfs-flag", raw, "", "")
    for name, value in expected.items():
        assert getattr(spec, name) == value, name


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("t", "invalid mount path: 't' mount path must be absolute"),
        ("", "invalid mount path: '' mount path must be absolute"),
        ("/", "invalid specification: destination can't be '/'"),
        ("/t:foo", 'invalid tmpfs option ["foo"]'),
        ("/t:foo=bar", 'invalid tmpfs option ["foo" "bar"]'),
        ("/t:size", 'invalid tmpfs option ["size"]'),
        ("/t:ro,,rw", 'invalid tmpfs option [""]'),
        ("/t:rshared", 'invalid tmpfs option ["rshared"]'),
        ("/t:bind", 'invalid tmpfs option ["bind"]'),
        ("/t:uid=", 'invalid tmpfs option ["uid" ""]'),
        ("/t:size=1mb", 'invalid tmpfs option "size=1mb": the size must be a number of bytes '
                        "with an optional k, m or g suffix, or a percentage"),
        ("/t:mode=999", 'invalid tmpfs option "mode=999": the mode must be octal permission '
                        "bits such as 1777"),
        ("/t:mode=17777", 'invalid tmpfs option "mode=17777": the mode must be octal '
                          "permission bits such as 1777"),
        ("/t\x00:ro", 'invalid tmpfs specification "/t\\x00:ro": contains a NUL byte'),
    ],
)
def test_parse_tmpfs_flag_bad_input_raises_clear_text(raw, message):
    with pytest.raises(InvalidMountError) as info:
        parse_tmpfs_flag(raw)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("args", "kwargs", "data", "options"),
    [
        ((None, None), {}, "", ["nosuid", "nodev", "noexec"]),
        ((1 << 20, 0o1770), {}, "size=1m,mode=1770",
         ["nosuid", "nodev", "noexec", "size=1m", "mode=1770"]),
        ((None, None, ["exec"]), {}, "", ["nosuid", "nodev", "exec"]),
        ((None, None), {"read_only": True}, "", ["nosuid", "nodev", "noexec", "ro"]),
        ((None, None, ["rw"]), {"read_only": True}, "", ["nosuid", "nodev", "noexec", "rw"]),
        ((1024, None, ["size=50%", "uid=0"]), {}, "size=50%,uid=0",
         ["nosuid", "nodev", "noexec", "size=50%", "uid=0"]),
        ((None, 0o1777, ["defaults", "suid"]), {}, "mode=1777",
         ["nodev", "noexec", "suid", "mode=1777"]),
    ],
)
def test_convert_tmpfs_options_inputs_give_docker_data_and_options(args, kwargs, data, options):
    assert convert_tmpfs_options(*args, **kwargs) == (data, options)


def test_merge_tmpfs_options_last_conflicting_word_wins_in_place():
    merged = merge_tmpfs_options(["noexec", "nosuid", "exec", "size=1m", "size=2m"])
    assert merged == ["nosuid", "exec", "size=2m"]


def test_merge_tmpfs_options_unknown_word_raises_docker_text():
    with pytest.raises(InvalidMountError, match=r'^invalid tmpfs option \["x" "1"\]$'):
        merge_tmpfs_options(["x=1"])


def test_tmpfs_flag_words_come_from_the_runtimes_table():
    """Docker's MergeTmpfsOptions words: the runtime's table less bind words and words
    moby/sys/mount lacks; a collision key is the flag a word sets or clears."""
    from orlop.kernel.flags import MountFlag
    from orlop.mounts.tmpfs import TMPFS_FLAG_KEYS

    assert set(TMPFS_FLAG_KEYS) == {
        "ro", "rw", "suid", "nosuid", "dev", "nodev", "exec", "noexec", "sync", "async",
        "dirsync", "mand", "nomand", "atime", "noatime", "diratime", "nodiratime",
        "relatime", "norelatime", "strictatime", "nostrictatime"}
    assert TMPFS_FLAG_KEYS["ro"] == TMPFS_FLAG_KEYS["rw"] == MountFlag.RDONLY
    assert merge_tmpfs_options(["atime", "noatime", "diratime"]) == ["noatime", "diratime"]
