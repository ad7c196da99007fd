"""Snapshot mounts (Orlop's): ``-v NAME@SNAP:/dst`` and ``--mount ...,volume-snapshot=``
parse to a read-only, never copied-up volume spec naming the snapshot."""

from __future__ import annotations

import pytest

from orlop.errors import InvalidMountError
from orlop.mounts.parser import parse_mount_flag, parse_volume_flag
from orlop.mounts.spec import MountSpec
from orlop.wire.mounts import from_api_mount, to_api_mount


def test_volume_flag_snapshot_is_read_only_without_copy_up() -> None:
    for raw in ("data@s1:/old", "data@s1:/old:ro"):
        spec = parse_volume_flag(raw, "/w")
        assert (spec.type, spec.source, spec.volume_snapshot) == ("volume", "data", "s1")
        assert spec.read_only and not spec.copy_up and spec.raw == raw


def test_volume_flag_snapshot_refuses_rw_and_bad_names() -> None:
    with pytest.raises(InvalidMountError, match="always read-only"):
        parse_volume_flag("data@s1:/old:rw", "/w")
    with pytest.raises(InvalidMountError, match='invalid snapshot name "-x"'):
        parse_volume_flag("data@-x:/old", "/w")
    # A bind source keeps its "@" (a host path may contain one).
    assert parse_volume_flag("/srv/a@b:/x", "/w").type == "bind"


def test_mount_flag_snapshot_and_api_round_trip() -> None:
    spec = parse_mount_flag("type=volume,src=data,dst=/old,volume-snapshot=s1", "/w")
    assert spec.volume_snapshot == "s1" and spec.read_only and not spec.copy_up
    with pytest.raises(InvalidMountError, match="cannot be used together"):
        parse_mount_flag("type=volume,src=data,dst=/o,volume-snapshot=s1,volume-subpath=x",
                         "/w")
    api = to_api_mount(spec)
    assert api["VolumeOptions"]["Snapshot"] == "s1"
    back: MountSpec = from_api_mount(api)
    assert back.volume_snapshot == "s1" and back.read_only
