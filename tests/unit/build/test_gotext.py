"""The classic builder's history texts in Go's formatting (orlop.build.gotext), each
checked against what Go's fmt/strconv/time print for the same value."""

from __future__ import annotations

from orlop.build.gotext import (
    go_duration,
    go_list,
    go_quote_list,
    go_quote_rune,
    healthcheck_text,
)


def test_lists_as_go_prints_them() -> None:
    assert go_list(["/bin/sh", "-c"]) == "[/bin/sh -c]"
    assert go_list([]) == go_list(None) == "[]"
    assert go_quote_list(["sh", "-c", 'echo "q" \\ \t\x01é']) == \
        '["sh" "-c" "echo \\"q\\" \\\\ \\t\\x01é"]'
    assert go_quote_list(None) == "[]"


def test_durations_as_time_duration_string() -> None:
    s = 1_000_000_000
    cases = {0: "0s", 5 * s: "5s", 90 * s: "1m30s", 3600 * s: "1h0m0s",
             3 * s // 2: "1.5s", 61 * s + s // 2: "1m1.5s", 500_000_000: "500ms",
             1_500: "1.5µs", 7: "7ns", -2 * s: "-2s", 26 * 3600 * s + 1: "26h0m0.000000001s"}
    for ns, text in cases.items():
        assert go_duration(ns) == text, ns


def test_runes_and_the_healthcheck_struct() -> None:
    assert [go_quote_rune(n) for n in (0, 3, 7, 65, 39, 34)] == \
        ["'\\x00'", "'\\x03'", "'\\a'", "'A'", "'\\''", "'\"'"]
    assert healthcheck_text({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000}) == \
        '&{["CMD-SHELL" "true"] "5s" "0s" "0s" \'\\x00\'}'
    assert healthcheck_text({"Test": ["NONE"]}) == '&{["NONE"] "0s" "0s" "0s" \'\\x00\'}'
