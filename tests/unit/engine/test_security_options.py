"""Pure logic of engine/security: moby's setupSeccomp, parseSecurityOpt, runc's sysctl rules."""

from __future__ import annotations

import json

import pytest

from orlop.engine.security.seccomp import (
    default_profile_text,
    kernel_version,
    resolve,
    setup_seccomp,
)
from orlop.engine.security.secopts import parse_security_opts
from orlop.engine.security.sysctl import validate_sysctls
from orlop.errors import InvalidParameterError, UnsupportedError
from orlop.kernel.caps import DOCKER_DEFAULT_CAPS
from orlop.runtime.spec import Seccomp

AMD64 = ("amd64", "SCMP_ARCH_X86_64", (6, 1))


def _names(section: dict[str, object]) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for rule in section["syscalls"]:  # type: ignore[attr-defined]
        for name in rule["names"]:
            out.setdefault(name, []).append(rule)
    return out


def _default(caps: list[str], host: tuple[str, str, tuple[int, int]] = AMD64
             ) -> dict[str, object]:
    section = setup_seccomp(json.loads(default_profile_text()), frozenset(caps), *host)
    assert section is not None
    return section


def test_default_profile_resolves_like_moby_for_docker_caps() -> None:
    section = _default(list(DOCKER_DEFAULT_CAPS))
    assert section["defaultAction"] == "SCMP_ACT_ERRNO"
    assert section["defaultErrnoRet"] == 1
    assert section["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    names = _names(section)
    for denied in ("mount", "unshare", "keyctl", "bpf", "clock_settime", "kcmp", "reboot",
                   "init_module", "open_by_handle_at", "setns"):
        assert denied not in names, denied
    assert "ptrace" in names  # minKernel 4.8
    assert "chroot" in names  # CAP_SYS_CHROOT is a default capability
    assert "arch_prctl" in names and "s390_runtime_instr" not in names
    [clone3] = names["clone3"]
    assert clone3["action"] == "SCMP_ACT_ERRNO" and clone3["errnoRet"] == 38
    [clone] = names["clone"]
    assert clone["args"][0]["op"] == "SCMP_CMP_MASKED_EQ"  # no CLONE_NEW* flags
    assert len(names["personality"]) == 5
    assert all("includes" not in r and "excludes" not in r
               for r in section["syscalls"])  # type: ignore[attr-defined]
    Seccomp.from_dict(section)  # a valid OCI section


def test_default_profile_cap_sys_admin_allows_mount_and_clone3() -> None:
    names = _names(_default([*DOCKER_DEFAULT_CAPS, "CAP_SYS_ADMIN"]))
    assert {"mount", "unshare", "setns", "bpf", "umount2"} <= set(names)
    assert [r["action"] for r in names["clone3"]] == ["SCMP_ACT_ALLOW"]
    assert all("args" not in r for r in names["clone"])


def test_default_profile_old_kernel_has_no_ptrace_without_cap() -> None:
    names = _names(_default(list(DOCKER_DEFAULT_CAPS), ("amd64", "SCMP_ARCH_X86_64", (4, 4))))
    assert "ptrace" not in names
    names = _names(_default([*DOCKER_DEFAULT_CAPS, "CAP_SYS_PTRACE"],
                            ("amd64", "SCMP_ARCH_X86_64", (4, 4))))
    assert "ptrace" in names


def test_default_profile_arm64_arches() -> None:
    section = _default(list(DOCKER_DEFAULT_CAPS), ("arm64", "SCMP_ARCH_AARCH64", (6, 1)))
    assert section["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert "arch_prctl" not in _names(section)


def test_profile_errors_use_mobys_texts() -> None:
    with pytest.raises(InvalidParameterError, match="Decoding seccomp profile failed"):
        resolve("{nope", [])
    with pytest.raises(InvalidParameterError, match="both 'architectures' and 'archMap'"):
        resolve(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["a"],
                            "archMap": [{"architecture": "a"}]}), [])
    with pytest.raises(InvalidParameterError, match="both 'name' and 'names'"):
        resolve(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"name": "a", "names": ["b"], "action": "SCMP_ACT_ERRNO"}]}), [])
    with pytest.raises(InvalidParameterError, match=r"version cannot be 0\.0"):
        resolve(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["b"], "action": "SCMP_ACT_ERRNO",
             "includes": {"minKernel": "0.0"}}]}), [])
    assert resolve(json.dumps({"syscalls": []}), []) is None  # moby: seccomp disabled


def test_old_name_field_and_kernel_release_parsing() -> None:
    out = resolve(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"name": "mkdir", "action": "SCMP_ACT_ERRNO"}]}), [])
    assert out == {"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}
    assert kernel_version("6.1.0-18-amd64") == (6, 1)
    assert kernel_version("3.12-1-amd64") == (3, 12)
    assert kernel_version("6.18.44-fc-v1300") == (6, 18)


def test_security_opts_parsing() -> None:
    assert parse_security_opts([]).seccomp_profile == ""
    assert parse_security_opts(["seccomp=builtin"]).seccomp_profile == ""
    assert parse_security_opts(["seccomp:unconfined"]).seccomp_unconfined
    assert parse_security_opts(["no-new-privileges"]).no_new_privileges
    assert parse_security_opts(["no-new-privileges=1"]).no_new_privileges
    assert not parse_security_opts(["no-new-privileges", "no-new-privileges=false"]
                                   ).no_new_privileges
    parse_security_opts(["apparmor=unconfined", "label=disable", "disable",
                         "writable-cgroups=false"])
    with pytest.raises(InvalidParameterError, match='invalid --security-opt 1: "bogus"'):
        parse_security_opts(["bogus"])
    with pytest.raises(InvalidParameterError, match='invalid --security-opt 2: "x=y"'):
        parse_security_opts(["x=y"])
    for opt in ("apparmor=docker-default", "label=user:u", "writable-cgroups=true"):
        with pytest.raises(UnsupportedError):
            parse_security_opts([opt])


def test_sysctl_rules_are_runcs() -> None:
    ok = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1", "kernel.sem": "1 2 3 4",
          "fs.mqueue.queues_max": "2", "kernel.domainname": "x"}
    validate_sysctls(ok, private_ipc=True, private_net=True, private_uts=True)
    refused = {
        "vm.swappiness": "is not in a separate kernel namespace",
        "kernel.core_pattern": "is not in a separate kernel namespace",
        "kernel.hostname": 'conflicts with the OCI "hostname" field',
        "net..x": "is not in a separate kernel namespace",
        "net/ipv4/x": "is not in a separate kernel namespace",
    }
    for name, text in refused.items():
        with pytest.raises(InvalidParameterError, match=text):
            validate_sysctls({name: "1"}, private_ipc=True, private_net=True,
                             private_uts=True)
    with pytest.raises(InvalidParameterError, match="hosts network namespace"):
        validate_sysctls({"net.core.somaxconn": "1"}, private_ipc=True, private_net=False,
                         private_uts=True)
    with pytest.raises(InvalidParameterError, match="hosts ipc namespace"):
        validate_sysctls({"kernel.msgmax": "1"}, private_ipc=False, private_net=True,
                         private_uts=True)
