"""``list_inspect`` (rows straight to the wire shape) and ``VolumeListCache`` (the kept
``GET /volumes`` answers): the same objects as ``wire.volumes.volume_json``, and never an
answer older than a fresh read, whoever wrote to the database."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from orlop.config import EngineConfig
from orlop.errors import InvalidParameterError
from orlop.server.volumelist import VolumeListCache
from orlop.state import Database
from orlop.volumes.service import VolumeService
from orlop.wire.volumes import volume_json

if TYPE_CHECKING:
    from tests.unit.volumes.conftest import Containers

FILTERS: list[dict[str, list[str]] | None] = [
    None, {}, {"dangling": ["true"]}, {"dangling": ["false"]}, {"name": ["lc_"]},
    {"name": ["^lc_b"]}, {"driver": ["local"]}, {"driver": ["nosuch"]},
    {"label": ["team"]}, {"label": ["team=db"]}, {"label!": ["team"]},
    {"label": ["team"], "dangling": ["true"]},
]


@pytest.fixture
def populated(svc: VolumeService, containers: Containers) -> VolumeService:
    svc.create("lc_a")
    svc.create("lc_b", labels={"team": "db", "env": "x"})
    svc.create("lc_c", labels={}, options={})
    svc.create("lc_d", labels={"team": "web"}, options={"type": "tmpfs", "device": "tmpfs"})
    svc.create()  # anonymous: the anonymous label
    containers.add("lc_b")
    return svc


class Counting:
    """A render that counts its calls and keeps the objects as they are."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, vols: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.calls += 1
        return vols


class Cache:
    """The cache with one render, as the server uses it."""

    def __init__(self, config: EngineConfig, max_entries: int = 8) -> None:
        self.inner = VolumeListCache(config, max_entries)
        self.render = Counting()

    def get(self, filters: dict[str, list[str]] | None) -> list[dict[str, Any]]:
        return self.inner.get(filters, self.render)


@pytest.fixture
def cache(config: EngineConfig, db: Database) -> Iterator[Cache]:
    c = Cache(config)
    yield c
    c.inner.close()


def names(vols: list[dict[str, Any]]) -> list[str]:
    return [v["Name"] for v in vols]


@pytest.mark.parametrize("filters", FILTERS)
def test_list_inspect_equals_to_inspect_of_list(
        populated: VolumeService, filters: dict[str, list[str]] | None) -> None:
    want = [volume_json(v) for v in populated.list(filters)]
    got = populated.list_inspect(filters)
    assert got == want
    # the same bytes on the wire: key order and null-vs-{} included
    assert json.dumps(got) == json.dumps(want)


def test_list_inspect_keeps_null_apart_from_empty_and_shares_no_dicts(
        populated: VolumeService) -> None:
    by = {v["Name"]: v for v in populated.list_inspect()}
    assert by["lc_a"]["Labels"] is None and by["lc_a"]["Options"] is None
    assert by["lc_c"]["Labels"] == {} and by["lc_c"]["Options"] == {}
    assert list(by["lc_b"]["Labels"]) == ["env", "team"]
    assert by["lc_a"]["Mountpoint"] == str(populated.volumes_dir / "lc_a" / "_data")
    anon = [v for v in by.values() if v["Labels"] == {"com.docker.volume.anonymous": ""}]
    assert len(anon) == 1
    svc2 = populated
    svc2.create("lc_e", labels={"team": "db", "env": "x"})  # the same labels text as lc_b
    vols = {v["Name"]: v for v in svc2.list_inspect()}
    vols["lc_b"]["Labels"]["team"] = "changed"
    assert vols["lc_e"]["Labels"]["team"] == "db"


def test_list_inspect_bad_filter_docker_text(svc: VolumeService) -> None:
    with pytest.raises(InvalidParameterError, match="Invalid filter 'nosuch'"):
        svc.list_inspect({"nosuch": ["x"]})


def test_cache_kept_answer_reused_until_a_commit(
        populated: VolumeService, cache: Cache) -> None:
    first = cache.get(None)
    assert cache.get(None) is first and cache.render.calls == 1
    populated.create("lc_new")  # another connection (the fixture's), as another request
    second = cache.get(None)
    assert "lc_new" in names(second) and second is not first
    assert cache.get(None) is second and cache.render.calls == 2


def test_cache_sees_commit_of_another_process(
        config: EngineConfig, populated: VolumeService, cache: Cache) -> None:
    assert "lc_proc" not in names(cache.get(None))
    code = ("import sys\nfrom pathlib import Path\nfrom orlop.config import EngineConfig\n"
            "from orlop.state import Database\nfrom orlop.volumes.service import VolumeService\n"
            "c = EngineConfig(root=Path(sys.argv[1]), run_root=Path(sys.argv[2]))\n"
            "db = Database(c.db_path)\nVolumeService(c, db).create(sys.argv[3])\n"
            "VolumeService(c, db).remove('lc_a')\ndb.close()\n")
    subprocess.run([sys.executable, "-c", code, str(config.root), str(config.run_root),
                    "lc_proc"], check=True)
    got = names(cache.get(None))
    assert "lc_proc" in got and "lc_a" not in got


def test_cache_filters_are_part_of_the_key(
        populated: VolumeService, cache: Cache) -> None:
    for flt in FILTERS:
        assert cache.get(flt) == populated.list_inspect(flt), flt
    # the same filters with their keys in another order are the same answer
    a = cache.get({"label": ["team"], "dangling": ["true"]})
    assert cache.get({"dangling": ["true"], "label": ["team"]}) is a


def test_cache_dangling_follows_mount_points(
        populated: VolumeService, containers: Containers, cache: Cache) -> None:
    assert "lc_a" in names(cache.get({"dangling": ["true"]}))
    cid = containers.add("lc_a")  # only mount_points changes, not volumes
    assert "lc_a" not in names(cache.get({"dangling": ["true"]}))
    assert "lc_a" in names(cache.get({"dangling": ["false"]}))
    containers.remove(cid)
    assert "lc_a" in names(cache.get({"dangling": ["true"]}))


def test_cache_bad_filter_raises_each_time_and_keeps_working(
        populated: VolumeService, cache: Cache) -> None:
    good = cache.get(None)
    for _ in range(2):
        with pytest.raises(InvalidParameterError, match="Invalid filter 'nosuch'"):
            cache.get({"nosuch": ["x"]})
        with pytest.raises(InvalidParameterError, match="dangling"):
            cache.get({"dangling": ["maybe"]})
    assert cache.get(None) is good


def test_cache_bounded_least_recently_used_dropped(
        config: EngineConfig, populated: VolumeService) -> None:
    c = Cache(config, max_entries=2)
    try:
        c.get({"name": ["a"]})
        c.get({"name": ["b"]})
        c.get({"name": ["a"]})  # a is now the most recent
        c.get({"name": ["c"]})  # drops b
        assert c.render.calls == 3
        c.get({"name": ["a"]})
        assert c.render.calls == 3
        c.get({"name": ["b"]})
        assert c.render.calls == 4
    finally:
        c.inner.close()


def test_cache_render_is_part_of_the_key(config: EngineConfig, populated: VolumeService
                                         ) -> None:
    c = VolumeListCache(config)
    try:
        assert c.get(None, len) == 5
        assert c.get(None, names) == sorted(names(populated.list_inspect()))
        assert c.get(None, len) == 5
    finally:
        c.close()


def test_cache_database_file_replaced_is_reopened(
        config: EngineConfig, populated: VolumeService, cache: Cache, tmp_path: Path) -> None:
    assert "lc_a" in names(cache.get(None))
    populated.db.close()
    config.db_path.rename(tmp_path / "old.db")
    fresh = Database(config.db_path)
    try:
        VolumeService(config, fresh).create("lc_only_new")
        assert names(cache.get(None)) == ["lc_only_new"]
    finally:
        fresh.close()


def test_cache_concurrent_readers_and_writer_see_every_commit(
        populated: VolumeService, cache: Cache) -> None:
    """Readers in threads while a writer creates volumes: after each create returns,
    any read started later includes it."""
    stop = threading.Event()
    errors: list[str] = []
    created: list[str] = []
    lock = threading.Lock()

    def reader() -> None:
        while not stop.is_set():
            with lock:
                must = list(created)
            got = set(names(cache.get(None)))
            missing = [n for n in must if n not in got]
            if missing:
                errors.append(f"missing {missing}")

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for i in range(20):
            populated.create(f"lc_w{i:02d}")
            with lock:
                created.append(f"lc_w{i:02d}")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert set(created) <= set(names(cache.get(None)))


def test_cache_on_a_root_not_made_yet_lists_nothing(tmp_path: Path) -> None:
    config = EngineConfig(root=tmp_path / "new" / "root", run_root=tmp_path / "run")
    c = VolumeListCache(config)
    try:
        assert c.get(None, len) == 0
        assert config.db_path.exists()
        db = Database(config.db_path)
        VolumeService(config, db).create("later")
        db.close()
        assert c.get(None, len) == 1
    finally:
        c.close()
