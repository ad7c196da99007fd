"""A pytest plugin loaded (``-p dockerpy_plugin``) into the pytest that runs docker-py's own
integration suite (tests/compat/dockerpy_suite/) against orlopd; Orlop's runner is
tests/compat/test_dockerpy_suite.py.

All adaptation of the vendored, unmodified suite lives here and in the runner:

- the images the suite expects (``alpine:3.10``, ``alpine``, ``busybox``, ``hello-world``)
  are one local busybox image under several names; a test that removes one of those names
  (docker-py's own image tests do, then pull it back from Docker Hub) would break every
  later test, so before each test the missing names are tagged again, as the pull that
  restores them in docker-py's CI would;
- each test's outcome is written as one JSON line to ``$ORLOP_DOCKERPY_REPORT`` (node id,
  outcome, the last lines of the failure, seconds taken), which the runner compares with
  the list of expected failures.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

# The names the suite uses for its images, all one busybox image (the runner loads it).
IMAGE_NAMES = ("alpine:3.10", "alpine:latest", "busybox:latest", "hello-world:latest")


@pytest.fixture(autouse=True)
def _orlop_images_present() -> Iterator[None]:
    base = os.environ.get("ORLOP_DOCKERPY_IMAGE")
    if base:
        import docker
        from docker.utils import kwargs_from_env

        c = docker.APIClient(version="auto", **kwargs_from_env())
        try:
            have = {t for img in c.images() for t in (img.get("RepoTags") or [])}
            for name in IMAGE_NAMES:
                if name not in have:
                    repo, tag = name.split(":")
                    c.tag(base, repo, tag)
        finally:
            c.close()
    yield None


_outcomes: dict[str, dict[str, Any]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entry = _outcomes.setdefault(report.nodeid, {"nodeid": report.nodeid,
                                                 "outcome": "passed", "message": "",
                                                 "duration": 0.0})
    entry["duration"] = round(entry["duration"] + report.duration, 3)
    if report.failed:
        entry["outcome"] = "failed" if report.when == "call" else "error"
        text = report.longreprtext.strip().splitlines()
        entry["message"] = "\n".join(text[-12:])
    elif report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"
    if report.when == "teardown":
        path = os.environ.get("ORLOP_DOCKERPY_REPORT")
        if path:
            with open(path, "a") as f:
                f.write(json.dumps(entry) + "\n")
