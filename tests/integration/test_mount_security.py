"""Mount-path attacks of issue 10, each refused or contained (real containers, as root).

/proc is always procfs (items 2), read-only binds are recursively read-only (3), the
engine root is out of reach of other host users (5) and of private binds (6), and a
volume-subpath may name a file without opening a way out of the volume (10).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import Orlop, mounts_under
from images_util import entry, extend_busybox
from testsupport import dir_with_submount

CRUN = shutil.which("crun")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _nothing_left(o: Orlop) -> None:
    assert o.ok("ps", "-aq") == ""
    assert o.ok("volume", "ls", "-q") == ""
    assert not mounts_under(str(o.root))


# --- item 2: /proc stays procfs -------------------------------------------------------------


@pytest.mark.parametrize("volume", ["/proc", "/proc/sys", "/sys/x", "/sys"])
def test_image_volume_on_proc_or_sys_is_refused(bb: Orlop, busybox_tar: Path,
                                                volume: str) -> None:
    bb.ok("import", "-c", f"VOLUME {volume}", str(busybox_tar), "hostile")
    res = bb("run", "--rm", "hostile", "sh", "-c", "cat /proc/self/stat")
    assert res.returncode == 125, res.stdout + res.stderr
    assert f"invalid image volume '{volume}': a volume cannot be mounted on" in res.stderr
    _nothing_left(bb)


@pytest.mark.parametrize(("args", "message"), [
    (["-v", "pv:/proc"], '"/proc" cannot be mounted because it is not of type proc'),
    (["--mount", "type=bind,src=/tmp,dst=/proc/sys"],
     '"/proc/sys" cannot be mounted because it is inside /proc'),
    (["--mount", "type=volume,dst=/proc/"],
     '"/proc" cannot be mounted because it is not of type proc'),
    (["--tmpfs", "/proc/x"], '"/proc/x" cannot be mounted because it is inside /proc'),
    (["--mount", "type=tmpfs,dst=/proc/meminfo"],
     '"/proc/meminfo" cannot be mounted because it is inside /proc'),
])
def test_user_mount_on_or_under_proc_is_refused(bb: Orlop, args: list[str],
                                                message: str) -> None:
    res = bb("run", "--rm", *args, "busybox", "true")
    assert res.returncode == 125 and message in res.stderr, res.stderr
    _nothing_left(bb)


def test_lxcfs_style_bind_under_proc_is_allowed(bb: Orlop, tmp_orlop_dir: Path) -> None:
    fake = tmp_orlop_dir / "meminfo"
    fake.write_text("MemTotal: 1 kB\n")
    out = bb.ok("run", "--rm", "--mount", f"type=bind,src={fake},dst=/proc/meminfo,readonly",
                "busybox", "sh", "-c", "cat /proc/meminfo; stat -f -c %T /proc")
    assert out.split("\n")[:2] == ["MemTotal: 1 kB", "proc"]


@pytest.mark.parametrize("runtime", ["orlop", "crun"])
def test_mount_through_image_symlink_into_proc_is_refused(bb: Orlop, busybox_tar: Path,
                                                          tmp_orlop_dir: Path,
                                                          runtime: str) -> None:
    """The image's /data -> /proc: the mount target resolves (inside the rootfs) onto the
    container's procfs; the runtime refuses it rather than cover procfs."""
    if runtime == "crun" and not CRUN:
        pytest.skip("crun is not installed")
    tar = extend_busybox(busybox_tar, tmp_orlop_dir / "procln.tar", [
        entry("data", kind="symlink", link="/proc"),
        entry("rel", kind="symlink", link="../proc/sys"),
    ])
    bb.ok("import", str(tar), "procln")
    for target in ("/data", "/rel"):
        res = bb("run", "--rm", "--runtime", runtime, "-v", f"pl:{target}", "procln", "sh",
                 "-c", "stat -f -c %T /proc; ls /proc/self/ >/dev/null && echo PROC-OK")
        # The built-in runtime checks the pinned target; for crun (which would follow the
        # link) the engine resolves the destinations before it runs.
        assert res.returncode == 125, res.stdout + res.stderr
        assert "the destination resolves" in res.stderr, res.stderr
        bb("rm", "-fv", *bb.ok("ps", "-aq").split())
        bb("volume", "rm", "-f", "pl")
    assert not mounts_under(str(bb.root))


# --- item 3: read-only binds are recursively read-only ----------------------------------------


@pytest.fixture
def with_submount(tmp_orlop_dir: Path) -> Iterator[Path]:
    """``<tmp>/host`` holding a tmpfs mounted at ``host/sub`` (unmounted at teardown)."""
    with dir_with_submount(tmp_orlop_dir / "host") as host:
        yield host


SCRIPT = ("cat /m/sub/in-sub.txt 2>/dev/null || echo NO-SUBMOUNT; "
          "touch /m/sub/new 2>/dev/null && echo SUB-WRITABLE || echo SUB-READONLY; "
          "touch /m/new 2>/dev/null && echo TOP-WRITABLE || echo TOP-READONLY")


@pytest.mark.parametrize("runtime", ["orlop", "crun"])
@pytest.mark.parametrize("how", [
    "-v {src}:/m:ro",
    "--mount type=bind,src={src},dst=/m,readonly",
    "--mount type=bind,src={src},dst=/m,readonly,bind-recursive=enabled",
    "--mount type=bind,src={src},dst=/m,readonly,bind-recursive=readonly,"
    "bind-propagation=rprivate",
])
def test_readonly_bind_makes_submounts_readonly(bb: Orlop, with_submount: Path, how: str,
                                                runtime: str) -> None:
    """moby PR #45278 (Docker 25): a plain MS_RDONLY bind leaves every mount below its
    source writable in the container; rro (mount_setattr AT_RECURSIVE) covers them."""
    if runtime == "crun" and not CRUN:
        pytest.skip("crun is not installed")
    out = bb.ok("run", "--rm", "--runtime", runtime, *how.format(src=with_submount).split(),
                "busybox", "sh", "-c", SCRIPT)
    assert out.split() == ["sub", "SUB-READONLY", "TOP-READONLY"]
    assert not (with_submount / "sub" / "new").exists()


@pytest.mark.parametrize("runtime", ["orlop", "crun"])
def test_bind_recursive_writable_keeps_submounts_writable(bb: Orlop, with_submount: Path,
                                                          runtime: str) -> None:
    if runtime == "crun" and not CRUN:
        pytest.skip("crun is not installed")
    out = bb.ok("run", "--rm", "--runtime", runtime, "--mount",
                f"type=bind,src={with_submount},dst=/m,readonly,bind-recursive=writable",
                "busybox", "sh", "-c", SCRIPT)
    assert out.split() == ["sub", "SUB-WRITABLE", "TOP-READONLY"]
    assert (with_submount / "sub" / "new").exists()


def test_bind_recursive_disabled_does_not_show_submounts(bb: Orlop, with_submount: Path) -> None:
    out = bb.ok("run", "--rm", "--mount",
                f"type=bind,src={with_submount},dst=/m,readonly,bind-recursive=disabled",
                "busybox", "sh", "-c", SCRIPT + "; grep -c ' /m/sub ' /proc/self/mountinfo || true")
    assert out.split() == ["NO-SUBMOUNT", "SUB-READONLY", "TOP-READONLY", "0"]


def test_bind_recursive_flag_errors_are_dockers(bb: Orlop, tmp_orlop_dir: Path) -> None:
    for opts, message in [
        ("bind-recursive=writable", "option 'bind-recursive=writable' requires 'readonly' to be "
         "specified in conjunction"),
        ("readonly,bind-recursive=readonly", "option 'bind-recursive=readonly' requires "
         "'bind-propagation=rprivate' to be specified in conjunction"),
        ("bind-recursive=bogus", 'invalid value for bind-recursive: bogus (must be "enabled", '
         '"disabled", "writable", or "readonly")'),
    ]:
        res = bb("run", "--rm", "--mount", f"type=bind,src={tmp_orlop_dir},dst=/m,{opts}",
                 "busybox", "true")
        assert res.returncode == 125 and message in res.stderr, res.stderr


# --- item 5: other host users cannot reach volume data ---------------------------------------


def _as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NOBODY, *argv], capture_output=True, text=True, check=False)


def _check_unreachable(o: Orlop) -> None:
    data = o.root / "volumes" / "secretvol" / "_data"
    assert (data / "f").read_text() == "secret\n"  # there, for root
    for argv in (["ls", str(o.root)], ["ls", str(o.root / "volumes")],
                 ["ls", str(data)], ["cat", str(data / "f")],
                 ["ls", str(o.root / "containers")], ["ls", str(o.root / "layers")]):
        res = _as_nobody(*argv)
        assert res.returncode != 0 and "Permission denied" in res.stderr, (argv, res)
    assert (o.root.stat().st_mode & 0o7777) == 0o710
    assert (o.root / "volumes").stat().st_mode & 0o7777 == 0o701
    assert (o.root / "containers").stat().st_mode & 0o7777 == 0o710


def test_unprivileged_user_cannot_list_or_read_volume_data(bb: Orlop,
                                                           tmp_orlop_dir: Path) -> None:
    os.chmod(tmp_orlop_dir, 0o755)  # mkdtemp's 0700 would hide everything on its own
    bb.ok("run", "--name", "keeper", "-v", "secretvol:/d", "busybox", "sh", "-c",
          "echo secret > /d/f")
    _check_unreachable(bb)


def test_root_with_old_modes_is_repaired_when_opened(bb: Orlop, tmp_orlop_dir: Path) -> None:
    os.chmod(tmp_orlop_dir, 0o755)
    bb.ok("run", "--name", "keeper", "-v", "secretvol:/d", "busybox", "sh", "-c",
          "echo secret > /d/f")
    # The modes an older Orlop made: a traversable root and world-readable containers/.
    os.chmod(bb.root, 0o711)
    os.chmod(bb.root / "containers", 0o755)
    assert _as_nobody("cat", str(bb.root / "volumes/secretvol/_data/f")).returncode == 0
    bb.ok("ps", "-a")  # any command opening the root repairs it
    _check_unreachable(bb)


# --- item 6: the engine root cannot be bound privately ---------------------------------------


def _daemon_root_error(root: Path, source: Path, propagation: str) -> str:
    return ('invalid mount config: must use either propagation mode "rslave" or "rshared" '
            f'when mount source is within the daemon root, daemon root: "{root}", bind mount '
            f'source: "{source}", propagation: "{propagation}"')


def test_binding_the_engine_root_privately_is_refused(bb: Orlop, tmp_orlop_dir: Path) -> None:
    root = bb.root
    for args, source, prop in [
        (["--mount", f"type=bind,src={root},dst=/r,bind-propagation=rprivate"], root,
         "rprivate"),
        (["--mount", f"type=bind,src={tmp_orlop_dir},dst=/r,bind-propagation=private"],
         tmp_orlop_dir, "private"),
        (["-v", "/:/host:rprivate"], Path("/"), "rprivate"),
        (["-v", f"{root}/volumes:/v:slave"], root / "volumes", "slave"),
        (["-v", f"{root}/volumes:/v:shared"], root / "volumes", "shared"),
    ]:
        res = bb("run", "--rm", *args, "busybox", "true")
        assert res.returncode == 125, (args, res.stderr)
        assert _daemon_root_error(root, source, prop) in res.stderr, res.stderr
    _nothing_left(bb)


def test_binding_the_engine_root_rslave_or_by_default_is_allowed(bb: Orlop,
                                                                 tmp_orlop_dir: Path) -> None:
    root = bb.root
    bb.ok("create", "--name", "dflt", "-v", f"{tmp_orlop_dir}:/t", "--mount",
          f"type=bind,src={root},dst=/r", "busybox", "true")
    mounts = json.loads(bb.ok("inspect", "-f", "{{json .Mounts}}", "dflt"))
    assert {m["Destination"]: m["Propagation"] for m in mounts} == {"/t": "rslave",
                                                                    "/r": "rslave"}
    api = json.loads(bb.ok("inspect", "-f", "{{json .HostConfig.Mounts}}", "dflt"))
    assert api[0]["BindOptions"] == {"Propagation": "rslave"}
    # rshared needs a source on a shared mount (Docker's check): make one around the root
    # (as / is on a systemd host; unmounted at teardown).
    subprocess.run(["mount", "--bind", str(tmp_orlop_dir), str(tmp_orlop_dir)], check=True)
    subprocess.run(["mount", "--make-shared", str(tmp_orlop_dir)], check=True)
    out = bb.ok("run", "--rm", "-v", f"{root}:/r:rslave", "--mount",
                f"type=bind,src={root}/layers,dst=/v,bind-propagation=rshared", "busybox",
                "ls", "/r")
    assert "orlop.db" in out.split()
    # A sibling whose name only starts like the root is not inside it.
    sibling = Path(str(root) + "2")
    sibling.mkdir()
    bb.ok("run", "--rm", "-v", f"{sibling}:/s:rprivate", "busybox", "true")


@pytest.mark.parametrize("runtime", ["orlop", "crun"])
def test_engine_root_bind_receives_the_hosts_unmounts(bb: Orlop, tmp_orlop_dir: Path,
                                                      runtime: str) -> None:
    """The point of rslave for a bind of the root: a mount the engine (here: the test)
    takes away below the root goes away in the container too, instead of being held
    there privately; a private bind elsewhere keeps its copy, as in Docker."""
    if runtime == "crun" and not CRUN:
        pytest.skip("crun is not installed")
    tmp = str(tmp_orlop_dir)
    # A shared mount around the root, as / is on a systemd host (unmounted at teardown).
    subprocess.run(["mount", "--bind", tmp, tmp], check=True)
    subprocess.run(["mount", "--make-shared", tmp], check=True)
    probe, other = bb.root / "probe", tmp_orlop_dir / "other"
    probe.mkdir()
    (other / "m").mkdir(parents=True)
    for d in (probe, other / "m"):
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "probetmpfs", str(d)],
                       check=True)
    bb.ok("run", "-d", "--name", "holder", "--runtime", runtime, "-v", f"{bb.root}:/r",
          "-v", f"{other}:/o", "busybox", "sleep", "60")
    try:
        def mounted() -> list[str]:
            out = bb.ok("exec", "holder", "cat", "/proc/self/mountinfo")
            return sorted(line.split()[4] for line in out.splitlines()
                          if line.split()[4] in ("/r/probe", "/o/m"))
        assert mounted() == ["/o/m", "/r/probe"]
        for d in (probe, other / "m"):
            subprocess.run(["umount", str(d)], check=True)
        assert mounted() == ["/o/m"]  # rslave followed the host; rprivate kept its copy
    finally:
        bb("rm", "-f", "holder")


# --- item 10: a volume-subpath may name a file -------------------------------------------------


@pytest.mark.parametrize("runtime", ["orlop", "crun"])
def test_volume_subpath_naming_a_file_is_mounted_as_a_file(bb: Orlop, runtime: str) -> None:
    if runtime == "crun" and not CRUN:
        pytest.skip("crun is not installed")
    bb.ok("run", "--rm", "-v", "cfg:/v", "busybox", "sh", "-c",
          "mkdir /v/conf && echo 'answer=42' > /v/conf/x.conf && ln -s conf/x.conf /v/link "
          "&& ln -s /etc/passwd /v/out && ln -s ../../../../etc/shadow /v/up")
    out = bb.ok("run", "--rm", "--runtime", runtime, "--mount",
                "src=cfg,dst=/etc/x.conf,volume-subpath=conf/x.conf", "busybox", "sh", "-c",
                "cat /etc/x.conf; [ -f /etc/x.conf ] && echo FILE; echo more >> /etc/x.conf")
    assert out.split() == ["answer=42", "FILE"]
    assert (bb.root / "volumes/cfg/_data/conf/x.conf").read_text() == "answer=42\nmore\n"
    out = bb.ok("run", "--rm", "--runtime", runtime, "--mount",
                "src=cfg,dst=/etc/y.conf,volume-subpath=link,readonly", "busybox", "sh", "-c",
                "head -1 /etc/y.conf; echo x >> /etc/y.conf || echo RO")
    assert out.split() == ["answer=42", "RO"]
    for escaping in ("out", "up"):
        res = bb("run", "--rm", "--runtime", runtime, "--mount",
                 f"src=cfg,dst=/etc/z.conf,volume-subpath={escaping}", "busybox", "true")
        assert res.returncode == 125 and "path escapes the volume" in res.stderr, res.stderr
    assert not mounts_under(str(bb.root))
    assert not [n for n in os.listdir(bb.root / "volumes/cfg") if n.startswith(".subpath")]


def test_volume_subpath_file_is_copied_out_with_cp(bb: Orlop, tmp_orlop_dir: Path) -> None:
    bb.ok("run", "--rm", "-v", "cfg2:/v", "busybox", "sh", "-c", "echo hi > /v/f.txt")
    bb.ok("create", "--name", "cpc", "--mount", "src=cfg2,dst=/etc/f.txt,volume-subpath=f.txt",
          "busybox", "true")
    bb.ok("cp", "cpc:/etc/f.txt", str(tmp_orlop_dir / "out.txt"))
    assert (tmp_orlop_dir / "out.txt").read_text() == "hi\n"
    assert not mounts_under(str(bb.root))

