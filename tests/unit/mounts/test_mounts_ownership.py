"""Podman's ``U`` and tmpfs ``uid=``/``gid=``: parsing in -v, --mount, --tmpfs and the API,
the mode inspect shows, the record form, and the fd-based chown walk (as the test's own
user: it changes nothing's owner to someone else, only to the current ids)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from orlop.errors import InvalidMountError, InvalidMountFlagError
from orlop.mounts.parser import (
    parse_mount_flag,
    parse_tmpfs_flag,
    parse_volume_flag,
    parse_volumes_from,
)
from orlop.mounts.plan import inherit_mount_points
from orlop.mounts.spec import MountPoint, MountSpec
from orlop.mounts.tmpfs import merge_tmpfs_options, parse_id
from orlop.volumes.fsutil import chown_tree
from orlop.wire.mounts import from_api_mount, to_api_mount

# --- -v ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "mode", "kind"), [
    ("data:/d:U", "U", "volume"), ("data:/d:ro,U", "ro,U", "volume"),
    ("/srv/x:/d:U,z", "U,z", "bind"),
])
def test_volume_flag_u_sets_chown_and_keeps_the_mode_text(raw, mode, kind):
    spec = parse_volume_flag(raw, "/")
    assert (spec.chown, spec.mode, spec.type) == (True, mode, kind)
    assert MountPoint.from_spec(spec, source="/v", name="data").mode == mode


def test_volume_flag_without_u_does_not_chown():
    assert parse_volume_flag("data:/d", "/").chown is False


@pytest.mark.parametrize(("raw", "message"), [
    ("data:/d:U,U", "invalid mode: U,U"),
    ("data:/d:u", "invalid mode: u"),
    ("data@snap:/d:U", "a snapshot cannot be chowned"),
])
def test_volume_flag_bad_u_is_refused(raw, message):
    with pytest.raises(InvalidMountError, match=message):
        parse_volume_flag(raw, "/")


def test_volumes_from_refuses_u():
    with pytest.raises(InvalidMountError, match="invalid mode: ro,U"):
        parse_volumes_from("c:ro,U")


def test_volumes_from_does_not_inherit_u():
    mp = MountPoint(type="volume", destination="/d", name="v", mode="U", chown=True)
    (inherited,) = inherit_mount_points("c1", "", [mp])
    assert (inherited.chown, inherited.mode) == (False, "")


# --- --mount -----------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "chown", "mode"), [
    ("type=volume,src=vv,dst=/d,U", True, "z,U"),
    ("type=volume,src=vv,dst=/d,u=true", True, "z,U"),
    ("type=volume,src=vv,dst=/d,chown=1", True, "z,U"),
    ("type=volume,src=vv,dst=/d,chown=false", False, "z"),
    ("type=bind,src=/srv,dst=/d,U", True, "U"),
    ("type=tmpfs,dst=/t,U", True, "U"),
])
def test_mount_flag_u_and_chown_keys(raw, chown, mode):
    spec = parse_mount_flag(raw, "/")
    assert (spec.chown, spec.mode) == (chown, mode)


def test_mount_flag_u_on_a_plugin_volume_shows_only_u():
    spec = parse_mount_flag("type=volume,src=vv,dst=/d,volume-driver=rclone,U", "/")
    assert MountPoint.from_spec(spec, source="/p", driver="rclone").mode == "U"


def test_mount_flag_tmpfs_uid_gid_become_tmpfs_options():
    spec = parse_mount_flag("type=tmpfs,dst=/t,uid=1000,gid=01001,uid=7", "/")
    assert spec.tmpfs_options == ("uid=7", "gid=1001")  # last wins; the number as a number


@pytest.mark.parametrize(("raw", "message"), [
    ("type=tmpfs,dst=/t,uid=abc", "invalid value for uid: abc"),
    ("type=tmpfs,dst=/t,uid=", "invalid value for uid: "),
    ("type=tmpfs,dst=/t,gid=-1", "invalid value for gid: -1"),
    ("type=tmpfs,dst=/t,gid=+1", "invalid value for gid: +1"),
    ("type=tmpfs,dst=/t,uid=4294967295", "invalid value for uid: 4294967295"),
    ("type=tmpfs,dst=/t,uid=\u0661", "invalid value for uid: \u0661"),  # a non-ASCII digit
    ("type=bind,src=/srv,dst=/t,uid=1", "cannot mix 'tmpfs-*' options with mount type"),
    ("type=volume,dst=/d,U,chown=true", "cannot pass 'U' or 'chown' option more than once"),
    ("type=volume,dst=/d,U=perhaps", "invalid value for u: perhaps"),
])
def test_mount_flag_bad_ownership_values_get_cli_errors(raw, message):
    with pytest.raises(InvalidMountFlagError, match=re.escape(message)):
        parse_mount_flag(raw, "/")


def test_mount_flag_tmpfs_u_with_uid_is_refused():
    with pytest.raises(InvalidMountError, match="U option cannot be combined with uid="):
        parse_mount_flag("type=tmpfs,dst=/t,U,gid=3", "/")


def test_mount_flag_snapshot_with_u_is_refused():
    with pytest.raises(InvalidMountError, match="a snapshot cannot be chowned"):
        parse_mount_flag("type=volume,src=vv,dst=/d,volume-snapshot=s1,U", "/")


# --- --tmpfs -----------------------------------------------------------------------------


def test_tmpfs_flag_uid_gid_numbers_and_u():
    assert parse_tmpfs_flag("/t:uid=0,gid=4294967294").tmpfs_options == (
        "uid=0", "gid=4294967294")
    spec = parse_tmpfs_flag("/t:U,exec")
    assert (spec.chown, spec.mode, spec.tmpfs_options) == (True, "U", ("exec",))


@pytest.mark.parametrize(("raw", "message"), [
    ("/t:uid=x", 'invalid tmpfs option "uid=x": the uid must be a number'),
    ("/t:gid=0x10", 'invalid tmpfs option "gid=0x10": the gid must be a number'),
    ("/t:uid=4294967295", 'invalid tmpfs option "uid=4294967295"'),
    ("/t:U,U", "the 'U' option can only be set once"),
    ("/t:uid=1,U", "the U option cannot be combined with uid= or gid="),
])
def test_tmpfs_flag_bad_values_refused(raw, message):
    with pytest.raises(InvalidMountError, match=message):
        parse_tmpfs_flag(raw)


@pytest.mark.parametrize(("text", "value"), [
    ("0", 0), ("1000", 1000), ("4294967294", 4294967294), ("4294967295", None), ("-1", None),
    ("", None), (" 1", None), ("1e3", None), ("0x10", None), ("root", None),
])
def test_parse_id(text, value):
    assert parse_id(text) == value


def test_merge_tmpfs_options_checks_an_overridden_uid_too():
    with pytest.raises(InvalidMountError, match='"uid=bad"'):
        merge_tmpfs_options(["uid=bad", "uid=1"])


# --- the API and the record --------------------------------------------------------------


def test_api_mount_chown_round_trip():
    spec = parse_mount_flag("type=bind,src=/srv,dst=/d,U", "/")
    body = to_api_mount(spec)
    assert body["Chown"] is True
    back = from_api_mount(body)
    assert (back.chown, back.mode) == (True, "U")
    assert "Chown" not in to_api_mount(parse_mount_flag("type=bind,src=/srv,dst=/d", "/"))


def test_api_tmpfs_uid_gid_options_round_trip_and_validation():
    spec = parse_mount_flag("type=tmpfs,dst=/t,uid=5,gid=6", "/")
    body = to_api_mount(spec)
    assert body["TmpfsOptions"]["Options"] == [["uid", "5"], ["gid", "6"]]
    assert from_api_mount(body).tmpfs_options == ("uid=5", "gid=6")
    with pytest.raises(InvalidMountError,
                       match='invalid mount config for type "tmpfs": invalid tmpfs option '
                             '"uid=me": the uid must be a number'):
        from_api_mount({"Type": "tmpfs", "Target": "/t",
                        "TmpfsOptions": {"Options": [["uid", "me"]]}})
    with pytest.raises(InvalidMountError, match="field Chown must be a boolean"):
        from_api_mount({"Type": "tmpfs", "Target": "/t", "Chown": "yes"})


def test_records_keep_chown_and_old_records_read_without_it():
    spec = parse_volume_flag("data:/d:U", "/")
    assert MountSpec.from_json(spec.to_json()) == spec
    mp = MountPoint.from_spec(spec, source="/v", name="data")
    assert MountPoint.from_json(mp.to_json()).chown is True
    old = {k: v for k, v in mp.to_json().items() if k != "chown"}
    assert MountPoint.from_json(old).chown is False
    with pytest.raises(InvalidMountError):
        MountPoint.from_json({**mp.to_json(), "chown": "yes"})


# --- the walk ----------------------------------------------------------------------------


def test_chown_tree_changes_links_not_their_targets_and_stays_inside(tmp_path: Path):
    """As an unprivileged test can: chown to our own ids is a no-op unless the owner
    differs, so the walk is checked by what it touches (a root-owned target outside
    would raise EPERM if it were followed when not root; as root it is checked by the
    integration test).  Here: it returns how many entries it changed, and a symlink to
    a directory outside is never entered."""
    inside = tmp_path / "vol"
    outside = tmp_path / "outside"
    (inside / "a" / "b").mkdir(parents=True)
    outside.mkdir()
    (outside / "f").write_text("x")
    (inside / "a" / "b" / "f").write_text("y")
    os.symlink(str(outside), inside / "a" / "out")
    uid, gid = os.getuid(), os.getgid()
    fd = os.open(inside, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert chown_tree(fd, uid, gid) == 0  # everything is ours already: nothing changed
        if uid == 0:
            assert chown_tree(fd, 4321, 4321) == 5  # vol, a, b, f and the link itself
            assert (outside / "f").stat().st_uid == 0 and outside.stat().st_uid == 0
            assert os.lstat(inside / "a" / "out").st_uid == 4321
            assert (inside / "a" / "b" / "f").stat().st_uid == 4321
            (inside / "root").mkdir()
            (inside / "root" / "db").write_text("z")
            st = (inside / "root").stat()
            assert chown_tree(fd, 99, 99, frozenset({(st.st_dev, st.st_ino)})) == 5
            assert (inside / "root").stat().st_uid == 0
            assert (inside / "root" / "db").stat().st_uid == 0
    finally:
        os.close(fd)


def test_dangerous_directories_are_known_by_identity_and_by_name(tmp_path: Path):
    from orlop.engine.containers.ownership import is_dangerous_directory, refusal

    assert is_dangerous_directory(os.stat("/etc")) and is_dangerous_directory(os.stat("/"))
    assert not is_dangerous_directory(os.stat(tmp_path))
    assert refusal("/usr", "/var/lib/orlop") == "it is a system or home directory"
    assert refusal("/srv/data", "/srv/data/orlop") == "it holds the engine's root"
    assert refusal("/srv/data", "/var/lib/orlop") is None
