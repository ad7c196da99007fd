"""Shared test settings: integration tests need root and are skipped elsewhere."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.fspath) and os.geteuid() != 0:
            item.add_marker(pytest.mark.skip(reason="integration tests need root"))
