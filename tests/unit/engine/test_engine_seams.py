"""The seams of the engine split (no root needed): a create parses each mount flag
once, an attach follows the log from the moment it was made, and orlopd's attached
sessions write the container's log with the monitor's writer."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import pytest

from orlop.config import EngineConfig
from orlop.engine.containers import mountpoints
from orlop.engine.containers.attach import MonitorAttach
from orlop.engine.containers.monitor import log_limits, log_path, open_log
from orlop.engine.models import Container
from orlop.engine.runoptions import RunOptions


class _Volume:
    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.driver = "local"
        self.mountpoint = root / name


class _Volumes:
    """A VolumeMaker that makes nothing on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: list[str] = []

    def ensure(self, name: str | None = None, driver: str = "local",
               options: Mapping[str, str] | None = None,
               labels: Mapping[str, str] | None = None, *, anonymous: bool = False
               ) -> tuple[Any, bool]:
        assert name
        self.made.append(name)
        return _Volume(name, self.root), True

    def remove(self, name: str, force: bool = False) -> None:
        self.made.remove(name)


def test_create_parses_and_validates_each_volume_flag_once(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = mountpoints.parse_volume_flag

    def counting(raw: str, cwd: str) -> Any:
        calls.append(raw)
        return real(raw, cwd)

    monkeypatch.setattr(mountpoints, "parse_volume_flag", counting)
    from orlop.mounts import parser

    checked: list[str] = []
    real_check = parser.validate_mount_spec

    def counting_check(spec: Any) -> None:
        checked.append(spec.raw)
        real_check(spec)

    monkeypatch.setattr(parser, "validate_mount_spec", counting_check)
    opts = RunOptions(image="busybox", volumes=["data:/data", "/srv:/srv:ro"],
                      cwd=str(tmp_path))
    specs = mountpoints.parse_user_specs(opts, tmp_path / "root")
    vols = _Volumes(tmp_path)
    plan = mountpoints.register_mount_points(vols, specs, [], [])
    assert calls == ["data:/data", "/srv:/srv:ro"]  # registration parses nothing again
    assert checked == calls  # and each parse validates once
    assert [p.destination for p in plan.points] == ["/data", "/srv"]
    assert vols.made == ["data"]
    assert plan.binds == ["data:/data", "/srv:/srv:ro"]


def _config(tmp_path: Path) -> EngineConfig:
    return EngineConfig.from_env(str(tmp_path / "root"), str(tmp_path / "run"))


def _container(cid: str, log_config: dict[str, Any]) -> Container:
    """What the log writer reads of a container: its id and log options."""
    from types import SimpleNamespace

    return cast(Container, SimpleNamespace(
        id=cid, host_config=SimpleNamespace(log_config=log_config)))


def _record(text: str, stream: str = "stdout") -> bytes:
    return json.dumps({"log": text, "stream": stream,
                       "time": "2026-01-01T00:00:00.000000000Z"}).encode() + b"\n"


def test_attach_follows_from_the_attach_on(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    cid = "a" * 64
    path = log_path(cfg, cid)
    path.parent.mkdir(parents=True)
    path.write_bytes(_record("before\n"))
    att = MonitorAttach(cfg, cid)
    with open(path, "ab") as f:
        f.write(_record("after\n", "stderr"))
    # No monitor holds the container: the follow ends once what is there is read.
    got = [(e.stream, e.data) for e in att.output()]
    assert got == [("stderr", b"after\n")]
    with pytest.raises(ValueError):
        att.output()
    att.close()


def test_attach_input_is_the_monitors_fifo(tmp_path: Path) -> None:
    import os

    cfg = _config(tmp_path)
    cid = "b" * 64
    path = log_path(cfg, cid)
    path.parent.mkdir(parents=True)
    path.touch()
    att = MonitorAttach(cfg, cid)
    att.fifo.parent.mkdir(parents=True)
    os.mkfifo(att.fifo)
    r = os.open(att.fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        w = att.open_input()
        os.write(w, b"hi\n")
        os.close(w)
        assert os.read(r, 10) == b"hi\n"
    finally:
        os.close(r)
        att.close()


def test_session_log_uses_the_monitors_writer(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    cid = "c" * 64
    c = _container(cid, {"Type": "json-file", "Config": {"max-size": "1k", "max-file": "2"}})
    assert log_limits(c) == (1024, 2)
    log_path(cfg, cid).parent.mkdir(parents=True)
    log = open_log(cfg, c)
    log.feed("stdout", b"one\ntw")
    log.feed("stdout", b"o\n")
    log.feed("stderr", b"partial")
    log.close()
    lines = [json.loads(x) for x in log_path(cfg, cid).read_text().splitlines()]
    assert [(r["stream"], r["log"]) for r in lines] == [
        ("stdout", "one\n"), ("stdout", "two\n"), ("stderr", "partial")]
