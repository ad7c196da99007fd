"""Capability names and masks."""

from __future__ import annotations

import pytest

from orlop.kernel.caps import CAPABILITIES, DOCKER_DEFAULT_CAPS, cap_mask, cap_number


def test_docker_default_caps_mask_is_0xa80425fb() -> None:
    assert cap_mask(DOCKER_DEFAULT_CAPS) == 0xA80425FB


def test_docker_default_caps_exclude_dangerous_ones() -> None:
    for name in ("CAP_SYS_ADMIN", "CAP_DAC_READ_SEARCH", "CAP_SYS_PTRACE", "CAP_NET_ADMIN"):
        assert name not in DOCKER_DEFAULT_CAPS


def test_cap_number_accepts_short_lowercase_names() -> None:
    assert cap_number("chown") == 0
    assert cap_number("CAP_SYS_ADMIN") == 21
    assert cap_number("sys_admin") == 21


def test_cap_number_unknown_raises() -> None:
    with pytest.raises(ValueError):
        cap_number("CAP_FLY")


def test_capability_numbers_are_dense_up_to_40() -> None:
    assert sorted(CAPABILITIES.values()) == list(range(41))
