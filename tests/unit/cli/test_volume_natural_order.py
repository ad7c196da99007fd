"""`volume ls` sorts names as the docker CLI does (sortorder.NaturalLess); the key is a
string built for speed, checked here against the plain list-of-parts definition."""

from __future__ import annotations

import random
import re

from orlop.cli.commands.volume import _natural_key


def _reference(name: str) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if i & 1 else (1, part)
            for i, part in enumerate(re.split(r"(\d+)", name)) if part]


def test_natural_key_orders_as_the_parts_definition() -> None:
    rng = random.Random(17)
    alphabet = "ab0123456789_.-"
    names = {"".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 12)))
             for _ in range(20000)}
    names |= {"a1", "a01", "a001b", "a1b", "a10", "a9", "9", "10", "a", "ab", "a0", "a00",
              "v2", "v10", "v100", "x" + "9" * 40, "x1" + "0" * 40}
    by_name = sorted(names)  # the store's order; both sorts are stable
    assert sorted(by_name, key=_natural_key) == sorted(by_name, key=_reference)


def test_natural_key_examples() -> None:
    assert sorted(["v10", "v9", "v1", "a", "v01x"], key=_natural_key) == [
        "a", "v1", "v01x", "v9", "v10"]
