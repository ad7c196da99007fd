"""kernel/cgwarm.py: which ``cgroup.procs`` of its own a process may write to."""

from __future__ import annotations

from orlop.kernel.cgwarm import own_procs_candidates


def test_v1_hierarchies_and_the_hybrid_v2_one() -> None:
    text = ("9:name=systemd:/\n8:pids:/\n4:memory:/process_api/08ee\n"
            "2:cpu,cpuacct:/user.slice/\n0::/init.scope\n")
    assert own_procs_candidates(text, "/cg") == [
        "/cg/pids/cgroup.procs",
        "/cg/memory/process_api/08ee/cgroup.procs",
        "/cg/cpu,cpuacct/user.slice/cgroup.procs",
        "/cg/unified/init.scope/cgroup.procs",
        "/cg/init.scope/cgroup.procs",
    ]


def test_unified_only() -> None:
    assert own_procs_candidates("0::/system.slice/x.service\n", "/cg") == [
        "/cg/unified/system.slice/x.service/cgroup.procs",
        "/cg/system.slice/x.service/cgroup.procs",
    ]


def test_lines_that_name_no_path_of_ours_are_skipped() -> None:
    text = "garbage\n5:devices:relative\n6:blkio:/a/../../etc\n7:freezer:/ok\n"
    assert own_procs_candidates(text, "/cg") == ["/cg/freezer/ok/cgroup.procs"]
