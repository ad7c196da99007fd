"""The built-in runtime end to end, as root: launch(), `orlop-runtime`, and crun on the same bundle.

Each test builds a tiny busybox rootfs in its own /tmp/orlop-rt-* directory and checks,
from inside the container, one promise of runtime/: namespaces, mounts placed inside
the rootfs only, masks, capabilities, exit codes.  Each leaves no mount behind.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from orlop.errors import RuntimeFailedError
from orlop.runtime import Mount, Namespace, Spec, default_spec, launch
from orlop.runtime.spec import ANNOTATION_LOWERDIR, ANNOTATION_UPPERDIR, ANNOTATION_WORKDIR
from testsupport import mounts_under, unmount_all_under

pytestmark = pytest.mark.root

APPLETS = ("sh", "cat", "ls", "mount", "id", "hostname", "ps", "touch", "echo", "sleep",
           "readlink", "grep", "true", "wc", "pwd")
BUSYBOX = "/usr/bin/busybox"


def make_rootfs(root: Path) -> None:
    for d in ("bin", "etc", "proc", "sys", "dev", "tmp"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, root / "bin" / "busybox")
    for name in APPLETS:
        (root / "bin" / name).symlink_to("busybox")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "etc" / "marker").write_text("rootfs etc\n")


@dataclass
class Bundle:
    path: Path

    @property
    def rootfs(self) -> Path:
        return self.path / "rootfs"

    def spec(self, *args: str) -> Spec:
        s = default_spec(list(args))
        s.hostname = "orlopbox"
        return s

    def run(self, spec: Spec, stdin: int | None = None, **kw: object) -> tuple[int, str]:
        """launch() + waitpid; returns (exit code, stdout+stderr)."""
        out = self.path / "out.txt"
        with open(out, "wb") as f, open(os.devnull, "rb") as null:
            launched = launch(self.path, spec, stdin=null.fileno() if stdin is None else stdin,
                              stdout=f.fileno(), stderr=f.fileno(), **kw)  # type: ignore[arg-type]
        _, status = os.waitpid(launched.pid, 0)
        return os.waitstatus_to_exitcode(status), out.read_text()


@pytest.fixture
def bundle() -> Iterator[Bundle]:
    if not os.path.exists(BUSYBOX):
        pytest.skip("needs a static busybox at /usr/bin/busybox")
    d = Path(tempfile.mkdtemp(prefix="orlop-rt-", dir="/tmp"))
    try:
        make_rootfs(d / "rootfs")
        yield Bundle(d)
    finally:
        leftover = mounts_under(str(d))
        unmount_all_under(str(d))
        shutil.rmtree(d, ignore_errors=True)
        assert not leftover, f"mounts left behind: {leftover}"


# --- namespaces ---------------------------------------------------------------------


def test_launch_container_is_pid1_with_own_hostname(bundle: Bundle) -> None:
    code, out = bundle.run(bundle.spec("sh", "-c", "echo $$; hostname"))
    assert code == 0, out
    assert out.split() == ["1", "orlopbox"]
    assert os.uname().nodename != "orlopbox"


def test_launch_proc_shows_only_container_processes(bundle: Bundle) -> None:
    code, out = bundle.run(bundle.spec("sh", "-c", "ls /proc | grep -E '^[0-9]+$'"))
    assert code == 0, out
    pids = sorted(int(p) for p in out.split())
    assert pids[0] == 1 and len(pids) <= 4, pids
    assert str(os.getpid()) not in out.split()


def test_launch_mounts_are_not_in_host_mount_table(bundle: Bundle) -> None:
    spec = bundle.spec("sh", "-c", "grep -c . /proc/self/mountinfo; read x")
    r, w = os.pipe()
    out = bundle.path / "out.txt"
    with open(out, "wb") as f:
        launched = launch(bundle.path, spec, stdin=r, stdout=f.fileno(), stderr=f.fileno())
    os.close(r)
    try:
        assert mounts_under(str(bundle.path)) == []  # while it runs
    finally:
        os.write(w, b"go\n")
        os.close(w)
        _, status = os.waitpid(launched.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert int(out.read_text().split()[0]) >= 8  # it did have its own mounts


def test_launch_network_namespace_has_only_lo_up(bundle: Bundle) -> None:
    spec = bundle.spec("sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/flags")
    code, out = bundle.run(spec)
    assert code == 0, out
    assert out.split() == ["lo", "0x9"]  # IFF_UP|IFF_LOOPBACK


def test_launch_without_network_namespace_shares_host_network(bundle: Bundle) -> None:
    spec = bundle.spec("ls", "/sys/class/net")
    spec.linux.namespaces = [n for n in spec.linux.namespaces if n.type != "network"]
    code, out = bundle.run(spec)
    assert code == 0, out
    assert sorted(out.split()) == sorted(os.listdir("/sys/class/net"))


# --- spec mounts --------------------------------------------------------------------


def test_launch_bind_and_tmpfs_from_spec_are_visible(bundle: Bundle) -> None:
    src = bundle.path / "vol"
    src.mkdir()
    (src / "hello").write_text("from host\n")
    spec = bundle.spec("sh", "-c", "cat /data/hello; echo new > /data/new; "
                       "grep ' /scratch ' /proc/mounts; ls -ld /scratch; touch /scratch/x")
    spec.mounts.append(Mount("/data", "bind", str(src), ["rbind"]))
    spec.mounts.append(Mount("/scratch", "tmpfs", "tmpfs", ["size=1m", "mode=1777", "nosuid"]))
    code, out = bundle.run(spec)
    assert code == 0, out
    assert "from host" in out
    assert "tmpfs /scratch tmpfs rw,nosuid" in out and "size=1024k" in out
    assert "drwxrwxrwt" in out  # mode=1777
    assert (src / "new").read_text() == "new\n"
    assert not (bundle.rootfs / "scratch" / "x").exists()


def test_launch_bind_file_creates_empty_file_mountpoint(bundle: Bundle) -> None:
    src = bundle.path / "config.txt"
    src.write_text("cfg\n")
    spec = bundle.spec("cat", "/etc/app/config.txt")
    spec.mounts.append(Mount("/etc/app/config.txt", "bind", str(src), ["bind", "ro"]))
    code, out = bundle.run(spec)
    assert (code, out) == (0, "cfg\n")
    assert (bundle.rootfs / "etc/app/config.txt").read_text() == ""


def test_launch_bind_ro_is_enforced(bundle: Bundle) -> None:
    src = bundle.path / "vol"
    src.mkdir()
    spec = bundle.spec("touch", "/data/x")
    spec.mounts.append(Mount("/data", "bind", str(src), ["rbind", "ro"]))
    code, out = bundle.run(spec)
    assert code != 0 and "Read-only file system" in out
    assert not (src / "x").exists()


def test_launch_rro_is_recursive_where_ro_is_not(bundle: Bundle) -> None:
    src = bundle.path / "vol"
    (src / "sub").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(src / "sub")], check=True)
    try:
        spec = bundle.spec("touch", "/data/sub/x")
        spec.mounts.append(Mount("/data", "bind", str(src), ["rbind", "ro"]))
        code, out = bundle.run(spec)
        assert code == 0, out  # plain ro: only the top mount is read-only (runc semantics)
        spec = bundle.spec("touch", "/data/sub/y")
        spec.mounts.append(Mount("/data", "bind", str(src), ["rbind", "rro"]))
        code, out = bundle.run(spec)
        assert code != 0 and "Read-only file system" in out
    finally:
        subprocess.run(["umount", str(src / "sub")], check=True)


def test_launch_bind_source_missing_fails_naming_the_step(bundle: Bundle) -> None:
    spec = bundle.spec("true")
    spec.mounts.append(Mount("/data", "bind", str(bundle.path / "nope"), ["rbind"]))
    with pytest.raises(RuntimeFailedError) as exc:
        bundle.run(spec)
    assert exc.value.exit_code == 125
    assert exc.value.message.startswith("prepare_rootfs: mount /data: bind source path")


@pytest.mark.parametrize("link", ["/etc", "../../../../etc"])
def test_launch_symlinked_target_lands_inside_rootfs(bundle: Bundle, link: str) -> None:
    """CVE-2021-30465 class: the image's /data symlink is resolved inside the rootfs."""
    (bundle.rootfs / "data").symlink_to(link)
    src = bundle.path / "vol"
    src.mkdir()
    (src / "planted").write_text("x\n")
    host_etc_before = sorted(os.listdir("/etc"))
    spec = bundle.spec("sh", "-c", "ls /etc; readlink /data")
    spec.mounts.append(Mount("/data", "bind", str(src), ["rbind"]))
    code, out = bundle.run(spec)
    assert code == 0, out
    assert "planted" in out.split()  # the container's /etc got the bind
    assert "marker" not in out.split()
    assert sorted(os.listdir("/etc")) == host_etc_before
    assert not os.path.exists("/etc/planted")
    assert (bundle.rootfs / "etc" / "marker").exists()  # the image's /etc is only covered


def test_launch_symlink_to_root_is_refused(bundle: Bundle) -> None:
    (bundle.rootfs / "data").symlink_to("../../../..")
    spec = bundle.spec("true")
    spec.mounts.append(Mount("/data", "tmpfs", "tmpfs", []))
    with pytest.raises(RuntimeFailedError) as exc:
        bundle.run(spec)
    assert "refusing to mount over the rootfs" in exc.value.message


def test_launch_proc_on_symlink_is_refused(bundle: Bundle) -> None:
    (bundle.rootfs / "proc").rmdir()
    (bundle.rootfs / "proc").symlink_to("/tmp")
    with pytest.raises(RuntimeFailedError) as exc:
        bundle.run(bundle.spec("true"))
    assert "mount /proc: destination is not a directory" in exc.value.message


@pytest.mark.parametrize(("mount", "message"), [
    (Mount("/proc", "tmpfs", "tmpfs", []),
     '"/proc" cannot be mounted because it is not of type proc'),
    (Mount("/proc/", "bind", "/tmp", ["rbind"]),
     '"/proc" cannot be mounted because it is not of type proc'),
    (Mount("/proc/sys", "bind", "/tmp", ["rbind", "ro"]),
     '"/proc/sys" cannot be mounted because it is inside /proc'),
    (Mount("/proc/meminfo", "tmpfs", "tmpfs", []),
     '"/proc/meminfo" cannot be mounted because it is inside /proc'),
])
def test_launch_refuses_non_procfs_mounts_at_or_under_proc(bundle: Bundle, mount: Mount,
                                                           message: str) -> None:
    """Defence in depth: a bundle the engine did not check (hand-written, older) still
    gets a procfs at /proc and nothing else (runc checkProcMount)."""
    spec = bundle.spec("true")
    spec.mounts.append(mount)
    with pytest.raises(RuntimeFailedError) as exc:
        bundle.run(spec)
    assert message in exc.value.message


def test_launch_refuses_mount_resolving_into_proc(bundle: Bundle) -> None:
    (bundle.rootfs / "data").symlink_to("/proc")
    src = bundle.path / "vol"
    src.mkdir()
    spec = bundle.spec("true")
    spec.mounts.append(Mount("/data", "bind", str(src), ["rbind"]))
    with pytest.raises(RuntimeFailedError) as exc:
        bundle.run(spec)
    assert "the destination resolves into /proc" in exc.value.message


def test_launch_allows_lxcfs_style_bind_under_proc(bundle: Bundle) -> None:
    fake = bundle.path / "uptime"
    fake.write_text("1.00 2.00\n")
    spec = bundle.spec("cat", "/proc/uptime")
    spec.mounts.append(Mount("/proc/uptime", "bind", str(fake), ["rbind", "ro"]))
    assert bundle.run(spec) == (0, "1.00 2.00\n")


# --- finalize: masks, read-only paths, read-only root -----------------------------------


def test_launch_masked_and_readonly_paths(bundle: Bundle) -> None:
    script = ("wc -c < /proc/keys; ls -A /sys/firmware | wc -l; "
              "grep -E ' /proc/(sys|keys|bus) | /sys/firmware ' /proc/self/mountinfo; "
              "echo x > /proc/sys/kernel/hostname && echo WROTE")
    _, out = bundle.run(bundle.spec("sh", "-c", script))
    lines = out.splitlines()
    assert lines[0].strip() == "0" and lines[1].strip() == "0", out
    assert "WROTE" not in out and "Read-only file system" in out
    sys_line = next(x for x in lines if " /proc/sys " in x)
    assert " ro," in sys_line
    fw_line = next(x for x in lines if " /sys/firmware " in x)
    assert "tmpfs" in fw_line


def test_launch_readonly_root(bundle: Bundle) -> None:
    spec = bundle.spec("sh", "-c", "touch /x; touch /tmp/y")
    spec.root.readonly = True
    code, out = bundle.run(spec)
    assert code != 0 and "Read-only file system" in out
    assert not (bundle.rootfs / "x").exists()


# --- process: identity, capabilities, exit codes -----------------------------------------


def test_launch_caps_are_dockers_and_no_new_privs(bundle: Bundle) -> None:
    code, out = bundle.run(bundle.spec("grep", "-E", "^(Cap|NoNewPrivs)", "/proc/self/status"))
    assert code == 0, out
    status = dict(line.split(":\t") for line in out.splitlines())
    assert int(status["CapEff"], 16) == 0xA80425FB
    assert int(status["CapPrm"], 16) == 0xA80425FB
    assert int(status["CapBnd"], 16) == 0xA80425FB
    assert int(status["CapInh"], 16) == 0 and int(status["CapAmb"], 16) == 0
    assert status["NoNewPrivs"].strip() == "1"


@pytest.mark.parametrize("nnp", [False, True])
def test_launch_seccomp_loads_for_a_non_root_user_with_or_without_nnp(
        bundle: Bundle, nnp: bool) -> None:
    """Without no_new_privs only CAP_SYS_ADMIN may load a filter: the init must load it
    before it drops to uid 1000 (runc's order); with no_new_privs, last."""
    from orlop.runtime.spec import Seccomp, User

    spec = bundle.spec("sh", "-c", "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; "
                                   "mkdir /tmp/x")
    spec.process.user = User(uid=1000, gid=1000)
    spec.process.no_new_privileges = nnp
    spec.linux.seccomp = Seccomp.from_dict({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 30}]})
    code, out = bundle.run(spec, seccomp_cache=bundle.path / "seccomp")
    assert code == 1, out
    assert f"NoNewPrivs:\t{int(nnp)}" in out and "Seccomp:\t2" in out
    assert "Read-only file system" in out  # errnoRet 30 = EROFS, from the filter


def test_launch_user_cwd_env(bundle: Bundle) -> None:
    spec = bundle.spec("sh", "-c", "id -u; id -g; id -G; pwd; echo $GREETING; "
                       "grep CapEff /proc/self/status")
    spec.process.user.uid = 1000
    spec.process.user.gid = 1001
    spec.process.user.additional_gids = [1002]
    spec.process.cwd = "/work/dir"
    spec.process.env.append("GREETING=hi")
    code, out = bundle.run(spec)
    assert code == 0, out
    lines = out.split("\n")
    assert lines[:5] == ["1000", "1001", "1001 1002", "/work/dir", "hi"]
    assert lines[5].endswith("0000000000000000")  # execve as non-root recomputes: no caps


def test_launch_missing_command_is_127(bundle: Bundle) -> None:
    with pytest.raises(RuntimeFailedError) as exc:
        bundle.run(bundle.spec("nosuchcmd"))
    assert exc.value.exit_code == 127
    assert exc.value.message == 'exec: "nosuchcmd": executable file not found in $PATH'


def test_launch_not_executable_is_126(bundle: Bundle) -> None:
    with pytest.raises(RuntimeFailedError) as exc:
        bundle.run(bundle.spec("/etc/passwd"))
    assert exc.value.exit_code == 126
    assert exc.value.message == 'exec: "/etc/passwd": permission denied'


def test_launch_exit_code_passes_through(bundle: Bundle) -> None:
    assert bundle.run(bundle.spec("sh", "-c", "exit 42"))[0] == 42


# --- overlay rootfs -----------------------------------------------------------------


def _overlay_spec(bundle: Bundle, lowers: list[Path], *args: str) -> tuple[Spec, Path]:
    upper, work, merged = (bundle.path / n for n in ("upper", "work", "merged"))
    for d in (upper, work, merged):
        d.mkdir(exist_ok=True)
    spec = bundle.spec(*args)
    spec.root.path = str(merged)
    spec.annotations = {ANNOTATION_LOWERDIR: ":".join(str(p) for p in lowers),
                        ANNOTATION_UPPERDIR: str(upper), ANNOTATION_WORKDIR: str(work)}
    return spec, upper


def test_launch_overlay_rootfs_writes_land_in_upperdir(bundle: Bundle) -> None:
    top = bundle.path / "layer2"
    (top / "etc").mkdir(parents=True)
    (top / "etc" / "marker").write_text("top layer\n")
    spec, upper = _overlay_spec(bundle, [top, bundle.rootfs], "sh", "-c",
                                "cat /etc/marker; echo w > /written")
    code, out = bundle.run(spec)
    assert (code, out) == (0, "top layer\n")
    assert (upper / "written").read_text() == "w\n"
    assert not (bundle.rootfs / "written").exists()
    assert os.listdir(bundle.path / "merged") == []  # never mounted on the host


@pytest.mark.parametrize("layers", [60, 200])
def test_launch_overlay_long_lowerdir(bundle: Bundle, layers: int) -> None:
    """More than a page of lowerdir: relative paths (60), then fsconfig lowerdir+ (200)."""
    base = bundle.path / ("l" * 40)
    lowers = []
    for i in range(layers):
        d = base / f"layer-{i:04d}-{'x' * 20}"
        (d / "layers").mkdir(parents=True)
        (d / "layers" / f"{i}").write_text("")
        lowers.append(d)
    assert len(":".join(map(str, lowers))) > 4096
    spec, _ = _overlay_spec(bundle, [*lowers, bundle.rootfs], "sh", "-c", "ls /layers | wc -l")
    code, out = bundle.run(spec)
    assert (code, out.strip()) == (0, str(layers))


# --- lifetime -----------------------------------------------------------------------


def test_launch_wait_for_start_parks_until_fifo_opened(bundle: Bundle) -> None:
    fifo = bundle.path / "exec.fifo"
    os.mkfifo(fifo)
    out = bundle.path / "out.txt"
    with open(out, "wb") as f:
        launched = launch(bundle.path, bundle.spec("echo", "started"), stdin=0,
                          stdout=f.fileno(), stderr=f.fileno(), wait_for_start=True,
                          exec_fifo=fifo)
    assert os.waitpid(launched.pid, os.WNOHANG) == (0, 0)  # parked, not exited
    assert out.read_text() == ""
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    os.write(fd, b"0")
    os.close(fd)
    _, status = os.waitpid(launched.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert out.read_text() == "started\n"


def test_launch_container_dies_with_its_killed_parent(bundle: Bundle) -> None:
    spec = bundle.spec("sleep", "1000")
    spec.save(bundle.path / "config.json")
    code = ("import os, sys; from pathlib import Path; from orlop.runtime import Spec, launch; "
            "b = Path(sys.argv[1]); l = launch(b, Spec.load(b / 'config.json'), stdin=0, "
            "stdout=2, stderr=2); print(l.pid, flush=True); os.waitpid(l.pid, 0)")
    parent = subprocess.Popen([sys.executable, "-c", code, str(bundle.path)],
                              stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    pidfd = os.pidfd_open(pid)
    try:
        parent.kill()
        parent.wait()
        ready, _, _ = select.select([pidfd], [], [], 10)
        assert ready, "the container outlived its killed parent"
    finally:
        os.close(pidfd)


# --- orlop-runtime CLI ----------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "orlop.runtime.cli", *args], check=False,
                          capture_output=True, text=True, timeout=30)


def test_cli_run_exit_code_and_output(bundle: Bundle) -> None:
    bundle.spec("sh", "-c", "echo $$ $(hostname); exit 7").save(bundle.path / "config.json")
    state = bundle.path / "state"
    r = _cli("--root", str(state), "run", "c1", "--bundle", str(bundle.path))
    assert (r.returncode, r.stdout) == (7, "1 orlopbox\n"), r.stderr
    assert os.listdir(state) == []


def test_cli_run_missing_command_is_127(bundle: Bundle) -> None:
    bundle.spec("nosuchcmd").save(bundle.path / "config.json")
    r = _cli("--root", str(bundle.path / "state"), "run", "c1", "--bundle", str(bundle.path))
    assert r.returncode == 127
    assert 'exec: "nosuchcmd": executable file not found in $PATH' in r.stderr


def test_cli_create_start_state_kill_delete(bundle: Bundle) -> None:
    import json

    bundle.spec("sleep", "1000").save(bundle.path / "config.json")
    root = str(bundle.path / "state")
    # The init inherits create's stdio: give it a file, not a pipe we would wait on.
    with open(bundle.path / "create.log", "w") as log:
        rc = subprocess.run([sys.executable, "-m", "orlop.runtime.cli", "--root", root,
                             "create", "c1", "--bundle", str(bundle.path)], check=False,
                            stdout=log, stderr=log, timeout=30).returncode
    assert rc == 0, (bundle.path / "create.log").read_text()
    st = json.loads(_cli("--root", root, "state", "c1").stdout)
    assert st["status"] == "created" and st["pid"] > 0 and st["bundle"] == str(bundle.path)
    assert "exists" in _cli("--root", root, "create", "c1", "--bundle", str(bundle.path)).stderr
    assert _cli("--root", root, "start", "c1").returncode == 0
    assert json.loads(_cli("--root", root, "state", "c1").stdout)["status"] == "running"
    assert _cli("--root", root, "delete", "c1").returncode != 0  # running, no --force
    pidfd = os.pidfd_open(st["pid"])
    try:
        assert _cli("--root", root, "kill", "c1", "KILL").returncode == 0
        assert select.select([pidfd], [], [], 10)[0]
    finally:
        os.close(pidfd)
    # the init was reparented away from us; whoever reaps it, it is gone for `state`
    for _ in range(100):
        if json.loads(_cli("--root", root, "state", "c1").stdout)["status"] == "stopped":
            break
    assert json.loads(_cli("--root", root, "state", "c1").stdout)["status"] == "stopped"
    assert _cli("--root", root, "delete", "c1").returncode == 0
    assert _cli("--root", root, "state", "c1").returncode != 0


# --- crun runs the same bundle --------------------------------------------------------

CRUN = "/usr/bin/crun"


def _crun_run(bundle: Bundle) -> subprocess.CompletedProcess[str]:
    """crun 1.8 refuses a hybrid cgroup host whose v2 hierarchy has controllers; give it a
    private mount namespace without /sys/fs/cgroup/unified (the host is not touched)."""
    cmd = (f"{CRUN} --cgroup-manager=disabled --root {bundle.path}/crun "
           f"run --bundle {bundle.path} t")
    ctl = Path("/sys/fs/cgroup/unified/cgroup.controllers")
    if ctl.exists() and ctl.read_text().strip():
        cmd = f"umount -l /sys/fs/cgroup/unified && {cmd}"
    return subprocess.run(["unshare", "-m", "sh", "-c", cmd], check=False, capture_output=True,
                          text=True, timeout=30)


@pytest.mark.crun
@pytest.mark.skipif(not os.path.exists(CRUN), reason="crun is not installed")
def test_crun_runs_the_same_bundle(bundle: Bundle) -> None:
    src = bundle.path / "vol"
    src.mkdir()
    (src / "hello").write_text("hi\n")
    spec = bundle.spec("sh", "-c", "echo $$; hostname; cat /data/hello; touch /data/x; "
                       "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; "
                       "wc -c < /proc/keys; ls /sys/class/net")
    spec.mounts.append(Mount("/data", "bind", str(src), ["rbind", "ro"]))
    spec.mounts.append(Mount("/scratch", "tmpfs", "tmpfs", ["size=1m"]))
    spec.save(bundle.path / "config.json")
    r = _crun_run(bundle)
    code, ours = bundle.run(spec)
    assert r.returncode == code == 0, r.stderr + ours
    assert "Read-only file system" in r.stderr and "Read-only file system" in ours
    # our out.txt has stdout and stderr together; crun's stdout alone must match the rest
    assert r.stdout == "".join(x for x in ours.splitlines(True) if "Read-only" not in x)
    assert "a80425fb" in ours


def test_launch_namespace_path_joins_existing(bundle: Bundle) -> None:
    """A namespace with a path is joined, not created: B sees A's hostname and network."""
    r, w = os.pipe()
    with open(os.devnull, "wb") as null:
        a = launch(bundle.path, bundle.spec("sh", "-c", "read x"), stdin=r, stdout=null.fileno(),
                   stderr=null.fileno())
    os.close(r)
    try:
        spec = bundle.spec("hostname")
        spec.hostname = ""
        spec.linux.namespaces = [n for n in spec.linux.namespaces if n.type != "uts"]
        spec.linux.namespaces.append(Namespace("uts", f"/proc/{a.pid}/ns/uts"))
        code, out = bundle.run(spec)
        assert (code, out.strip()) == (0, "orlopbox")
    finally:
        os.write(w, b"\n")
        os.close(w)
        os.waitpid(a.pid, 0)
