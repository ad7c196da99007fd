"""watch.py writes Docker's json-file lines without the json module (the idle monitor's
memory): its encoder must give exactly json.dumps's bytes, and its arguments must
round-trip through monitor.py's watch_argv."""

from __future__ import annotations

import json
import py_compile
import random
import subprocess
import sys
from pathlib import Path

import pytest

from orlop.engine.containers.monitor import watch_argv
from orlop.engine.containers.watch import json_line, parse_argv

_SAMPLES = ["plain line\n", "no newline", "", "\n", 'quote " and \\ backslash\n',
            "tab\there\r\n", "ctl \x00\x01\x1f\x7f end", "utf-8 é ü 日本 \U0001f600\n",
            "\ufffd replaced", "line sep \u2028 \u2029 nbsp \xa0 shy \xad\n", "\b\f"]


def _reference(log: str, stream: str, stamp: str) -> bytes:
    record = {"log": log, "stream": stream, "time": stamp}
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


@pytest.mark.parametrize("text", _SAMPLES)
def test_json_line_is_json_dumps(text: str) -> None:
    stamp = "2026-12-07T15:00:00.123456789Z"
    assert json_line(text, "stdout", stamp) == _reference(text, "stdout", stamp)


def test_json_line_random_text_is_json_dumps() -> None:
    rng = random.Random(17)
    alphabet = [chr(i) for i in range(0x80)] + ["é", "\u2028", "\ufffd", "日", "\U0001f600"]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        assert json_line(text, "stderr", "t") == _reference(text, "stderr", "t"), repr(text)


def test_watch_arguments_round_trip() -> None:
    args = {"pid": 42, "log_path": "/var/lib/x=y/c-json.log", "max_size": -1,
            "max_file": 1, "out_fd": 5, "err_fd": 6}
    finish = ["/usr/bin/python3", "-I", "-c", "code --", "--", "a=b"]
    parsed, rest = parse_argv(watch_argv(args, finish))
    assert parsed == {k: str(v) for k, v in args.items()}
    assert rest == finish


def test_watch_script_runs_the_bytecode_only_while_it_is_current(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from orlop.engine.containers import monitor

    script = tmp_path / "watch.py"
    script.write_text("x = 1\n")
    monkeypatch.setattr(monitor, "WATCH_SCRIPT", script)
    assert monitor.watch_script() == [str(script)]  # no bytecode yet
    cached = py_compile.compile(str(script), doraise=True)
    assert monitor.watch_script() == ["-c", monitor._WATCH_LOADER, str(script), cached]
    script.write_text("x = 22\n")  # changed (size): the bytecode is stale
    assert monitor.watch_script() == [str(script)]
    py_compile.compile(str(script), doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    assert monitor.watch_script() == [str(script)]  # hash-based: not checked here


def test_watch_loader_runs_the_bytecode_as_the_script(tmp_path: Path) -> None:
    from orlop.engine.containers import monitor

    script = tmp_path / "watch.py"
    script.write_text("import sys\nprint(__name__, __file__ == sys.argv[0], sys.argv[1:])\n")
    cached = py_compile.compile(str(script), doraise=True)
    script.write_text("print('the source ran')\n")  # the loader must not read it
    out = subprocess.run([sys.executable, "-I", "-S", "-c", monitor._WATCH_LOADER,
                          str(script), cached, "pid=1", "--", "x"],
                         capture_output=True, text=True, check=True).stdout
    assert out == "__main__ True ['pid=1', '--', 'x']\n"
