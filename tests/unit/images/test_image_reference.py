"""Reference parsing: Docker's grammar and texts (distribution/reference)."""

from __future__ import annotations

import pytest

from orlop.images.reference import (
    InvalidReferenceError,
    parse_reference,
    parse_tag_target,
    split_tagged,
)


@pytest.mark.parametrize(
    ("text", "tagged"),
    [
        ("busybox", "busybox:latest"),
        ("busybox:1.36", "busybox:1.36"),
        ("docker.io/library/busybox:x", "busybox:x"),
        ("index.docker.io/library/busybox", "busybox:latest"),
        ("docker.io/team/app", "team/app:latest"),
        ("registry:5000/name:tag", "registry:5000/name:tag"),
        ("localhost/a/b_c__d-e.f:v_1.2-x", "localhost/a/b_c__d-e.f:v_1.2-x"),
        ("My.Registry.io/app", "My.Registry.io/app:latest"),
    ],
)
def test_reference_valid_parsed(text: str, tagged: str) -> None:
    assert parse_reference(text).tagged == tagged


@pytest.mark.parametrize(
    "text", ["", ":tag", "busybox:", "a//b", "-busybox", "busybox:-x", "a b", "busybox\n",
             "busybox:" + "x" * 129, "name@sha256:abc"],
)
def test_reference_invalid_refused_with_docker_text(text: str) -> None:
    with pytest.raises(InvalidReferenceError, match=r"^invalid reference format$"):
        parse_reference(text)


def test_reference_uppercase_repository_must_be_lowercase() -> None:
    with pytest.raises(InvalidReferenceError) as err:
        parse_reference("BusyBox:latest")
    assert str(err.value) == "invalid reference format: repository name must be lowercase"


def test_reference_64_hex_name_refused() -> None:
    with pytest.raises(InvalidReferenceError, match="64-byte hexadecimal"):
        parse_reference("a" * 64)


def test_reference_too_long_refused() -> None:
    with pytest.raises(InvalidReferenceError, match="255 characters"):
        parse_reference("a/" * 130 + "b")


def test_tag_target_digest_refused() -> None:
    with pytest.raises(InvalidReferenceError, match="digest"):
        parse_tag_target("busybox@sha256:" + "a" * 64)


@pytest.mark.parametrize(
    ("tagged", "split"),
    [("busybox:latest", ("busybox", "latest")),
     ("registry:5000/app:v1", ("registry:5000/app", "v1")),
     ("registry:5000/app", ("registry:5000/app", ""))],
)
def test_split_tagged_registry_port_kept_in_repository(tagged: str,
                                                       split: tuple[str, str]) -> None:
    assert split_tagged(tagged) == split
