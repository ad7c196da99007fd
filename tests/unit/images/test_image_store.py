"""ImageStore on a temporary root: dedup, lookup, rmi semantics, crash leftovers."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from orlop.config import EngineConfig
from orlop.errors import ConflictError, ImageNotFoundError, InvalidArchiveError
from orlop.images.store import ImageStore
from orlop.state import Database
from orlop.wire.images import image_json


def layer(*files: tuple[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.size, ti.uid, ti.gid, ti.mode = len(data), os.getuid(), os.getgid(), 0o644
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ImageStore]:
    config = EngineConfig.from_env(root=str(tmp_path / "orlop-root"))
    os.makedirs(config.root)
    db = Database(config.db_path)
    yield ImageStore(config, db)
    db.close()


def add_container(store: ImageStore, cid: str, image_id: str, status: str = "exited") -> None:
    with store.db.write() as conn:
        conn.execute(
            "INSERT INTO containers (id, name, image_id, image_ref, created, config, "
            "host_config, status, runtime) VALUES (?, ?, ?, ?, '2024', '{}', '{}', ?, 'orlop')",
            (cid, cid[:8], image_id, "x", status))


def test_store_import_same_layer_twice_stored_once(store: ImageStore) -> None:
    data = layer(("a", b"1"))
    one = store.import_tar(io.BytesIO(data), "one")
    two = store.import_tar(io.BytesIO(gzip.compress(data)), "two:v2")
    assert one.diff_ids == two.diff_ids
    assert one.id != two.id  # different created times
    assert sorted(os.listdir(store.config.layers_dir)) == [".lock", one.diff_ids[0][7:]]
    assert os.listdir(store.config.tmp_dir) == []
    assert store.layer_dirs(two) == [store.config.layers_dir / one.diff_ids[0][7:]]
    assert (store.layer_dirs(two)[0] / "a").read_bytes() == b"1"


def test_store_image_id_is_digest_of_stored_config(store: ImageStore) -> None:
    import hashlib

    img = store.import_tar(io.BytesIO(layer(("a", b"1"))), None, ["ENV A=1"], "msg")
    with store.db.read() as conn:
        blob = conn.execute("SELECT config FROM images").fetchone()[0]
    assert img.id == "sha256:" + hashlib.sha256(blob.encode()).hexdigest()
    cfg = json.loads(blob)
    assert cfg["rootfs"] == {"type": "layers", "diff_ids": list(img.diff_ids)}
    assert cfg["config"]["Env"] == ["A=1"] and cfg["comment"] == "msg"
    assert img.repo_tags == ()


def test_store_get_by_name_id_and_prefix(store: ImageStore) -> None:
    img = store.import_tar(io.BytesIO(layer(("a", b"1"))), "busybox")
    hexid = img.id[7:]
    for ref in ("busybox", "busybox:latest", "docker.io/library/busybox", img.id, hexid,
                hexid[:12], "sha256:" + hexid[:5]):
        assert store.get(ref).id == img.id, ref
    for ref in ("busybox:other", "nothere", "sha256:zz", "", "f" * 65):
        with pytest.raises(ImageNotFoundError):
            store.get(ref)


def test_store_tag_and_remove_by_tag_then_id(store: ImageStore) -> None:
    img = store.import_tar(io.BytesIO(layer(("a", b"1"))), "busybox")
    store.tag("busybox", "registry:5000/bb:v1")
    assert store.get(img.id).repo_tags == ("busybox:latest", "registry:5000/bb:v1")
    with pytest.raises(ConflictError, match="referenced in multiple repositories"):
        store.remove(img.short_id)
    assert store.remove("busybox") == ["Untagged: busybox:latest"]
    assert store.remove("registry:5000/bb:v1") == [
        "Untagged: registry:5000/bb:v1", f"Deleted: {img.id}"]
    assert store.list() == []
    assert sorted(os.listdir(store.config.layers_dir)) == [".lock"]
    with store.db.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM layers").fetchone()[0] == 0


def test_store_remove_forced_by_id_untags_all(store: ImageStore) -> None:
    img = store.import_tar(io.BytesIO(layer(("a", b"1"))), "a")
    store.tag("a", "b:1")
    assert store.remove(img.short_id, force=True) == [
        "Untagged: a:latest", "Untagged: b:1", f"Deleted: {img.id}"]


def test_store_remove_shared_layer_kept_while_used(store: ImageStore) -> None:
    data = layer(("a", b"1"))
    one = store.import_tar(io.BytesIO(data), "one")
    store.import_tar(io.BytesIO(data), "two")
    store.remove("one")
    assert store.layer_dirs(one)[0].is_dir()
    store.remove("two")
    assert not store.layer_dirs(one)[0].exists()


def test_store_remove_image_used_by_container_conflicts(store: ImageStore) -> None:
    img = store.import_tar(io.BytesIO(layer(("a", b"1"))), "busybox")
    cid = "c" * 64
    add_container(store, cid, img.id)
    with pytest.raises(ConflictError) as err:
        store.remove("busybox")
    assert str(err.value) == (
        'conflict: unable to remove repository reference "busybox" (must force) - '
        f"container {cid[:12]} is using its referenced image {img.short_id}")
    with pytest.raises(ConflictError) as err:
        store.remove(img.short_id)
    assert str(err.value) == (
        f"conflict: unable to delete {img.short_id} (must be forced) - image is being used "
        f"by stopped container {cid[:12]}")
    # forced: untagged but kept, since the container's rootfs is made of its layers
    assert store.remove(img.short_id, force=True) == ["Untagged: busybox:latest"]
    assert store.get(img.id).repo_tags == ()
    assert store.layer_dirs(img)[0].is_dir()


def test_store_remove_running_container_cannot_be_forced(store: ImageStore) -> None:
    img = store.import_tar(io.BytesIO(layer(("a", b"1"))), None)
    add_container(store, "d" * 64, img.id, status="running")
    with pytest.raises(ConflictError, match=r"\(cannot be forced\) - image is being used by "
                                            "running container dddddddddddd"):
        store.remove(img.id, force=True)


def test_store_corrupt_import_leaves_nothing(store: ImageStore) -> None:
    blob = gzip.compress(layer(("big", os.urandom(300_000))))
    with pytest.raises(InvalidArchiveError):
        store.import_tar(io.BytesIO(blob[: len(blob) // 2]), "broken")
    assert store.list() == []
    assert [n for n in os.listdir(store.config.layers_dir) if n != ".lock"] == []
    assert os.listdir(store.config.tmp_dir) == []
    with store.db.read() as conn:
        assert conn.execute("SELECT COUNT(*) FROM layers").fetchone()[0] == 0


def test_store_bad_reference_or_change_refused_before_reading(store: ImageStore) -> None:
    stream = io.BytesIO(layer(("a", b"1")))
    with pytest.raises(Exception, match="invalid reference format"):
        store.import_tar(stream, "Bad")
    with pytest.raises(Exception, match="not a valid change command"):
        store.import_tar(stream, "ok", ["RUN x"])
    assert stream.tell() == 0


def test_store_reconcile_removes_crash_leftovers(store: ImageStore) -> None:
    img = store.import_tar(io.BytesIO(layer(("a", b"1"))), "keep")
    tmp, layers = store.config.tmp_dir, store.config.layers_dir
    (tmp / "layer-999999999-abcd").mkdir()  # a dead importer's staging dir
    (tmp / f"layer-{os.getpid()}-beef").mkdir()  # ours: in progress
    (tmp / "volume-staging-x").mkdir()  # not ours: untouched
    (layers / ("e" * 64)).mkdir()  # renamed in, never registered
    removed = {p.name for p in store.reconcile()}
    assert removed == {"layer-999999999-abcd", "e" * 64}
    assert (tmp / f"layer-{os.getpid()}-beef").exists()
    assert (tmp / "volume-staging-x").exists()
    assert store.layer_dirs(img)[0].is_dir()


def test_store_unregistered_complete_layer_dir_adopted(store: ImageStore) -> None:
    data = layer(("a", b"1"))
    img = store.import_tar(io.BytesIO(data), "x")
    with store.db.write() as conn:  # simulate: dir renamed in, crash before the row
        conn.execute("DELETE FROM images")
        conn.execute("DELETE FROM layers")
    again = store.add_layer(io.BytesIO(data))
    assert again == img.diff_ids[0]
    assert (store.layer_dir(again) / "a").read_bytes() == b"1"


def test_store_inspect_shape(store: ImageStore) -> None:
    img = store.import_tar(io.BytesIO(layer(("a", b"12345"))), "busybox", ['CMD ["sh"]'])
    doc = image_json(store, img)
    assert list(doc) == ["Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created",
                         "Container", "ContainerConfig", "DockerVersion", "Author", "Config",
                         "Architecture", "Os", "Size", "VirtualSize", "GraphDriver", "RootFS",
                         "Metadata"]
    assert doc["Config"]["Cmd"] == ["sh"] and doc["Config"]["OnBuild"] is None
    assert doc["RootFS"] == {"Type": "layers", "Layers": list(img.diff_ids)}
    assert doc["Size"] == 5 and doc["Comment"] == "Imported from -"
    assert doc["GraphDriver"]["Name"] == "overlay2"
    assert doc["Metadata"]["LastTagTime"] != "0001-01-01T00:00:00Z"


def test_store_create_image_over_existing_layers(store: ImageStore) -> None:
    base = store.import_tar(io.BytesIO(layer(("a", b"1"))), "base")
    top = store.add_layer(io.BytesIO(layer(("b", b"2"))))
    img = store.create_image([*base.diff_ids, top], {"config": {"Cmd": ["sh"]}}, "child:1")
    assert img.diff_ids == (*base.diff_ids, top)
    assert [p.name for p in store.layer_dirs(img)] == [d[7:] for d in img.diff_ids]
    assert "LowerDir" in image_json(store, img)["GraphDriver"]["Data"]
    with pytest.raises(Exception, match="does not exist"):
        store.create_image(["sha256:" + "0" * 64], {}, None)
