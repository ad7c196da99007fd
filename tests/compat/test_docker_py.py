"""docker-py 7.2.0 (the Docker SDK for Python) against orlopd."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Server

docker = pytest.importorskip("docker")


def test_volumes_create_get_list_remove_prune(client: Any) -> None:
    v = client.volumes.create("pyvol", labels={"k": "v"})
    assert v.name == "pyvol" and v.attrs["Labels"] == {"k": "v"}
    assert [x.name for x in client.volumes.list()] == ["pyvol"]
    assert client.volumes.get("pyvol").attrs["Driver"] == "local"
    with pytest.raises(docker.errors.NotFound):
        client.volumes.get("nope")
    with pytest.raises(docker.errors.APIError) as exc:
        client.volumes.create("bad/name")
    assert exc.value.status_code == 400
    v.remove()
    client.volumes.create("named")
    client.api.create_volume()  # anonymous
    pruned = client.volumes.prune()
    assert len(pruned["VolumesDeleted"]) == 1
    pruned = client.volumes.prune(filters={"all": "true"})
    assert pruned["VolumesDeleted"] == ["named"]


def test_containers_run_returns_output_with_mounts(client: Any, bbd: Server) -> None:
    host = bbd.dir / "bind"
    host.mkdir()
    out = client.containers.run(
        "busybox", ["sh", "-c", "echo hi > /b/x; echo v > /v/y; cat /b/x /v/y; ls -d /t"],
        remove=True,
        mounts=[docker.types.Mount("/b", str(host), type="bind"),
                docker.types.Mount("/v", "pyv", type="volume"),
                docker.types.Mount("/t", None, type="tmpfs", tmpfs_size=1 << 20)])
    assert out == b"hi\nv\n/t\n"
    assert (host / "x").read_text() == "hi\n"
    assert client.containers.list(all=True) == []


def test_container_nonzero_exit_raises_container_error(client: Any) -> None:
    with pytest.raises(docker.errors.ContainerError) as exc:
        client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 4"], remove=True)
    assert exc.value.exit_status == 4


def test_detached_container_logs_wait_inspect_remove(client: Any) -> None:
    c = client.containers.run("busybox", ["sh", "-c", "echo one; echo two >&2"],
                              detach=True, name="pyc")
    assert c.wait()["StatusCode"] == 0
    assert c.logs() == b"one\ntwo\n"
    assert c.logs(stderr=False) == b"one\n"
    c.reload()
    assert c.status == "exited" and c.name == "pyc"
    assert client.containers.get("pyc").id == c.id
    assert [x.id for x in client.containers.list(all=True, filters={"name": "pyc"})] == [c.id]
    c.remove(v=True)
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("pyc")


def test_mount_with_unknown_type_is_400_and_creates_nothing(client: Any) -> None:
    with pytest.raises(docker.errors.APIError) as exc:
        client.api.create_container("busybox", "true", host_config={
            "Mounts": [{"Type": "weird", "Target": "/x"}]})
    assert exc.value.status_code == 400
    assert client.containers.list(all=True) == []


def test_images_list_inspect_tag_remove(client: Any) -> None:
    img = client.images.get("busybox:latest")
    assert "busybox:latest" in img.tags
    assert img.tag("pytag", "v1")
    assert "pytag:v1" in client.images.get(img.id).tags
    client.images.remove("pytag:v1")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("pytag:v1")
    assert img.history()[0]["Id"] == img.id


def test_ping_version_info(client: Any) -> None:
    assert client.ping() is True
    assert client.version()["ApiVersion"] == "1.45"
    assert client.info()["Images"] == 1
    df = client.df()
    assert set(df) >= {"Images", "Containers", "Volumes"}
