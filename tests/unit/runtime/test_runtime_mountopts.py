"""The mount option table: words -> flags, propagation, data."""

from __future__ import annotations

from orlop.kernel.flags import MOUNT_ATTR__ATIME, MountAttr, MountFlag
from orlop.runtime.mountopts import parse_mount_options


def test_parse_mount_options_flags_set_and_clear() -> None:
    o = parse_mount_options(["ro", "nosuid", "nodev", "noexec"])
    assert o.flags == MountFlag.RDONLY | MountFlag.NOSUID | MountFlag.NODEV | MountFlag.NOEXEC
    assert o.clear == MountFlag(0)
    o = parse_mount_options(["rw", "suid", "dev", "exec"])
    assert o.flags == MountFlag(0)
    assert o.clear == MountFlag.RDONLY | MountFlag.NOSUID | MountFlag.NODEV | MountFlag.NOEXEC


def test_parse_mount_options_last_word_wins() -> None:
    assert parse_mount_options(["ro", "rw"]).flags == MountFlag(0)
    assert parse_mount_options(["rw", "ro"]).flags == MountFlag.RDONLY
    assert parse_mount_options(["rw", "ro"]).clear == MountFlag(0)


def test_parse_mount_options_bind_and_rbind() -> None:
    assert parse_mount_options(["bind"]).flags == MountFlag.BIND
    o = parse_mount_options(["rbind", "ro"])
    assert o.is_bind and o.flags & MountFlag.REC
    assert o.mount_flags() == MountFlag.RDONLY


def test_parse_mount_options_propagation_in_order() -> None:
    o = parse_mount_options(["private", "rshared", "rslave", "unbindable", "runbindable",
                             "rprivate", "shared", "slave"])
    assert o.propagation == (
        MountFlag.PRIVATE, MountFlag.SHARED | MountFlag.REC, MountFlag.SLAVE | MountFlag.REC,
        MountFlag.UNBINDABLE, MountFlag.UNBINDABLE | MountFlag.REC,
        MountFlag.PRIVATE | MountFlag.REC, MountFlag.SHARED, MountFlag.SLAVE)
    assert o.flags == MountFlag(0)


def test_parse_mount_options_atime_words() -> None:
    assert parse_mount_options(["relatime"]).flags == MountFlag.RELATIME
    assert parse_mount_options(["norelatime"]).clear == MountFlag.RELATIME
    assert parse_mount_options(["strictatime"]).flags == MountFlag.STRICTATIME
    o = parse_mount_options(["noatime"])
    assert o.flags == MountFlag.NOATIME
    attr_set, attr_clr = o.setattr_masks()
    assert attr_set == MountAttr.NOATIME and attr_clr == MOUNT_ATTR__ATIME


def test_parse_mount_options_rro_is_recursive_readonly() -> None:
    o = parse_mount_options(["rbind", "rro"])
    assert o.recursive_ro and o.flags & MountFlag.RDONLY
    assert o.setattr_masks() == (MountAttr.RDONLY, 0)


def test_parse_mount_options_tmpcopyup_ignored_and_rest_is_data() -> None:
    o = parse_mount_options(["tmpcopyup", "size=1m", "mode=1777", "nosuid"])
    assert o.data == ("size=1m", "mode=1777")
    assert o.data_string == "size=1m,mode=1777"
    assert o.flags == MountFlag.NOSUID
    assert parse_mount_options([]).data_string is None


def test_setattr_masks_sets_only_asked_and_clears_only_cleared() -> None:
    attr_set, attr_clr = parse_mount_options(["bind", "ro", "nosuid", "dev"]).setattr_masks()
    assert attr_set == MountAttr.RDONLY | MountAttr.NOSUID
    assert attr_clr == MountAttr.NODEV
