"""Healthchecks run by the container's monitor, without a daemon (issue 15)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from harness import Orlop

# Detached containers are removed before the root goes (harness.py).
pytestmark = pytest.mark.usefixtures("no_leftover_containers")


def _health(o: Orlop, name: str) -> dict[str, object]:
    out = o.ok("inspect", "-f", "{{json .State.Health}}", name).strip()
    return json.loads(out) if out != "null" else {}


def _until(o: Orlop, name: str, status: str, timeout: float = 20) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        h = _health(o, name)
        if h.get("Status") == status:
            return h
        assert time.monotonic() < deadline, h
        time.sleep(0.3)


def test_health_cmd_starting_unhealthy_healthy_ps_filter_events(bb: Orlop) -> None:
    bb.ok("run", "-d", "--name", "hc", "--health-cmd", "cat /tmp/ok",
          "--health-interval", "1s", "--health-retries", "2", "busybox", "sleep", "100")
    assert _health(bb, "hc")["Status"] == "starting"
    assert bb.ok("ps", "--format", "{{.Status}}").strip().endswith("(health: starting)")
    h = _until(bb, "hc", "unhealthy")
    assert h["FailingStreak"] >= 2
    entry = h["Log"][-1]  # type: ignore[index]
    assert entry["ExitCode"] == 1 and "No such file" in entry["Output"]
    assert set(entry) == {"Start", "End", "ExitCode", "Output"}
    assert bb.ok("ps", "--format", "{{.Status}}").strip().endswith("(unhealthy)")
    assert bb.ok("ps", "-q", "--filter", "health=unhealthy") != ""
    assert bb.ok("ps", "-q", "--filter", "health=healthy") == ""
    bb.ok("exec", "hc", "sh", "-c", "echo fine > /tmp/ok")
    h = _until(bb, "hc", "healthy")
    assert h["FailingStreak"] == 0
    assert h["Log"][-1]["Output"] == "fine\n"  # type: ignore[index]
    time.sleep(4)
    assert len(_health(bb, "hc")["Log"]) == 5  # type: ignore[arg-type]
    assert bb.ok("ps", "--format", "{{.Status}}").strip().endswith("(healthy)")
    assert bb.ok("ps", "-q", "--filter", "health=healthy") != ""
    events = bb.ok("events", "--since", "1m", "--until", "0s", "--filter",
                   "container=hc", "--format", "{{.Action}}").split("\n")
    assert "health_status: unhealthy" in events and "health_status: healthy" in events
    res = bb("ps", "--filter", "health=bogus")
    assert res.returncode != 0 and "Unrecognised filter value for health: bogus" in res.stderr
    cfg = json.loads(bb.ok("inspect", "-f", "{{json .Config.Healthcheck}}", "hc"))
    assert cfg == {"Test": ["CMD-SHELL", "cat /tmp/ok"], "Interval": 1_000_000_000,
                   "Retries": 2}


def test_health_timeout_start_period_and_no_healthcheck(bb: Orlop) -> None:
    bb.ok("run", "-d", "--name", "slow", "--health-cmd", "sleep 5", "--health-interval",
          "1s", "--health-timeout", "500ms", "--health-retries", "1", "busybox",
          "sleep", "100")
    h = _until(bb, "slow", "unhealthy")
    assert h["Log"][0]["ExitCode"] == -1  # type: ignore[index]
    assert "Health check exceeded timeout" in h["Log"][0]["Output"]  # type: ignore[index]
    bb.ok("run", "-d", "--name", "grace", "--health-cmd", "false", "--health-interval",
          "1s", "--health-retries", "1", "--health-start-period", "60s", "busybox",
          "sleep", "100")
    time.sleep(3.5)
    h = _health(bb, "grace")
    assert h["Status"] == "starting" and h["FailingStreak"] == 0 and h["Log"]
    bb.ok("run", "-d", "--name", "none", "--no-healthcheck", "busybox", "sleep", "100")
    assert _health(bb, "none") == {}
    assert bb.ok("ps", "-q", "--filter", "health=none", "--filter", "name=none") != ""
    res = bb("run", "--no-healthcheck", "--health-cmd", "true", "busybox", "true")
    assert res.returncode == 125
    assert "--no-healthcheck conflicts with --health-* options" in res.stderr
    res = bb("run", "--health-interval=-1s", "busybox", "true")
    assert res.returncode == 125 and "--health-interval cannot be negative" in res.stderr
    res = bb("run", "--health-interval", "soon", "busybox", "true")
    assert res.returncode == 125 and 'time: invalid duration "soon"' in res.stderr
    # Stopped: moby marks the health unhealthy; a restart starts over.
    bb.ok("stop", "-t", "0", "grace")
    assert _health(bb, "grace")["Status"] == "unhealthy"
    bb.ok("start", "grace")
    assert _health(bb, "grace") == {"Status": "starting", "FailingStreak": 0, "Log": []}


def test_foreground_container_is_probed_too(bb: Orlop) -> None:
    """The foreground CLI is the monitor of `run` without -d: its container is probed
    as a detached one is."""
    res = bb("run", "--name", "fg", "--health-cmd", "echo probed", "--health-interval",
             "1s", "busybox", "sleep", "3")
    assert res.returncode == 0, res.stderr
    h = _health(bb, "fg")
    assert h["Log"] and h["Log"][0]["Output"] == "probed\n"  # type: ignore[index]
    assert h["Status"] == "unhealthy"  # stopped (moby's SetStopped)


def _image_with_healthcheck(o: Orlop, tmp: Path, hc: dict[str, object]) -> None:
    """busybox saved, its config given ``Healthcheck``, loaded back as hc:1."""
    import hashlib
    import io
    import tarfile

    o.ok("save", "-o", str(tmp / "bb.tar"), "busybox")
    files: dict[str, tuple[tarfile.TarInfo, bytes]] = {}
    with tarfile.open(tmp / "bb.tar") as tf:
        for m in tf.getmembers():
            f = tf.extractfile(m) if m.isfile() else None
            files[m.name] = (m, f.read() if f else b"")
    manifest = json.loads(files["manifest.json"][1])
    cfg = json.loads(files[manifest[0]["Config"]][1])
    cfg["config"]["Healthcheck"] = hc
    data = json.dumps(cfg).encode()
    name = f"blobs/sha256/{hashlib.sha256(data).hexdigest()}"
    del files[manifest[0]["Config"]]
    manifest[0]["Config"], manifest[0]["RepoTags"] = name, ["hc:1"]
    files.pop("index.json", None)
    files.pop("oci-layout", None)
    with tarfile.open(tmp / "hc.tar", "w") as tf:
        for path, (info, body) in [*files.items(), (name, (tarfile.TarInfo(name), data)),
                                   ("manifest.json", (tarfile.TarInfo("manifest.json"),
                                                      json.dumps(manifest).encode()))]:
            if path == "manifest.json" and info.size != len(body):
                info = tarfile.TarInfo(path)
            info.size = len(body) if info.isfile() else 0
            tf.addfile(info, io.BytesIO(body) if info.isfile() else None)
    o.ok("load", "-i", str(tmp / "hc.tar"))


def test_image_healthcheck_is_used_merged_and_disabled(bb: Orlop,
                                                        tmp_orlop_dir: Path) -> None:
    _image_with_healthcheck(bb, tmp_orlop_dir, {
        "Test": ["CMD-SHELL", "echo from-image"], "Interval": 1_000_000_000, "Retries": 4})
    bb.ok("run", "-d", "--name", "img", "hc:1", "sleep", "60")
    h = _until(bb, "img", "healthy")
    assert h["Log"][0]["Output"] == "from-image\n"  # type: ignore[index]
    # The container's command over the image's, the image's interval and retries kept.
    bb.ok("run", "-d", "--name", "mine", "--health-cmd", "echo mine", "hc:1", "sleep", "60")
    cfg = json.loads(bb.ok("inspect", "-f", "{{json .Config.Healthcheck}}", "mine"))
    assert cfg == {"Test": ["CMD-SHELL", "echo mine"], "Interval": 1_000_000_000,
                   "Retries": 4}
    bb.ok("run", "-d", "--name", "off", "--no-healthcheck", "hc:1", "sleep", "60")
    assert _health(bb, "off") == {}
    assert "(health" not in bb.ok("ps", "--filter", "name=off", "--format", "{{.Status}}")


def test_probe_that_cannot_start_is_logged_as_dockerd_does(bb: Orlop,
                                                           tmp_orlop_dir: Path) -> None:
    """A probe command that cannot be started is dockerd's probe error (moby
    daemon/health.go): ExitCode -1 and the exec start's error as Output, not the 126
    and "\\r\\n"-ended message of `exec`; a shell form whose command is missing is the
    shell's own failure (127)."""
    _image_with_healthcheck(bb, tmp_orlop_dir, {
        "Test": ["CMD", "/nosuch"], "Interval": 1_000_000_000, "Retries": 1})
    bb.ok("run", "-d", "--name", "nostart", "hc:1", "sleep", "60")
    bb.ok("run", "-d", "--name", "shell", "--health-cmd", "/nosuch", "--health-interval",
          "1s", "--health-retries", "1", "busybox", "sleep", "60")
    entry = _until(bb, "nostart", "unhealthy")["Log"][0]  # type: ignore[index]
    assert entry["ExitCode"] == -1
    assert entry["Output"] == ('OCI runtime exec failed: exec failed: unable to start '
                               'container process: exec: "/nosuch": stat /nosuch: no such '
                               'file or directory: unknown')
    entry = _until(bb, "shell", "unhealthy")["Log"][0]  # type: ignore[index]
    assert entry["ExitCode"] == 127 and "/nosuch: not found" in entry["Output"]
    # The probe that failed is still an exec, with its exec_create event as in dockerd
    # (`--until 0s` counts whole seconds: the event may be of the current one).
    deadline = time.monotonic() + 5
    while True:
        actions = bb.ok("events", "--since", "1m", "--until", "0s", "--filter",
                        "container=nostart", "--format", "{{.Action}}").split("\n")
        if "exec_create: /nosuch " in actions or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert "exec_create: /nosuch " in actions
