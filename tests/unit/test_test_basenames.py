"""pytest imports test files by basename (rootdir mode, no packages under tests/integration
and tests/unit): two files with one name break the collection of the whole tree, which
running either file alone never shows.  Checked here, before a full run finds it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_file_has_a_basename_of_its_own() -> None:
    names = Counter(p.name for p in TESTS.rglob("test_*.py")
                    if "dockerpy_suite" not in p.parts)
    assert names["test_test_basenames.py"] == 1
    assert [n for n, k in names.items() if k > 1] == []
