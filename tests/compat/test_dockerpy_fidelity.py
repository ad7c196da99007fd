"""Fidelity fixes found by docker-py's own suite (test_dockerpy_suite.py), each checked
here directly with docker-py, so that the default run covers them whatever subset of the
suite it runs."""

from __future__ import annotations

import io
from typing import Any

import pytest

docker = pytest.importorskip("docker")


def test_images_all_lists_intermediate_images_as_info_counts_them(client: Any) -> None:
    df = b"FROM busybox\nRUN echo a > /a\nRUN echo b > /b\n"
    image, _ = client.images.build(fileobj=io.BytesIO(df), tag="layered:1", rm=True)
    top = {i["Id"] for i in client.api.images()}
    every = {i["Id"] for i in client.api.images(all=True)}
    assert image.id in top and top < every  # the RUN steps' images, hidden by default
    assert len(every) == client.info()["Images"]


def test_stats_of_a_bridged_container_have_its_networks(client: Any) -> None:
    c = client.containers.run("busybox", ["sleep", "30"], detach=True)
    try:
        stats = c.stats(stream=False)
        assert set(stats["networks"]) == {"eth0"}
        assert set(stats["networks"]["eth0"]) >= {"rx_bytes", "tx_packets", "rx_dropped"}
        host = client.containers.run("busybox", ["sleep", "30"], detach=True,
                                     network_mode="none")
        try:
            assert "networks" not in host.stats(stream=False)
        finally:
            host.remove(force=True)
    finally:
        c.remove(force=True)
