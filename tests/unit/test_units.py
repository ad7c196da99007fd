"""orlop.units: Docker's go-units sizes, one parser and one printer for every layer."""

from __future__ import annotations

import pytest

from orlop.errors import InvalidParameterError
from orlop.units import bytes_size, human_size, ram_in_bytes


@pytest.mark.parametrize(
    ("text", "size"),
    [("512", 512), ("0", 0), ("1048576", 1048576), ("10b", 10), ("512k", 512 * 1024),
     ("1m", 1 << 20), ("1M", 1 << 20), ("1mb", 1 << 20), ("1MiB", 1 << 20), ("1 m", 1 << 20),
     ("10 MB", 10 << 20), ("1ki", 1024), ("1g", 1 << 30), ("1G", 1 << 30),
     ("1.5GB", 1610612736), ("1.5GiB", 3 << 29), ("1.5k", 1536), ("2t", 2 << 40),
     ("1p", 1 << 50), ("0.5", 0), ("1.0001k", 1024)],
)
def test_ram_in_bytes_docker_units_gives_binary_bytes(text: str, size: int) -> None:
    assert ram_in_bytes(text) == size


@pytest.mark.parametrize(
    "text",
    ["-1", "-1m", "", "abc", "m", "1x", "1e", "1mm", "1mbb", "1.2.3m", "1m\n", " 1m", "1m ",
     "1  m", "+1", "1e3", ".5m", "1,5m"],
)
def test_ram_in_bytes_not_a_size_raises_dockers_text(text: str) -> None:
    with pytest.raises(ValueError) as err:
        ram_in_bytes(text)
    assert str(err.value) == f"invalid size: '{text}'"


def test_log_max_size_keeps_its_texts_and_empty_is_unlimited() -> None:
    from orlop.engine.containers.logs import parse_size

    assert parse_size("") == 0
    assert parse_size(" 10m ") == 10 << 20
    with pytest.raises(InvalidParameterError, match=r"^invalid size: '10x'$"):
        parse_size("10x")


def test_local_volume_size_option_keeps_its_text() -> None:
    from pathlib import Path

    from orlop.volumes.drivers.local import LocalDriver

    with pytest.raises(InvalidParameterError) as err:
        LocalDriver(Path("/nonexistent/volumes")).validate({"size": "-1"})
    assert str(err.value) == "invalid option: \"size\": invalid size: '-1'"


@pytest.mark.parametrize(
    ("size", "precision", "text"),
    [(0, 3, "0B"), (999, 3, "999B"), (1000, 3, "1kB"), (12345, 3, "12.3kB"),
     (4261550, 3, "4.26MB"), (5_000_000_000, 3, "5GB"), (1_088_000, 4, "1.088MB"),
     (1234, 4, "1.234kB"), (10 ** 27, 3, "1e+03YB")],
)
def test_human_size_decimal_units_with_precision(size: float, precision: int,
                                                 text: str) -> None:
    assert human_size(size, precision) == text


@pytest.mark.parametrize(("size", "text"), [(0, "0B"), (1023, "1023B"), (1024, "1KiB"),
                                            (1536 * 1024, "1.5MiB"), (1 << 30, "1GiB")])
def test_bytes_size_binary_units(size: float, text: str) -> None:
    assert bytes_size(size) == text
