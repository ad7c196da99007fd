"""The engine's bundle: a typed runtime.spec.Spec built on the runtime's default_spec()."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orlop.engine.containers.bundle import build_spec, process_env, replace_or_append
from orlop.engine.containers.users import ResolvedUser
from orlop.images.commit import config_env
from orlop.kernel.caps import DOCKER_DEFAULT_CAPS
from orlop.runtime.spec import (
    ANNOTATION_LOWERDIR,
    ANNOTATION_UPPERDIR,
    ANNOTATION_WORKDIR,
    DEFAULT_PATH,
    DOCKER_MASKED_PATHS,
    DOCKER_READONLY_PATHS,
    Mount,
    Spec,
    default_mounts,
)

USER = ResolvedUser(uid=1000, gid=100, additional_gids=(10, 20), home="/home/u")


def _spec(tmp_path: Path, **kw: object) -> Spec:
    args: dict[str, object] = {
        "args": ["sh", "-c", "true"], "env": ["PATH=/bin", "A=1"], "cwd": "", "user": USER,
        "hostname": "h1", "terminal": True, "rootfs": tmp_path / "rootfs",
        "readonly_rootfs": True, "network": "bridge",
        "lower_dirs": [tmp_path / "l1", tmp_path / "l2"], "upper_dir": tmp_path / "diff",
        "work_dir": tmp_path / "work",
        "extra_mounts": [Mount("/data", "bind", "/h", ["rbind", "rw", "rprivate"])]}
    args.update(kw)
    return build_spec(**args)  # type: ignore[arg-type]


def test_build_spec_has_the_runtimes_docker_defaults(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    caps = spec.process.capabilities
    assert caps is not None
    assert caps.bounding == caps.effective == caps.permitted == list(DOCKER_DEFAULT_CAPS)
    assert caps.inheritable == caps.ambient == []
    assert spec.linux.masked_paths == list(DOCKER_MASKED_PATHS)
    assert spec.linux.readonly_paths == list(DOCKER_READONLY_PATHS)
    # Docker's default mounts (with /sys/fs/cgroup, as moby's), then the container's.
    assert spec.mounts == [*default_mounts(), Mount("/data", "bind", "/h",
                                                    ["rbind", "rw", "rprivate"])]
    assert [m.destination for m in spec.mounts][4] == "/sys/fs/cgroup"


def test_build_spec_sets_the_containers_fields(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    p = spec.process
    assert (p.args, p.env, p.cwd, p.terminal) == (["sh", "-c", "true"], ["PATH=/bin", "A=1"],
                                                  "/", True)
    assert (p.user.uid, p.user.gid, p.user.additional_gids) == (1000, 100, [10, 20])
    assert p.no_new_privileges is False  # Docker's default; --security-opt turns it on
    assert (spec.root.path, spec.root.readonly) == (str(tmp_path / "rootfs"), True)
    assert spec.hostname == "h1"
    assert spec.annotations == {
        ANNOTATION_LOWERDIR: f"{tmp_path / 'l2'}:{tmp_path / 'l1'}",  # top layer first
        ANNOTATION_UPPERDIR: str(tmp_path / "diff"),
        ANNOTATION_WORKDIR: str(tmp_path / "work")}


@pytest.mark.parametrize(("network", "netns", "expected"), [
    ("bridge", "", [("network", None)]),
    ("none", "", [("network", None)]),
    ("host", "", []),
    ("bridge", "/run/netns/x", [("network", "/run/netns/x")]),
])
def test_build_spec_network_namespace(tmp_path: Path, network: str, netns: str,
                                      expected: list[tuple[str, str | None]]) -> None:
    spec = _spec(tmp_path, network=network, netns=netns)
    assert [(n.type, n.path) for n in spec.linux.namespaces] == [
        ("pid", None), ("ipc", None), ("uts", None), ("mount", None), *expected]


def test_build_spec_saved_file_reads_back_equal(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    spec.linux.rootfs_propagation = "rslave"
    spec.linux.cgroups_path = "/orlop/x"
    spec.linux.extra["resources"] = {"memory": {"limit": 1 << 20}}
    spec.save(tmp_path / "config.json", durable=False)
    raw = json.loads((tmp_path / "config.json").read_text())
    assert raw["linux"]["rootfsPropagation"] == "rslave"
    assert raw["linux"]["cgroupsPath"] == "/orlop/x"
    assert raw["linux"]["resources"] == {"memory": {"limit": 1 << 20}}
    assert Spec.load(tmp_path / "config.json") == spec


def test_process_env_starts_with_the_runtimes_default_path() -> None:
    env = process_env(["A=1"], "h", "", False)
    assert env == [f"PATH={DEFAULT_PATH}", "HOSTNAME=h", "A=1", "HOME=/root"]


def test_config_env_is_the_users_entries_then_the_images_unnamed_ones() -> None:
    """dockerd 20.10: ``-e FOO_UNSET -e BAR=1 -e A=user`` on an image with
    ``PATH=/usr/bin:/bin A=img B=img`` inspects as below; no image env and no -e: null."""
    assert config_env(["PATH=/usr/bin:/bin", "A=img", "B=img"],
                      ["FOO_UNSET", "BAR=1", "A=user"]) == \
        ["FOO_UNSET", "BAR=1", "A=user", "PATH=/usr/bin:/bin", "B=img"]
    assert config_env(["A=img", "B=img"], ["B"]) == ["B", "A=img"]
    assert config_env([], []) == []


def test_process_env_as_dockerd_and_runc_make_it() -> None:
    """Each case as dockerd 20.10 + runc ran ``env`` in the container."""
    cfg = config_env(["PATH=/usr/bin:/bin", "A=img", "B=img"],
                     ["FOO_UNSET", "BAR=1", "A=user"])
    assert process_env(cfg, "h", "/root", False) == \
        ["PATH=/usr/bin:/bin", "HOSTNAME=h", "BAR=1", "A=user", "B=img", "HOME=/root"]
    # a bare key after an appended one does not unset it; a repeated key keeps its place
    assert process_env(["X=1", "Y=1", "X", "Z=1", "X=3"], "h", "/root", False) == \
        [f"PATH={DEFAULT_PATH}", "HOSTNAME=h", "X=3", "Y=1", "Z=1", "HOME=/root"]
    assert process_env(["HOSTNAME=hh", "HOME=/h", "A=1", "A=2"], "h", "/root", False) == \
        [f"PATH={DEFAULT_PATH}", "HOSTNAME=hh", "HOME=/h", "A=2"]
    # a bare default is removed (TERM on a terminal, PATH)
    assert process_env(["TERM", "X=1"], "h", "/root", True) == \
        [f"PATH={DEFAULT_PATH}", "HOSTNAME=h", "X=1", "HOME=/root"]
    assert process_env(["PATH"], "h", "/root", False) == ["HOSTNAME=h", "HOME=/root"]
    # an exec's -e on top: a bare key unsets the container's entry
    assert process_env(["A=user", "HOME=/h", "BARE", "PATH=/usr/bin:/bin", "B=img"], "h",
                       "/usr/sbin", False, ["A=ex", "NEW=1", "B"]) == \
        ["PATH=/usr/bin:/bin", "HOSTNAME=h", "A=ex", "HOME=/h", "NEW=1"]


def test_replace_or_append_is_mobys() -> None:
    assert replace_or_append(["P=1", "H=2"], ["H=3", "X", "P", "Y=4"]) == ["H=3", "Y=4"]
