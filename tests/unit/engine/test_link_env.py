"""Docker's container links, the pure parts (engine/net/linkenv.py): moby's ParseLink and
the variables of a legacy link (moby's links.Link.ToEnv, daemon/links/links_test.go)."""

from __future__ import annotations

import pytest

from orlop.engine.containers.bundle import process_env
from orlop.engine.net.linkenv import link_env, parse_link
from orlop.errors import InvalidParameterError


@pytest.mark.parametrize(("text", "want"), [
    ("db", ("db", "db")),
    ("db:database", ("db", "database")),
    # the form dockerd shows in inspect, sent back by a client that copies it
    ("/db:/web/database", ("db", "database")),
])
def test_parse_link(text: str, want: tuple[str, str]) -> None:
    assert parse_link(text) == want


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty string specified for links"),
    ("a:b:c", "bad format for links: a:b:c"),
])
def test_parse_link_refusals(text: str, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        parse_link(text)


def test_env_one_port_and_the_targets_env() -> None:
    # moby's TestLinkEnv
    env = link_env("/db/docker", "172.0.17.2", ["PASSWORD=gordon"], ["6379/tcp"])
    assert env == [
        "DOCKER_PORT=tcp://172.0.17.2:6379",
        "DOCKER_PORT_6379_TCP=tcp://172.0.17.2:6379",
        "DOCKER_PORT_6379_TCP_ADDR=172.0.17.2",
        "DOCKER_PORT_6379_TCP_PORT=6379",
        "DOCKER_PORT_6379_TCP_PROTO=tcp",
        "DOCKER_NAME=/db/docker",
        "DOCKER_ENV_PASSWORD=gordon",
    ]


def test_env_ranges_tcp_first_and_home_path_left_out() -> None:
    # moby's TestLinkMultipleEnv: consecutive ports make a range; TCP sorts first
    env = link_env("/web/my-db", "10.0.0.3",
                   ["HOME=/root", "PATH=/bin", "A=1", "BARE"],
                   ["6381/tcp", "53/udp", "6379/tcp", "6380/tcp"])
    assert env == [
        "MY_DB_PORT=tcp://10.0.0.3:6379",
        "MY_DB_PORT_6379_TCP=tcp://10.0.0.3:6379",
        "MY_DB_PORT_6379_TCP_ADDR=10.0.0.3",
        "MY_DB_PORT_6379_TCP_PORT=6379",
        "MY_DB_PORT_6379_TCP_PROTO=tcp",
        "MY_DB_PORT_6380_TCP=tcp://10.0.0.3:6380",
        "MY_DB_PORT_6380_TCP_ADDR=10.0.0.3",
        "MY_DB_PORT_6380_TCP_PORT=6380",
        "MY_DB_PORT_6380_TCP_PROTO=tcp",
        "MY_DB_PORT_6381_TCP=tcp://10.0.0.3:6381",
        "MY_DB_PORT_6381_TCP_ADDR=10.0.0.3",
        "MY_DB_PORT_6381_TCP_PORT=6381",
        "MY_DB_PORT_6381_TCP_PROTO=tcp",
        # the range is written when it ends: after the next port's own variables
        "MY_DB_PORT_53_UDP=udp://10.0.0.3:53",
        "MY_DB_PORT_53_UDP_ADDR=10.0.0.3",
        "MY_DB_PORT_53_UDP_PORT=53",
        "MY_DB_PORT_53_UDP_PROTO=udp",
        "MY_DB_PORT_6379_TCP_START=tcp://10.0.0.3:6379",
        "MY_DB_PORT_6379_TCP_PORT_START=6379",
        "MY_DB_PORT_6379_TCP_END=tcp://10.0.0.3:6381",
        "MY_DB_PORT_6379_TCP_PORT_END=6381",
        "MY_DB_NAME=/web/my-db",
        "MY_DB_ENV_A=1",
    ]


def test_env_no_ports() -> None:
    assert link_env("/a/b", "10.0.0.2", [], []) == ["B_NAME=/a/b"]


def test_link_env_among_the_defaults_config_env_wins() -> None:
    """moby's CreateDaemonEnvironment: the links' variables after PATH/HOSTNAME/TERM,
    then Config.Env replaces or appends."""
    env = process_env(["DB_NAME=mine", "X=1"], "h", "/root", False,
                      linked=["DB_PORT=tcp://1.2.3.4:5", "DB_NAME=/w/db"])
    assert env == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                   "HOSTNAME=h", "DB_PORT=tcp://1.2.3.4:5", "DB_NAME=mine", "X=1",
                   "HOME=/root"]
