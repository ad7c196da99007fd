"""Docker's container links for real: ``--link`` on the default bridge (the target's
/etc/hosts line and variables, inspect's ``/target:/this/alias``, ``rm --link``, rename and
removal of the target, dockerd's error texts) and an endpoint's ``Links`` on a user
network (``run --network N --link``, ``network connect --link``: the alias resolves in
the linking container).  Unit tests of the variables: tests/unit/engine/test_link_env.py."""

from __future__ import annotations

import json
import os

import pytest

from harness import Orlop

pytestmark = pytest.mark.skipif(not os.path.exists("/usr/lib/podman/netavark"),
                                reason="netavark is not installed")


def _subnet(orlop: Orlop, n: int = 0) -> str:
    """A /24 for this test's network, derived from its root (tests may run concurrently
    with other roots on this host)."""
    h = abs(hash(str(orlop.root))) % 250
    return f"10.{70 + n}.{h}.0/24"


def _inspect(o: Orlop, ref: str) -> dict:  # type: ignore[type-arg]
    return json.loads(o.ok("inspect", ref))[0]  # type: ignore[no-any-return]


def test_legacy_link_env_hosts_inspect_rm_link(bb: Orlop) -> None:
    bb.ok("run", "-d", "--name", "db", "-e", "PASSWORD=secret", "--expose", "5432",
          "busybox", "sleep", "60")
    db = _inspect(bb, "db")
    ip = db["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
    short = db["Id"][:12]
    out = bb.ok("run", "--rm", "--name", "app", "--link", "db:database", "busybox", "sh",
                "-c", "env | grep ^DATABASE_ | sort; grep database /etc/hosts")
    assert out == (
        "DATABASE_ENV_PASSWORD=secret\n"
        "DATABASE_NAME=/app/database\n"
        f"DATABASE_PORT=tcp://{ip}:5432\n"
        f"DATABASE_PORT_5432_TCP=tcp://{ip}:5432\n"
        f"DATABASE_PORT_5432_TCP_ADDR={ip}\n"
        "DATABASE_PORT_5432_TCP_PORT=5432\n"
        "DATABASE_PORT_5432_TCP_PROTO=tcp\n"
        f"{ip}\tdatabase {short} db\n")

    # Kept by the target's id: inspect shows dockerd's form with the current names.
    bb.ok("run", "-d", "--name", "web", "--link", "db:database", "busybox", "sleep", "60")
    assert _inspect(bb, "web")["HostConfig"]["Links"] == ["/db:/web/database"]
    bb.ok("rename", "db", "store")
    assert _inspect(bb, "web")["HostConfig"]["Links"] == ["/store:/web/database"]
    assert bb.ok("exec", "web", "ping", "-c1", "-W2", "database").startswith(
        f"PING database ({ip})")
    # dockerd lists a link's name among its target's Names; the CLI shows it untruncated.
    fmt = ("ps", "--filter", "name=store", "--format", "{{.Names}}")
    assert bb.ok(*fmt) == "store\n"
    assert bb.ok(*fmt[:-2], "--no-trunc", *fmt[-2:]) == "store,web/database\n"

    # rm --link: the link and its /etc/hosts line go, both containers stay.
    assert bb.ok("rm", "--link", "web/database") == "web/database\n"
    assert _inspect(bb, "web")["HostConfig"]["Links"] is None
    assert "database" not in bb.ok("exec", "web", "cat", "/etc/hosts")
    assert {"store", "web"} <= set(bb.ok("ps", "--format", "{{.Names}}").split())
    res = bb("rm", "--link", "store")
    assert res.returncode == 1
    assert "Conflict, cannot remove the default link name of the container" in res.stderr
    res = bb("rm", "--link", "web/nosuch")
    assert res.returncode == 1 and "No such container: web/nosuch" in res.stderr

    # dockerd's refusals: an unknown target at create, a stopped one at start.
    res = bb("create", "--link", "nosuch:x", "busybox", "true")
    assert res.returncode == 125
    assert "could not get container for nosuch: No such container: nosuch" in res.stderr
    bb.ok("create", "--name", "late", "--link", "store:database", "busybox", "true")
    bb.ok("stop", "-t", "0", "store")
    res = bb("start", "late")
    assert res.returncode == 1
    assert "Cannot link to a non running container: /store AS /late/database" in res.stderr
    # Removing a linked target is allowed; the link goes with it (dockerd's link index).
    bb.ok("rm", "store")
    assert _inspect(bb, "late")["HostConfig"]["Links"] is None
    res = bb("run", "--rm", "--network", "host", "--link", "web:w", "busybox", "true")
    assert res.returncode == 125
    assert "conflicting options: host type networking can't be used with links" in res.stderr


def test_endpoint_links_on_a_user_network(bb: Orlop) -> None:
    bb.ok("network", "create", "--internal", "--subnet", _subnet(bb), "ln")
    bb.ok("run", "-d", "--name", "up", "--network", "ln", "busybox", "sleep", "60")
    up_ip = _inspect(bb, "up")["NetworkSettings"]["Networks"]["ln"]["IPAddress"]
    # The target runs at the linking container's start: an /etc/hosts line; the one
    # that starts later is a DNS name of the target on the network (docs/networking.md).
    bb.ok("run", "-d", "--name", "lk", "--network", "ln", "--link", "up:bar",
          "--link", "later:baz", "busybox", "sleep", "60")
    info = _inspect(bb, "lk")
    assert info["NetworkSettings"]["Networks"]["ln"]["Links"] == ["up:bar", "later:baz"]
    assert info["HostConfig"]["Links"] is None
    assert f"{up_ip}\tbar\n" in bb.ok("exec", "lk", "cat", "/etc/hosts")
    assert bb.ok("exec", "lk", "ping", "-c1", "-W2", "bar").startswith(f"PING bar ({up_ip})")
    bb.ok("run", "-d", "--name", "later", "--network", "ln", "busybox", "sleep", "60")
    later_ip = _inspect(bb, "later")["NetworkSettings"]["Networks"]["ln"]["IPAddress"]
    assert f"Address: {later_ip}" in bb.ok("exec", "lk", "nslookup", "baz")

    # network connect --link, on a running container: kept and resolved at once.
    bb.ok("run", "-d", "--name", "c2", "--network", "ln", "busybox", "sleep", "60")
    bb.ok("network", "disconnect", "ln", "c2")
    bb.ok("network", "connect", "--link", "up:u2", "ln", "c2")
    assert _inspect(bb, "c2")["NetworkSettings"]["Networks"]["ln"]["Links"] == ["up:u2"]
    assert bb.ok("exec", "c2", "ping", "-c1", "-W2", "u2").startswith(f"PING u2 ({up_ip})")
    # Links go with the endpoint.
    bb.ok("network", "disconnect", "ln", "c2")
    bb.ok("network", "connect", "ln", "c2")
    assert _inspect(bb, "c2")["NetworkSettings"]["Networks"]["ln"]["Links"] is None
    res = bb("network", "connect", "--link", "up:x", "bridge", "c2")
    assert res.returncode == 1 and "links on the default bridge network" in res.stderr
    bb.ok("rm", "-f", "lk", "c2", "up", "later")
    bb.ok("network", "rm", "ln")
