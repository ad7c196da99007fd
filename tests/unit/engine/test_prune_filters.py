"""Docker's prune filters (engine/prune.py): label, label!, until; unknown keys refused."""

from __future__ import annotations

import pytest

from orlop.engine.prune import check_filters, passes
from orlop.errors import InvalidParameterError

OLD = "2020-01-01T00:00:00Z"


@pytest.mark.parametrize(("filters", "labels", "expected"), [
    ({}, {}, True),
    ({"label": ["a"]}, {"a": "1"}, True),
    ({"label": ["a=1"]}, {"a": "1"}, True),
    ({"label": ["a=2"]}, {"a": "1"}, False),
    ({"label": ["a", "b"]}, {"a": "1"}, False),  # all must match
    ({"label!": ["a"]}, {"a": "1"}, False),
    ({"label!": ["a=2"]}, {"a": "1"}, True),
    ({"label!": ["b", "a"]}, {"a": "1"}, False),  # none may match
    ({"until": ["1h"]}, {}, True),  # created in 2020: older than an hour ago
    ({"until": ["1577836799"]}, {}, False),  # a second before creation
    ({"until": ["2021-01-01T00:00:00Z"]}, {}, True),
])
def test_passes(filters: dict[str, list[str]], labels: dict[str, str], expected: bool) -> None:
    check_filters(filters)
    assert passes(filters, labels, OLD) is expected


@pytest.mark.parametrize(("filters", "message"), [
    ({"color": ["red"]}, "Invalid filter 'color'"),
    ({"until": ["1h", "2h"]}, "more than one until filter specified"),
    ({"until": ["yesterday"]}, 'failed to parse value as time or duration: "yesterday"'),
])
def test_bad_filters_are_refused(filters: dict[str, list[str]], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        check_filters(filters)


def test_dangling_is_accepted_only_where_allowed() -> None:
    check_filters({"dangling": ["true"]}, extra=("dangling",))
    with pytest.raises(InvalidParameterError):
        check_filters({"dangling": ["true"]})
