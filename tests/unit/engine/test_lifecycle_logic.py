"""Pure logic of the container lifecycle: signals, restart policy, log format and
rotation, log options, capabilities (no root needed)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from orlop.engine.containers.lifecycle import parse_signal
from orlop.engine.containers.logs import parse_since, parse_size, read_entries, validate_log_opts
from orlop.engine.containers.monitor import restart_delay, should_restart
from orlop.engine.containers.runner import effective_caps
from orlop.engine.containers.watch import JsonLog
from orlop.errors import InvalidParameterError


@pytest.mark.parametrize("text", ["9", "KILL", "SIGKILL", "kill", "sigkill"])
def test_parse_signal_names_and_numbers_sigkill(text: str) -> None:
    assert parse_signal(text) == signal.SIGKILL


def test_parse_signal_realtime_offsets() -> None:
    assert parse_signal("SIGRTMIN+3") == signal.SIGRTMIN + 3


@pytest.mark.parametrize("text", ["FOO", "SIGFOO", "0", "999", "-1", ""])
def test_parse_signal_unknown_raises_docker_text(text: str) -> None:
    with pytest.raises(InvalidParameterError, match=f"Invalid signal: {text}"):
        parse_signal(text)


@pytest.mark.parametrize(("policy", "code", "count", "stopped", "want"), [
    ({"Name": "no"}, 1, 0, False, False),
    ({"Name": "always"}, 0, 5, False, True),
    ({"Name": "always"}, 0, 0, True, False),
    ({"Name": "unless-stopped"}, 1, 0, False, True),
    ({"Name": "on-failure", "MaximumRetryCount": 0}, 1, 99, False, True),
    ({"Name": "on-failure", "MaximumRetryCount": 2}, 1, 2, False, False),
    ({"Name": "on-failure", "MaximumRetryCount": 2}, 1, 1, False, True),
    ({"Name": "on-failure"}, 0, 0, False, False),
])
def test_should_restart_policy_table(policy: dict[str, object], code: int, count: int,
                                     stopped: bool, want: bool) -> None:
    assert should_restart(policy, code, count, stopped) is want


def test_restart_delay_doubles_caps_and_resets_after_long_run() -> None:
    assert restart_delay(0, 0.1) == pytest.approx(0.1)
    assert restart_delay(3, 0.1) == pytest.approx(0.8)
    assert restart_delay(50, 0.1) == 10.0
    assert restart_delay(50, 30.0) == pytest.approx(0.1)


def test_json_log_lines_partial_and_docker_format(tmp_path: Path) -> None:
    path = tmp_path / "c-json.log"
    log = JsonLog(str(path), 0, 1)
    log.feed("stdout", b"one\ntw")
    log.feed("stdout", b"o\n")
    log.feed("stderr", b"no newline")
    log.close()
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["log"], r["stream"]) for r in recs] == [
        ("one\n", "stdout"), ("two\n", "stdout"), ("no newline", "stderr")]
    assert all(r["time"].endswith("Z") for r in recs)
    assert path.read_text().startswith('{"log":"one\\n","stream":"stdout","time":"')


def test_json_log_long_line_split_at_16k(tmp_path: Path) -> None:
    path = tmp_path / "l.log"
    log = JsonLog(str(path), 0, 1)
    log.feed("stdout", b"x" * 40000 + b"\n")
    log.close()
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    assert [len(r["log"]) for r in recs] == [16384, 16384, 40000 - 32768 + 1]


def test_json_log_rotation_keeps_max_file_files(tmp_path: Path) -> None:
    path = tmp_path / "r.log"
    log = JsonLog(str(path), 500, 3)
    for i in range(100):
        log.feed("stdout", f"line{i}\n".encode())
    log.close()
    assert path.stat().st_size <= 500
    assert (tmp_path / "r.log.1").exists() and (tmp_path / "r.log.2").exists()
    assert not (tmp_path / "r.log.3").exists()
    lines = [e.data.decode() for e in read_entries(path)]
    assert lines[-1] == "line99\n"
    assert lines == [f"line{i}\n" for i in range(100 - len(lines), 100)]
    assert [e.data for e in read_entries(path, tail=2)] == [b"line98\n", b"line99\n"]


def test_json_log_max_file_one_truncates(tmp_path: Path) -> None:
    path = tmp_path / "t.log"
    log = JsonLog(str(path), 300, 1)
    for i in range(50):
        log.feed("stdout", f"l{i}\n".encode())
    log.close()
    assert path.stat().st_size <= 300 and not (tmp_path / "t.log.1").exists()


@pytest.mark.parametrize(("text", "value"), [
    ("10m", 10 << 20), ("1k", 1024), ("512", 512), ("1.5g", 3 << 29), ("2MB", 2 << 20)])
def test_parse_size_binary_units(text: str, value: int) -> None:
    assert parse_size(text) == value


def test_log_opts_validation_docker_texts() -> None:
    assert validate_log_opts({"max-size": "1m", "max-file": "3"})
    with pytest.raises(InvalidParameterError, match="max-file cannot be less than 1"):
        validate_log_opts({"max-size": "1m", "max-file": "0"})
    with pytest.raises(InvalidParameterError, match="unknown log opt 'foo'"):
        validate_log_opts({"foo": "1"})
    # dockerd 20.10 accepts max-file alone (issue 15): nothing rotates without max-size.
    assert validate_log_opts({"max-file": "3"}) == {"max-file": "3"}


def test_parse_since_forms() -> None:
    assert parse_since("10m", now=1000.0) == 400.0
    assert parse_since("1h30m", now=10000.0) == 10000.0 - 5400
    assert parse_since("1700000000") == 1700000000.0
    assert parse_since("2024-01-01T00:00:00Z") == 1704067200.0
    with pytest.raises(InvalidParameterError):
        parse_since("yesterday")


def test_effective_caps_add_drop_all() -> None:
    default = ["CAP_CHOWN", "CAP_KILL"]
    assert effective_caps(default, ["net_admin"], ["chown"]) == ["CAP_KILL", "CAP_NET_ADMIN"]
    assert effective_caps(default, ["CAP_KILL"], ["ALL"]) == ["CAP_KILL"]
    assert "CAP_SYS_ADMIN" in effective_caps(default, ["ALL"], [])
