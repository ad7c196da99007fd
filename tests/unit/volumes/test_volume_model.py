"""The inspect JSON of a volume: Docker's keys, order and null/{} distinction."""

from __future__ import annotations

import json
from pathlib import Path

from orlop.volumes.model import Volume, inspect_dict
from orlop.wire.volumes import volume_json


def _vol(**kw: object) -> Volume:
    base: dict[str, object] = {
        "name": "cr_lab", "driver": "local",
        "mountpoint": Path("/var/lib/orlop/volumes/cr_lab/_data"),
        "created_at": "2026-11-27T19:36:49Z", "labels": None, "options": None}
    base.update(kw)
    return Volume(**base)  # type: ignore[arg-type]


def test_volume_json_matches_docker_shape() -> None:
    got = volume_json(_vol(labels={"team": "db", "env": "test"}))
    assert json.dumps(got, indent=4) == """{
    "CreatedAt": "2026-11-27T19:36:49Z",
    "Driver": "local",
    "Labels": {
        "env": "test",
        "team": "db"
    },
    "Mountpoint": "/var/lib/orlop/volumes/cr_lab/_data",
    "Name": "cr_lab",
    "Options": null,
    "Scope": "local"
}"""


def test_volume_json_keeps_empty_maps_apart_from_null() -> None:
    got = volume_json(_vol(labels={}, options={}))
    assert got["Labels"] == {} and got["Options"] == {}
    assert volume_json(_vol())["Labels"] is None


def test_volume_json_usage_adds_usage_data() -> None:
    got = volume_json(_vol(), usage=(1234, 2))
    assert got["UsageData"] == {"RefCount": 2, "Size": 1234}
    assert list(got) == sorted(got)


def test_inspect_dict_is_the_shape_volume_json_gives() -> None:
    vol = _vol(labels={"b": "2", "a": "1"}, options={})
    got = inspect_dict(vol.name, vol.driver, str(vol.mountpoint), vol.created_at,
                       {"b": "2", "a": "1"}, {}, (5, 1))
    assert json.dumps(got) == json.dumps(volume_json(vol, usage=(5, 1)))
    assert list(got["Labels"]) == ["a", "b"]
