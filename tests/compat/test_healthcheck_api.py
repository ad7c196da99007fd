"""Healthchecks through orlopd (issue 15): docker-compose 1.29's ``depends_on:
condition: service_healthy`` waits for the first service's healthcheck; the docker CLI's
--health-* flags arrive as Config.Healthcheck; dockerd's 400s for bad values."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

from .conftest import Server

COMPOSE = """\
version: "2.4"
services:
  db:
    image: busybox
    command: sh -c "sleep 2; touch /tmp/ready; trap 'exit 0' TERM; while true; do sleep 0.1; done"
    healthcheck:
      test: ["CMD", "test", "-e", "/tmp/ready"]
      interval: 1s
      timeout: 2s
      retries: 10
  app:
    image: busybox
    command: sh -c "echo started; trap 'exit 0' TERM; while true; do sleep 0.1; done"
    depends_on:
      db:
        condition: service_healthy
"""


def _compose(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed (scripts/setup.sh installs it)")
    env = {**os.environ, "DOCKER_HOST": server.host, "COMPOSE_INTERACTIVE_NO_CLI": "1"}
    return subprocess.run([exe, "-p", "hp", *args], cwd=server.dir / "app", env=env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_compose_service_healthy_waits_for_the_healthcheck(bbd: Server) -> None:
    app = bbd.dir / "app"
    app.mkdir()
    (app / "docker-compose.yml").write_text(COMPOSE)
    t0 = time.monotonic()
    res = _compose(bbd, "up", "-d")
    took = time.monotonic() - t0
    try:
        assert res.returncode == 0, res.stderr
        assert took > 2  # app was created only once db was healthy
        health = json.loads(bbd.ok("inspect", "-f", "{{json .State.Health}}", "hp_db_1"))
        assert health["Status"] == "healthy"
        db_start = bbd.ok("inspect", "-f", "{{.State.StartedAt}}", "hp_db_1").strip()
        app_start = bbd.ok("inspect", "-f", "{{.State.StartedAt}}", "hp_app_1").strip()
        assert app_start > db_start
        last_db_log = health["Log"][-1]["End"]
        assert app_start > health["Log"][0]["Start"] and last_db_log
        assert "(healthy)" in bbd.ok("ps", "--filter", "name=hp_db_1",
                                     "--format", "{{.Status}}")
    finally:
        assert _compose(bbd, "down").returncode == 0


def test_docker_cli_health_flags_and_api_errors(bbd: Server) -> None:
    cid = bbd.ok("run", "-d", "--health-cmd", "true", "--health-interval", "1s",
                 "--health-start-period", "2s", "busybox", "sleep", "60").strip()
    try:
        cfg = json.loads(bbd.ok("inspect", "-f", "{{json .Config.Healthcheck}}", cid))
        assert cfg == {"Test": ["CMD-SHELL", "true"], "Interval": 1_000_000_000,
                       "StartPeriod": 2_000_000_000}
        deadline = time.monotonic() + 15
        while "(healthy)" not in bbd.ok("ps", "--format", "{{.Status}}"):
            assert time.monotonic() < deadline
            time.sleep(0.3)
        assert bbd.ok("ps", "-q", "--filter", "health=healthy").strip() == cid[:12]
    finally:
        bbd.docker("rm", "-f", cid)
    for hc, message in (({"Test": ["CMD", "true"], "Interval": 5}, "Interval in Healthcheck "
                         "cannot be less than 1ms"),
                        ({"Test": ["CMD", "true"], "Retries": -1}, "Retries in Healthcheck "
                         "cannot be negative")):
        status, _, body = bbd.raw("POST", "/v1.41/containers/create", json.dumps(
            {"Image": "busybox", "Cmd": ["true"], "Healthcheck": hc}).encode(),
            {"Content-Type": "application/json"})
        assert (status, json.loads(body)["message"]) == (400, message)
