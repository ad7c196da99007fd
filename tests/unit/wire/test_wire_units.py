"""wire/: one Status text for every list entry, --mount crossing the API once as a typed
spec, and the container record keeping those specs (and reading records written before)."""

from __future__ import annotations

import json

import pytest

from orlop.engine.models import Container, ContainerConfig, HostConfig
from orlop.engine.runoptions import RunOptions
from orlop.mounts.parser import parse_mount_flag
from orlop.wire.create import create_body, run_options
from orlop.wire.inspect import _host_mounts
from orlop.wire.mounts import to_api_mount
from orlop.wire.summary import status_text

NOW = 1_700_000_000.0
T0 = "2023-11-14T22:13:00Z"  # NOW - 20 s


def _container(status: str, exit_code: int = 0, finished_at: str = T0) -> Container:
    cfg = ContainerConfig(hostname="h", user="", env=[], cmd=None, entrypoint=None,
                          image="busybox", working_dir="", volumes=None, labels={})
    hc = HostConfig(binds=None, mounts=None, tmpfs=None, volumes_from=None,
                    network_mode="default", auto_remove=False, runtime="")
    return Container(id="c" * 64, name="n", image_id="sha256:" + "a" * 64,
                     image_ref="busybox", created=T0, config=cfg, host_config=hc,
                     status=status, pid=0, exit_code=exit_code, started_at=T0,
                     finished_at=finished_at, error="", runtime="crun")


@pytest.mark.parametrize(("status", "code", "finished", "want"), [
    ("running", 0, T0, "Up 20 seconds"),
    ("paused", 0, T0, "Up 20 seconds (Paused)"),
    ("restarting", 3, T0, "Restarting (3) 20 seconds ago"),
    ("exited", 1, T0, "Exited (1) 20 seconds ago"),
    ("exited", 0, "0001-01-01T00:00:00Z", "Exited (0)"),
    ("created", 0, T0, "Created"),
    ("removing", 0, T0, "Removal In Progress"),
    ("dead", 0, T0, "Dead"),
])
def test_status_text_docker_ps_text_for_every_state(status, code, finished, want):
    assert status_text(_container(status, code, finished), NOW) == want


MOUNTS = [
    "type=bind,src=/h,dst=/b,readonly,bind-propagation=rslave",
    "type=volume,src=vol1,dst=/v,volume-nocopy,volume-label=a=b,volume-opt=o=1",
    "type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770",
]


def test_create_body_then_run_options_mount_specs_cross_once_unchanged():
    specs = [parse_mount_flag(raw, "/w") for raw in MOUNTS]
    body = json.loads(json.dumps(create_body(RunOptions(image="busybox", mount_specs=specs))))
    back = run_options(body, "")
    assert [to_api_mount(s) for s in back.mount_specs] == [to_api_mount(s) for s in specs]
    assert body["HostConfig"]["Mounts"] == [to_api_mount(s) for s in specs]


def test_host_config_record_keeps_typed_mount_specs():
    specs = [parse_mount_flag(raw, "/w") for raw in MOUNTS]
    hc = HostConfig(binds=None, mounts=specs, tmpfs=None, volumes_from=None,
                    network_mode="default", auto_remove=False, runtime="")
    back = HostConfig.from_json(hc.to_json())
    assert back.mounts == specs
    assert back.legacy_api_mounts is None
    assert _host_mounts(back) == [to_api_mount(s) for s in specs]


def test_host_config_old_record_docker_mounts_shown_and_kept_as_recorded():
    old = [{"Type": "bind", "Source": "/h", "Target": "/b", "ReadOnly": True}]
    hc = HostConfig(binds=None, mounts=None, tmpfs=None, volumes_from=None,
                    network_mode="default", auto_remove=False, runtime="")
    text = json.loads(hc.to_json())
    text["mounts"] = old
    back = HostConfig.from_json(json.dumps(text))
    assert back.mounts is None and _host_mounts(back) == old
    assert json.loads(back.to_json())["mounts"] == old  # rewritten (stats update) as is


def test_host_config_no_mounts_record_is_null():
    hc = HostConfig(binds=None, mounts=None, tmpfs=None, volumes_from=None,
                    network_mode="default", auto_remove=False, runtime="")
    assert json.loads(hc.to_json())["mounts"] is None
    assert _host_mounts(HostConfig.from_json(hc.to_json())) is None
