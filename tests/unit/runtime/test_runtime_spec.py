"""The spec classes: round trip, Docker's defaults, tolerance of other tools' keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orlop.kernel.caps import cap_mask
from orlop.runtime.spec import Mount, Spec, default_spec


def test_default_spec_caps_are_dockers_mask() -> None:
    caps = default_spec().process.capabilities
    assert caps is not None
    for name in ("bounding", "effective", "permitted"):
        assert cap_mask(getattr(caps, name)) == 0xA80425FB
    assert caps.inheritable == [] and caps.ambient == []


def test_default_spec_docker_paths_mounts_namespaces() -> None:
    s = default_spec(["true"])
    assert "/proc/kcore" in s.linux.masked_paths
    assert "/sys/devices/virtual/powercap" in s.linux.masked_paths
    assert s.linux.readonly_paths == ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                      "/proc/sysrq-trigger"]
    assert [m.destination for m in s.mounts] == [
        "/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue", "/dev/shm"]
    assert sorted(n.type for n in s.linux.namespaces) == ["ipc", "mount", "network", "pid",
                                                           "uts"]
    assert s.process.no_new_privileges is True
    assert s.process.args == ["true"]


def test_spec_round_trip_is_identity() -> None:
    s = default_spec(["sh", "-c", "echo hi"])
    s.hostname = "box"
    s.annotations["org.orlop.overlay.lowerdir"] = "/a:/b"
    s.mounts.append(Mount("/data", "bind", "/srv/data", ["rbind", "rro", "rprivate"]))
    s.process.user.additional_gids = [10, 20]
    d = s.to_dict()
    assert Spec.from_dict(json.loads(json.dumps(d))) == s
    assert Spec.from_dict(d).to_dict() == d
    assert d["process"]["noNewPrivileges"] is True
    assert d["linux"]["maskedPaths"] == s.linux.masked_paths


def test_spec_keeps_unknown_keys_of_other_tools(tmp_path: Path) -> None:
    raw = {"ociVersion": "1.0.0", "root": {"path": "rootfs"},
           "process": {"args": ["sh"], "cwd": "/", "rlimits": [
               {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}], "apparmorProfile": "x"},
           "linux": {"resources": {"devices": [{"allow": False, "access": "rwm"}]},
                     "namespaces": [{"type": "pid"}, {"type": "network", "path": "/x"}]},
           "hooks": {}}
    p = tmp_path / "config.json"
    p.write_text(json.dumps(raw))
    s = Spec.load(p)
    assert s.linux.namespace("network") is not None
    assert s.linux.namespace("network").path == "/x"  # type: ignore[union-attr]
    assert s.process.rlimits is not None and s.process.rlimits[0].soft == 1024
    s.save(p)
    again = json.loads(p.read_text())
    assert again["hooks"] == {} and again["linux"]["resources"] == raw["linux"]["resources"]
    assert again["process"]["apparmorProfile"] == "x"


def test_spec_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        Spec.from_dict({"process": {}})
    with pytest.raises(ValueError):
        Spec.from_dict({"root": {"path": "r"}, "mounts": [{"destination": "relative"}]})
    with pytest.raises(ValueError):
        Spec.from_dict({"root": {"path": "r"}, "linux": {"namespaces": [{"type": "bogus"}]}})


def test_process_getenv_last_wins() -> None:
    s = default_spec()
    s.process.env = ["PATH=/a", "X=1", "PATH=/b"]
    assert s.process.getenv("PATH") == "/b"
    assert s.process.getenv("NOPE") is None
