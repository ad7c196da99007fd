"""Containers run for real: isolation, exit codes, create/start/ps/rm/inspect, both runtimes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import Orlop, mounts_under

HAVE_CRUN = os.path.exists("/usr/bin/crun")
RUNTIMES = ["orlop", pytest.param("crun", marks=pytest.mark.skipif(
    not HAVE_CRUN, reason="crun is not installed"))]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_run_output_and_exit_code_pass_through(bb: Orlop, runtime: str) -> None:
    res = bb("run", "--rm", "--runtime", runtime, "busybox", "sh", "-c",
             "echo out; echo err >&2; exit 3")
    assert res.returncode == 3
    assert res.stdout == "out\n"
    assert "err" in res.stderr


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_run_container_is_isolated_pid1_hostname_mounts(bb: Orlop, runtime: str) -> None:
    out = bb.ok("run", "--rm", "--runtime", runtime, "--hostname", "boxy", "busybox", "sh",
                "-c", "echo $$; hostname; ls /proc | grep -c '^[0-9]'; "
                "cut -d' ' -f5 /proc/self/mountinfo")
    lines = out.splitlines()
    assert lines[0] == "1"  # the container's process is PID 1
    assert lines[1] == "boxy"
    assert int(lines[2]) <= 3  # only the shell and its two pipeline children are visible
    assert "/" in lines[3:]
    # Nothing of the container is mounted in the host's namespace.
    assert not mounts_under(str(bb.root))


def test_run_cannot_see_host_files_outside_rootfs(bb: Orlop, tmp_orlop_dir: Path) -> None:
    secret = tmp_orlop_dir / "host-secret"
    secret.write_text("top secret")
    res = bb("run", "--rm", "busybox", "sh", "-c",
             f"cat {secret} 2>&1; ls /; echo pwned > /host-written")
    assert "top secret" not in res.stdout
    assert not Path("/host-written").exists()


def test_run_proc_shows_only_container_processes(bb: Orlop) -> None:
    out = bb.ok("run", "--rm", "busybox", "ps", "-o", "pid,comm")
    rows = [line.split() for line in out.strip().splitlines()[1:]]
    assert rows == [["1", "ps"]]


def test_run_default_security_caps_nnp_masked_paths(bb: Orlop) -> None:
    out = bb.ok("run", "--rm", "busybox", "sh", "-c",
                "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; "
                "cat /proc/kcore | wc -c; touch /proc/sys/kernel/x 2>&1; echo end")
    assert "CapEff:\t00000000a80425fb" in out
    assert "CapBnd:\t00000000a80425fb" in out
    # Docker's defaults: the seccomp filter on, no_new_privs off (--security-opt
    # no-new-privileges turns it on; tests/integration/test_seccomp.py)
    assert "NoNewPrivs:\t0" in out
    assert "Seccomp:\t2" in out
    assert "\n0\n" in out  # /proc/kcore masked (empty)


def test_run_missing_command_exits_127_not_executable_126(bb: Orlop) -> None:
    res = bb("run", "--rm", "busybox", "nosuchcmd")
    assert res.returncode == 127
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in res.stderr
    res = bb("run", "--rm", "busybox", "/etc/passwd")
    assert res.returncode == 126
    assert bb.ok("ps", "-aq") == ""  # --rm removed them


def test_run_unknown_image_exits_125_and_leaves_nothing(bb: Orlop) -> None:
    # --pull never: the default (missing) would ask docker.io for it.
    res = bb("run", "--rm", "--pull", "never", "-v", "newvol:/data", "nosuchimage", "true")
    assert res.returncode == 125
    assert "No such image: nosuchimage" in res.stderr
    assert bb.ok("ps", "-aq") == ""
    assert bb.ok("volume", "ls", "-q") == ""


def test_run_env_workdir_user_entrypoint(bb: Orlop, tmp_orlop_dir: Path) -> None:
    envfile = tmp_orlop_dir / "env.list"
    envfile.write_text("# comment\nFROMFILE=yes\n")
    out = bb.ok("run", "--rm", "-e", "A=1", "--env-file", str(envfile), "-w", "/tmp/wd",
                "-u", "nobody", "busybox", "sh", "-c", "echo $A $FROMFILE; pwd; id -u; id -g")
    assert out.split() == ["1", "yes", "/tmp/wd", "65534", "65534"]
    out = bb.ok("run", "--rm", "--entrypoint", "echo", "busybox", "via", "entrypoint")
    assert out == "via entrypoint\n"


def test_run_tty_allocates_a_terminal(bb: Orlop) -> None:
    out = bb.ok("run", "--rm", "-t", "busybox", "sh", "-c", "tty; test -t 1 && echo isatty")
    # As with Docker: the terminal comes from the container's own devpts.
    assert out.splitlines()[0] == "/dev/pts/0"
    assert "isatty" in out


def test_run_interactive_passes_stdin(bb: Orlop) -> None:
    out = bb.ok("run", "--rm", "-i", "busybox", "sh", "-c", "tr a-z A-Z", input="hello\n")
    assert out == "HELLO\n"
    # Without -i the container's stdin is empty.
    out = bb.ok("run", "--rm", "busybox", "sh", "-c", "cat; echo done", input="ignored\n")
    assert out == "done\n"


def test_run_network_none_has_only_loopback_host_shares(bb: Orlop) -> None:
    out = bb.ok("run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net")
    assert out.split() == ["lo"]
    out = bb.ok("run", "--rm", "--network", "none", "busybox", "sh", "-c",
                "cat /sys/class/net/lo/operstate; cat /sys/class/net/lo/flags")
    assert int(out.split()[1], 16) & 1  # IFF_UP
    host = sorted(os.listdir("/sys/class/net"))
    out = bb.ok("run", "--rm", "--network", "host", "busybox", "ls", "/sys/class/net")
    assert sorted(out.split()) == host


def test_create_start_attach_ps_rm_lifecycle(bb: Orlop) -> None:
    cid = bb.ok("create", "--name", "c1", "busybox", "sh", "-c", "echo started; exit 7").strip()
    assert len(cid) == 64
    ps = bb.ok("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.Status}}")
    assert ps.strip() == f"{cid} c1 Created"
    res = bb("start", "-a", "c1")
    assert res.returncode == 7 and res.stdout == "started\n"
    assert bb.ok("ps", "-q") == ""
    assert bb.ok("ps", "-aq") == cid[:12] + "\n"
    status = bb.ok("ps", "-a", "--format", "{{.Status}}")
    assert status.startswith("Exited (7)")
    # Started again: same container, same result.
    assert bb("start", "-a", cid[:8]).returncode == 7
    assert bb.ok("rm", "c1") == "c1\n"
    assert bb.ok("ps", "-aq") == ""


def test_names_unique_and_errors_name_the_value(bb: Orlop) -> None:
    cid = bb.ok("create", "--name", "dup", "busybox", "true").strip()
    res = bb("create", "--name", "dup", "busybox", "true")
    assert res.returncode == 125
    assert f'The container name "/dup" is already in use by container "{cid}"' in res.stderr
    res = bb("rm", "nosuch")
    assert res.returncode == 1 and "No such container: nosuch" in res.stderr
    res = bb("start", "-a", "nosuch")
    assert res.returncode == 125 and "No such container: nosuch" in res.stderr
    assert bb.ok("ps", "-aq").count("\n") == 1


def test_inspect_container_docker_shape(bb: Orlop) -> None:
    bb.ok("create", "--name", "insp", "-e", "X=1", "busybox", "echo", "hi")
    data = json.loads(bb.ok("inspect", "insp"))
    assert isinstance(data, list) and len(data) == 1
    c = data[0]
    for key in ("Id", "Created", "Path", "Args", "State", "Image", "Name", "HostConfig",
                "GraphDriver", "Mounts", "Config", "NetworkSettings"):
        assert key in c
    assert c["Name"] == "/insp" and c["Path"] == "echo" and c["Args"] == ["hi"]
    assert c["State"]["Status"] == "created" and c["State"]["Running"] is False
    assert c["Config"]["Image"] == "busybox" and "X=1" in c["Config"]["Env"]
    assert c["GraphDriver"]["Name"] == "overlay2"
    assert c["Image"].startswith("sha256:")
    assert bb.ok("inspect", "-f", "{{.State.Status}} {{.Name}}", "insp") == "created /insp\n"
    res = bb("inspect", "nosuch")
    assert res.returncode == 1 and res.stdout.strip() == "[]"


def test_killing_the_cli_mid_run_leaves_no_mount_and_reconciles(bb: Orlop) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "orlop", "--root", str(bb.root), "run", "--name", "victim",
         "-v", "kv:/data", "busybox", "sleep", "300"], cwd=bb.cwd,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if bb.ok("ps", "-q"):
            break
        time.sleep(0.05)
    assert bb.ok("ps", "--format", "{{.Names}}") == "victim\n"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.2)
    assert not mounts_under(str(bb.root))
    # The next command sees the container as exited, and no process is left.
    assert bb.ok("ps", "-q") == ""
    status = bb.ok("ps", "-a", "--format", "{{.Status}}")
    assert status.startswith("Exited (137)")
    out = subprocess.run(["pgrep", "-f", "sleep 300"], check=False, capture_output=True, text=True)
    assert out.stdout.strip() == ""
    bb.ok("rm", "victim")
    bb.ok("volume", "rm", "kv")


def test_root_not_writable_one_line_error(orlop: Orlop, tmp_orlop_dir: Path) -> None:
    ro = tmp_orlop_dir / "ro"
    ro.mkdir()
    # A read-only bind in a private mount namespace, so the host sees nothing.
    res = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c",
         f"mount --bind {ro} {ro} && mount -o remount,bind,ro {ro} && "
         f"{sys.executable} -m orlop --root {ro}/state ps"],
        check=False, capture_output=True, text=True)
    assert res.returncode != 0
    assert str(ro) in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_json_template_function_writes_as_the_docker_cli(bb: Orlop) -> None:
    """The docker CLI 28's bytes for a label ``é<>&\\u2028\\b\\f\\x01\\n\\t/`` (seen here
    against dockerd 20.10): ``{{json}}`` keeps UTF-8 and ``<>&``, escapes U+2028 and
    control characters as Go >= 1.22 does; a ps row's own ``{{json .}}`` and
    ``--format json`` (the CLI's formatter context, json.Marshal) escape ``<>&``."""
    label = "a=é<>&\u2028\b\f\x01\n\t/"
    bb.ok("create", "--name", "tl", "-l", label, "busybox", "true")
    assert bb.ok("inspect", "-f", "{{json .Config.Labels}}", "tl") == \
        '{"a":"é<>&\\u2028\\b\\f\\u0001\\n\\t/"}\n'
    out = bb.ok("ps", "-a", "--filter", "name=tl", "--format", "{{json .Labels}}|{{json .}}")
    plain, _, row = out.partition("|")
    assert plain == '"a=é<>&\\u2028\\b\\f\\u0001\\n\\t/"'
    assert row.startswith('{"Command":"\\"true\\"","CreatedAt":"')
    assert '"Labels":"a=é\\u003c\\u003e\\u0026\\u2028\\b\\f\\u0001\\n\\t/"' in row
    # Two calls: the running-for text may have moved on ("Less than a second ago").
    same_age = re.compile(r'"RunningFor":"[^"]*"')
    assert same_age.sub('"RunningFor":""', bb.ok("ps", "-a", "--filter", "name=tl",
                                                 "--format", "json")) == \
        same_age.sub('"RunningFor":""', row)
