"""Docker's human units (go-units)."""

from __future__ import annotations

import pytest

from orlop.cli.units import docker_date, human_duration, human_size, time_ago


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0B"), (999, "999B"), (1000, "1kB"), (12345, "12.3kB"), (4261550, "4.26MB"),
     (1_200_000, "1.2MB"), (5_000_000_000, "5GB")],
)
def test_human_size_docker_images_precision(size: int, text: str) -> None:
    assert human_size(size) == text


@pytest.mark.parametrize(
    ("secs", "text"),
    [(0.5, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
     (119, "About a minute"), (120, "2 minutes"), (3599, "59 minutes"),
     (3600, "About an hour"), (5399, "About an hour"), (7200, "2 hours"),
     (47 * 3600, "47 hours"), (3 * 86400, "3 days"), (20 * 86400, "2 weeks"),
     (90 * 86400, "3 months"), (800 * 86400, "2 years")],
)
def test_human_duration_go_units(secs: float, text: str) -> None:
    assert human_duration(secs) == text


def test_time_ago_and_docker_date() -> None:
    assert time_ago("2024-01-01T00:00:00.5Z", now=1704067200.5 + 7200) == "2 hours ago"
    assert docker_date("2024-01-01T00:00:00.123456789Z") == "2024-01-01 00:00:00 +0000 UTC"
