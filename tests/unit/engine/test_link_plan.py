"""What a create's links become (engine/net/links.py ``plan``): legacy links by target id
on the default bridge, endpoint links on a user network, dockerd's refusals."""

from __future__ import annotations

from typing import Any

import pytest

from orlop.engine.models import Container, ContainerConfig, HostConfig
from orlop.engine.net.links import plan
from orlop.engine.runoptions import RunOptions
from orlop.errors import ContainerNotFoundError, InvalidParameterError


def _container(cid: str, name: str, mode: str = "default") -> Container:
    return Container(
        id=cid, name=name, image_id="sha256:x", image_ref="busybox", created="",
        config=ContainerConfig(hostname=cid[:12], user="", env=[], cmd=None,
                               entrypoint=None, image="busybox", working_dir="",
                               volumes=None, labels={}),
        host_config=HostConfig(binds=None, mounts=None, tmpfs=None, volumes_from=None,
                               network_mode=mode, auto_remove=False, runtime="orlop"),
        status="running", pid=1, exit_code=0, started_at="", finished_at="", error="",
        runtime="orlop")


class _Store:
    def __init__(self, *cs: Container) -> None:
        self.by_ref = {k: c for c in cs for k in (c.id, c.name)}

    def resolve(self, ref: str) -> Container:
        if ref.removeprefix("/") not in self.by_ref:
            raise ContainerNotFoundError(ref)
        return self.by_ref[ref.removeprefix("/")]


def _plan(store: _Store, **kw: Any) -> Any:
    return plan(store, RunOptions(image="busybox", **kw))  # type: ignore[arg-type]


def test_default_bridge_links_by_target_id_through_container_modes() -> None:
    db = _container("a" * 64, "db")
    side = _container("b" * 64, "side", mode="container:db")
    p = _plan(_Store(db, side), links=["db:database", "side", "db:database"],
              endpoint_links={"bridge": ["db:database"]})
    assert p.legacy == [("database", db.id), ("side", db.id)]
    assert p.endpoint == {}


def test_user_network_links_become_the_endpoints() -> None:
    p = _plan(_Store(), network="appnet", links=["up:bar"],
              endpoint_links={"appnet": ["later:baz", "up:bar"], "other": ["x"]})
    assert p.legacy == []
    assert p.endpoint == {"appnet": [("later", "baz"), ("up", "bar")], "other": [("x", "x")]}


@pytest.mark.parametrize(("kw", "message"), [
    ({"links": ["nosuch:x"]},
     "could not get container for nosuch: No such container: nosuch"),
    ({"links": ["h:x"]}, "host type networking can't be used with links"),
    ({"links": ["db"], "network": "host"}, "host type networking can't be used with links"),
    ({"links": ["db"], "network": "container:db"},
     "container type network can't be used with links"),
    ({"links": ["db"], "network": "none"}, "links need a network"),
    ({"endpoint_links": {"bridge": ["db:x"]}}, "links on the default bridge network"),
    ({"links": ["a:b:c"]}, "bad format for links: a:b:c"),
])
def test_refusals(kw: dict[str, Any], message: str) -> None:
    store = _Store(_container("a" * 64, "db"), _container("c" * 64, "h", mode="host"))
    with pytest.raises(InvalidParameterError, match=message):
        _plan(store, **kw)
