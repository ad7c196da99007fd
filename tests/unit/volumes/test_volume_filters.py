"""Docker's volume filters: parsing, validation texts and matching."""

from __future__ import annotations

import pytest

from orlop.errors import InvalidParameterError
from orlop.volumes.filters import build_filter, filter_key, label_matches, parse_filter_args


def test_parse_filter_args_repeated_keys_collected() -> None:
    got = parse_filter_args(["label=a=b", "label=c", "label!=d=e", "dangling=true"])
    assert got == {"label": ["a=b", "c"], "label!": ["d=e"], "dangling": ["true"]}


def test_parse_filter_args_without_equals_refused() -> None:
    with pytest.raises(InvalidParameterError, match="bad format of filter"):
        parse_filter_args(["dangling"])


def test_build_filter_unknown_key_docker_text() -> None:
    with pytest.raises(InvalidParameterError) as e:
        build_filter({"nosuch": ["1"]})
    assert str(e.value) == "Invalid filter 'nosuch'"


def test_build_filter_bad_dangling_docker_text() -> None:
    with pytest.raises(InvalidParameterError) as e:
        build_filter({"dangling": ["maybe"]})
    assert str(e.value) == "Invalid filter 'dangling=[maybe]'"


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("1", True), ("false", False),
                                                 ("0", False), ("TRUE", True)])
def test_build_filter_dangling_values_accepted(value: str, expected: bool) -> None:
    assert build_filter({"dangling": [value]}).dangling is expected


def test_build_filter_prune_refuses_list_only_keys() -> None:
    with pytest.raises(InvalidParameterError, match="Invalid filter 'dangling'"):
        build_filter({"dangling": ["true"]}, prune=True)
    assert build_filter({"all": ["true"]}, prune=True).all


def test_label_matches_key_and_key_value() -> None:
    labels = {"keep": "yes", "empty": ""}
    assert label_matches("keep", labels)
    assert label_matches("keep=yes", labels)
    assert not label_matches("keep=no", labels)
    assert label_matches("empty=", labels)
    assert not label_matches("other", labels)


def test_match_combines_every_criterion() -> None:
    f = build_filter({"name": ["pr_"], "label": ["team=db"], "label!": ["keep=yes"],
                      "driver": ["local"], "dangling": ["true"]})
    assert f.match("pr_a", "local", {"team": "db"}, in_use=False)
    assert not f.match("pr_a", "local", {"team": "db"}, in_use=True)
    assert not f.match("other", "local", {"team": "db"}, in_use=False)
    assert not f.match("pr_a", "local", {"team": "db", "keep": "yes"}, in_use=False)
    assert not f.match("pr_a", "local", None, in_use=False)


def test_match_name_is_substring_or_regex_invalid_matches_nothing() -> None:
    assert build_filter({"name": ["named"]}).match("pr_named_used", "local", None)
    assert build_filter({"name": ["^pr_.*used$"]}).match("pr_named_used", "local", None)
    assert not build_filter({"name": ["(("]}).match("pr_named_used", "local", None)
    assert build_filter({"name": ["(("]}).match("((", "local", None)


def test_filter_key_ignores_key_order_keeps_values() -> None:
    a = filter_key({"label": ["a", "b"], "dangling": ["true"]})
    assert a == filter_key({"dangling": ["true"], "label": ["a", "b"]})
    assert a != filter_key({"label": ["a"], "dangling": ["true"]})
    assert filter_key(None) == filter_key({}) == ()
    hash(a)


def test_selects_all_only_without_criteria() -> None:
    assert build_filter(None).selects_all
    assert build_filter({"name": []}).selects_all  # an empty value list rejects nothing
    for flt in ({"name": ["x"]}, {"driver": ["local"]}, {"label": ["k"]},
                {"label!": ["k"]}, {"dangling": ["false"]}):
        assert not build_filter(flt).selects_all, flt


def test_used_by_is_a_list_key_and_until_a_prune_key() -> None:
    flt = build_filter({"used-by": ["/web", "abc123"]})
    assert flt.used_by == ("web", "abc123")  # a leading "/" of a container name dropped
    assert build_filter({"until": ["24h"]}, prune=True).until == ("24h",)
    with pytest.raises(InvalidParameterError, match="Invalid filter 'until'"):
        build_filter({"until": ["24h"]})
    with pytest.raises(InvalidParameterError, match="Invalid filter 'used-by'"):
        build_filter({"used-by": ["x"]}, prune=True)
    assert parse_filter_args(["USED-BY=c1"]) == {"used-by": ["c1"]}
