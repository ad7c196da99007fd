"""A create without a name never fails because a random name is taken (dockerd retries)."""

from __future__ import annotations

import re
import sqlite3

import pytest

from orlop.engine.containers import create, names


def _conn(*taken: str) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.row_factory = sqlite3.Row
    conn.execute("CREATE TABLE containers (id TEXT, name TEXT UNIQUE)")
    conn.executemany("INSERT INTO containers VALUES (?, ?)",
                     [(f"id{i}", n) for i, n in enumerate(taken)])
    return conn


def test_random_name_forms() -> None:
    assert re.fullmatch(r"[a-z]+_[a-z]+", names.random_name())
    assert re.fullmatch(r"[a-z]+_[a-z]+[0-9]", names.random_name(1))


def test_a_taken_random_name_is_retried_with_a_digit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(names, "_LEFT", ["gifted"])
    monkeypatch.setattr(names, "_RIGHT", ["bhabha"])
    assert create._free_random_name(_conn()) == "gifted_bhabha"
    got = create._free_random_name(_conn("gifted_bhabha"))
    assert re.fullmatch(r"gifted_bhabha[0-9]", got)
