"""Docker's data-management model end to end: volumes, binds, tmpfs, --volumes-from, copy-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness import Orlop, mounts_under
from images_util import entry, extend_busybox


def _inspect(o: Orlop, ref: str, fmt: str) -> object:
    return json.loads(o.ok("inspect", "-f", "{{json " + fmt + "}}", ref))


# --- bind mounts ----------------------------------------------------------------------


def test_bind_web_root_live_from_both_sides(bb: Orlop, tmp_orlop_dir: Path) -> None:
    web = tmp_orlop_dir / "webroot"
    web.mkdir()
    (web / "index.html").write_text("v1\n")
    script = ("cat /www/index.html; while [ ! -f /www/host-says ]; do sleep 0.05; done; "
              "cat /www/host-says; echo from-container > /www/ctr-says")
    proc = subprocess.Popen(
        [sys.executable, "-m", "orlop", "--root", str(bb.root), "run", "--rm",
         "-v", f"{web}:/www", "busybox", "sh", "-c", script],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    (web / "host-says").write_text("from-host\n")  # written while the container runs
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out == "v1\nfrom-host\n"
    assert (web / "ctr-says").read_text() == "from-container\n"
    st = (web / "ctr-says").stat()
    assert (st.st_uid, st.st_gid) == (0, 0)


def test_bind_missing_host_dir_created_for_v_refused_for_mount(bb: Orlop,
                                                               tmp_orlop_dir: Path) -> None:
    missing = tmp_orlop_dir / "a" / "b" / "c"
    bb.ok("run", "--rm", "-v", f"{missing}:/mnt", "busybox", "touch", "/mnt/f")
    assert (missing / "f").exists()
    assert oct(missing.stat().st_mode & 0o777) == "0o755"
    other = tmp_orlop_dir / "nope"
    res = bb("run", "--rm", "--mount", f"type=bind,src={other},dst=/x", "busybox", "true")
    assert res.returncode == 125
    assert ('invalid mount config for type "bind": bind source path does not exist: '
            f"{other}") in res.stderr
    assert not other.exists()
    assert bb.ok("ps", "-aq") == ""


def test_bind_relative_dot_source_is_resolved_against_cwd(bb: Orlop) -> None:
    bb.ok("run", "--rm", "-v", "./rel:/x", "busybox", "sh", "-c", "echo hi > /x/f")
    assert (bb.cwd / "rel" / "f").read_text() == "hi\n"


def test_bind_ro_enforced_and_inspect_shape(bb: Orlop, tmp_orlop_dir: Path) -> None:
    d = tmp_orlop_dir / "host"
    d.mkdir()
    res = bb("run", "--name", "ro", "-v", f"{d}:/data:ro", "busybox", "touch", "/data/x")
    assert res.returncode == 1 and "Read-only file system" in res.stderr
    assert _inspect(bb, "ro", ".Mounts") == [{
        "Type": "bind", "Source": str(d), "Destination": "/data", "Mode": "ro", "RW": False,
        "Propagation": "rprivate"}]
    assert _inspect(bb, "ro", ".HostConfig.Binds") == [f"{d}:/data:ro"]


def test_bind_recursive_readonly_makes_submounts_readonly(bb: Orlop,
                                                          tmp_orlop_dir: Path) -> None:
    d = tmp_orlop_dir / "rro"
    (d / "sub").mkdir(parents=True)
    # A submount below the source, in a private namespace of the test's own.
    script = (f"mount -t tmpfs tmpfs {d}/sub && {sys.executable} -m orlop --root {bb.root} "
              f"run --rm --mount type=bind,src={d},dst=/d,readonly,bind-recursive=readonly,"
              f"bind-propagation=rprivate busybox "
              "sh -c 'touch /d/sub/x 2>&1; touch /d/y 2>&1; echo done'")
    res = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                         capture_output=True, text=True, check=False)
    assert res.stdout.count("Read-only file system") == 2, res.stdout + res.stderr


# --- named and anonymous volumes ---------------------------------------------------------


def test_named_volume_created_on_first_use_and_shared(bb: Orlop) -> None:
    bb.ok("run", "--rm", "-v", "shared:/data", "busybox", "sh", "-c", "echo one > /data/f")
    out = bb.ok("run", "--rm", "-v", "shared:/a", "-v", "shared:/b:ro", "busybox", "sh", "-c",
                "cat /a/f; echo two >> /a/f; cat /b/f; touch /b/x 2>&1 || true")
    assert out.startswith("one\none\ntwo\n")
    assert "Read-only file system" in out
    data = bb.root / "volumes" / "shared" / "_data" / "f"
    assert data.read_text() == "one\ntwo\n"
    vol = json.loads(bb.ok("volume", "inspect", "shared"))[0]
    assert vol["Mountpoint"] == str(bb.root / "volumes" / "shared" / "_data")
    assert vol["Driver"] == "local"


def test_volume_mount_inspect_docker_shape(bb: Orlop) -> None:
    bb.ok("create", "--name", "cc", "-v", "vol_named:/data", "-v", "/anon", "busybox", "true")
    mounts = _inspect(bb, "cc", ".Mounts")
    assert isinstance(mounts, list)
    named = next(m for m in mounts if m["Destination"] == "/data")
    assert named == {"Type": "volume", "Name": "vol_named",
                     "Source": str(bb.root / "volumes" / "vol_named" / "_data"),
                     "Destination": "/data", "Driver": "local", "Mode": "z", "RW": True,
                     "Propagation": ""}
    anon = next(m for m in mounts if m["Destination"] == "/anon")
    assert len(anon["Name"]) == 64 and anon["Mode"] == "" and anon["RW"] is True
    assert anon["Source"] == str(bb.root / "volumes" / anon["Name"] / "_data")
    assert _inspect(bb, "cc", ".HostConfig.Binds") == ["vol_named:/data"]
    assert _inspect(bb, "cc", ".Config.Volumes") == {"/anon": {}}


def test_rm_keeps_volumes_rm_v_removes_anonymous_only(bb: Orlop) -> None:
    bb.ok("create", "--name", "kk", "-v", "/anon", "-v", "keepme:/named", "busybox", "true")
    anon = bb.ok("inspect", "-f", "{{range .Mounts}}{{.Name}} {{end}}", "kk")
    assert sorted(bb.ok("volume", "ls", "-q").split()) == sorted(
        anon.split())
    bb.ok("rm", "kk")
    assert len(bb.ok("volume", "ls", "-q").split()) == 2  # rm keeps both
    bb.ok("create", "--name", "k2", "-v", "/anon2", "-v", "keepme:/named", "busybox", "true")
    bb.ok("rm", "-v", "k2")
    names = bb.ok("volume", "ls", "-q").split()
    assert "keepme" in names and len(names) == 2  # the first anon + keepme


def test_run_rm_removes_anonymous_keeps_named(bb: Orlop) -> None:
    bb.ok("run", "--rm", "-v", "/anon", "-v", "named:/named", "busybox", "true")
    assert bb.ok("volume", "ls", "-q").split() == ["named"]


def test_volume_rm_refused_while_used_by_stopped_container(bb: Orlop) -> None:
    cid = bb.ok("create", "-v", "inuse_vol:/d", "busybox", "true").strip()
    res = bb("volume", "rm", "inuse_vol")
    assert res.returncode == 1
    assert f"remove inuse_vol: volume is in use - [{cid}]" in res.stderr
    bb.ok("rm", cid)
    bb.ok("volume", "rm", "inuse_vol")


def test_concurrent_runs_create_one_named_volume(bb: Orlop) -> None:
    def run(i: int) -> subprocess.CompletedProcess[str]:
        return bb("run", "--rm", "-v", "race:/data", "busybox", "sh", "-c",
                  f"echo {i} > /data/{i}")

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(run, range(6)))
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    assert bb.ok("volume", "ls", "-q").split() == ["race"]
    assert sorted(os.listdir(bb.root / "volumes" / "race" / "_data")) == [
        str(i) for i in range(6)]


# --- tmpfs ------------------------------------------------------------------------------


def test_tmpfs_size_mode_and_defaults(bb: Orlop) -> None:
    out = bb.ok("run", "--rm", "--tmpfs", "/t:size=1m,mode=1770", "busybox", "sh", "-c",
                "dd if=/dev/zero of=/t/f bs=1k count=2048 2>&1 | tail -n 2; "
                "grep ' /t ' /proc/self/mountinfo; stat -c %a /t")
    assert "1024+0 records out" in out  # stopped at 1 MiB
    assert "nosuid" in out and "nodev" in out and "noexec" in out and "size=1024k" in out
    assert out.strip().endswith("1770")
    res = bb("run", "--name", "tm", "--mount", "type=tmpfs,dst=/m,tmpfs-size=65536",
             "busybox", "true")
    assert res.returncode == 0
    assert _inspect(bb, "tm", ".Mounts") == [{
        "Type": "tmpfs", "Source": "", "Destination": "/m", "Mode": "", "RW": True,
        "Propagation": ""}]
    assert _inspect(bb, "tm", ".HostConfig.Mounts") == [
        {"Type": "tmpfs", "Target": "/m", "TmpfsOptions": {"SizeBytes": 65536}}]


def test_tmpfs_flag_recorded_in_hostconfig(bb: Orlop) -> None:
    bb.ok("create", "--name", "tf", "--tmpfs", "/t:size=1m,noexec", "busybox", "true")
    assert _inspect(bb, "tf", ".HostConfig.Tmpfs") == {"/t": "size=1m,noexec"}
    assert _inspect(bb, "tf", ".Mounts") == []


# --- --volumes-from ---------------------------------------------------------------------


def test_volumes_from_two_consumers_see_each_other(bb: Orlop, tmp_orlop_dir: Path) -> None:
    bind = tmp_orlop_dir / "vfbind"
    bind.mkdir()
    (bind / "f").write_text("bindfile\n")
    bb.ok("create", "--name", "dbdata", "-v", "/dbdata", "-v", "vf_named:/named",
          "-v", f"{bind}:/bind", "--tmpfs", "/tfs", "busybox", "true")
    bb.ok("run", "--rm", "--volumes-from", "dbdata", "busybox", "sh", "-c",
          "echo a > /dbdata/a; echo n > /named/n")
    out = bb.ok("run", "--rm", "--volumes-from", "dbdata", "busybox", "sh", "-c",
                "cat /dbdata/a /named/n /bind/f; echo b > /dbdata/b; grep -c ' /tfs ' "
                "/proc/self/mountinfo || true")
    assert out.split() == ["a", "n", "bindfile", "0"]
    bb.ok("run", "--rm", "--volumes-from", "dbdata", "busybox", "cat", "/dbdata/b")
    # Chained: a container that got them from dbdata passes all three on.
    bb.ok("create", "--name", "db1", "--volumes-from", "dbdata", "busybox", "true")
    out = bb.ok("run", "--rm", "--volumes-from", "db1", "busybox", "sh", "-c",
                "cat /dbdata/a /named/n /bind/f")
    assert out.split() == ["a", "n", "bindfile"]
    mounts = _inspect(bb, "db1", ".Mounts")
    assert isinstance(mounts, list) and len(mounts) == 3
    assert all(m["Mode"] == "" for m in mounts if m["Type"] == "volume")
    assert _inspect(bb, "db1", ".HostConfig.VolumesFrom") == ["dbdata"]


def test_volumes_from_ro_and_explicit_v_wins(bb: Orlop) -> None:
    bb.ok("create", "--name", "src", "-v", "/dbdata", "busybox", "true")
    res = bb("run", "--rm", "--volumes-from", "src:ro", "busybox", "touch", "/dbdata/x")
    assert res.returncode == 1 and "Read-only file system" in res.stderr
    bb.ok("run", "--rm", "--volumes-from", "src", "-v", "other:/dbdata", "busybox", "touch",
          "/dbdata/mine")
    assert (bb.root / "volumes" / "other" / "_data" / "mine").exists()


def test_volumes_from_errors_are_dockers(bb: Orlop) -> None:
    res = bb("run", "--rm", "--volumes-from", "nosuchctr", "busybox", "true")
    assert res.returncode == 125 and "No such container: nosuchctr" in res.stderr
    bb.ok("create", "--name", "ss", "busybox", "true")
    res = bb("run", "--rm", "--volumes-from", "ss:xx", "busybox", "true")
    assert res.returncode == 125 and "invalid mode: xx" in res.stderr


def test_anonymous_volume_shared_survives_rm_v_of_creator(bb: Orlop) -> None:
    bb.ok("create", "--name", "creator", "-v", "/shared", "busybox", "true")
    name = bb.ok("inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "creator").strip()
    bb.ok("create", "--name", "user", "--volumes-from", "creator", "busybox", "true")
    bb.ok("rm", "-v", "creator")
    assert bb.ok("volume", "ls", "-q").split() == [name]
    bb.ok("rm", "-v", "user")
    assert bb.ok("volume", "ls", "-q") == ""


# --- copy-up and image VOLUMEs ------------------------------------------------------------


@pytest.fixture
def volimg(bb: Orlop, busybox_tar: Path, tmp_orlop_dir: Path) -> Orlop:
    tar = extend_busybox(busybox_tar, tmp_orlop_dir / "volimg.tar", [
        entry("data", kind="dir", mode=0o750, uid=1234, gid=1234),
        entry("data/hello.txt", data=b"hello\n", uid=1234, gid=1234),
        entry("data/sub", kind="dir"),
        entry("data/sub/n.txt", data=b"nested\n"),
        entry("data/link", kind="symlink", link="/etc/passwd"),
        entry("etc/conf", kind="dir"),
        entry("etc/conf/app.conf", data=b"x=1\n"),
    ])
    bb.ok("import", "-c", "VOLUME /data", str(tar), "volimg")
    return bb


def test_copy_up_image_volume_into_anonymous_volume(volimg: Orlop) -> None:
    out = volimg.ok("run", "--name", "cu", "volimg", "sh", "-c",
                    "stat -c '%u:%g %a' /data; cat /data/hello.txt /data/sub/n.txt; "
                    "readlink /data/link")
    assert out.split("\n")[:4] == ["1234:1234 750", "hello", "nested", "/etc/passwd"]
    name = volimg.ok("inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "cu").strip()
    data = volimg.root / "volumes" / name / "_data"
    assert os.path.islink(data / "link")  # a symlink, never followed
    assert (data / "hello.txt").stat().st_uid == 1234


def test_copy_up_rules_named_nocopy_nonempty_and_bind(volimg: Orlop,
                                                      tmp_orlop_dir: Path) -> None:
    volimg.ok("run", "--rm", "-v", "cu_new:/etc/conf", "volimg", "true")
    assert (volimg.root / "volumes/cu_new/_data/app.conf").read_text() == "x=1\n"
    volimg.ok("run", "--rm", "-v", "nc:/data:nocopy", "volimg", "true")
    assert os.listdir(volimg.root / "volumes/nc/_data") == []
    volimg.ok("run", "--rm", "--mount", "src=nc2,dst=/data,volume-nocopy", "volimg", "true")
    assert os.listdir(volimg.root / "volumes/nc2/_data") == []
    # A non-empty volume is never touched.
    volimg.ok("run", "--rm", "-v", "full:/x", "busybox", "sh", "-c", "echo mine > /x/own")
    volimg.ok("run", "--rm", "-v", "full:/data", "volimg", "true")
    assert os.listdir(volimg.root / "volumes/full/_data") == ["own"]
    # Emptied later: copied again (Docker's rule: whenever the volume is empty).
    os.unlink(volimg.root / "volumes/full/_data/own")
    volimg.ok("run", "--rm", "-v", "full:/data", "volimg", "true")
    assert "hello.txt" in os.listdir(volimg.root / "volumes/full/_data")
    # A bind mount is never copied into.
    host = tmp_orlop_dir / "bindover"
    host.mkdir()
    volimg.ok("run", "--rm", "-v", f"{host}:/data", "volimg", "true")
    assert os.listdir(host) == []


def test_run_rm_removes_image_volume(volimg: Orlop) -> None:
    volimg.ok("run", "--rm", "volimg", "true")
    assert volimg.ok("volume", "ls", "-q") == ""


# --- symlinks in the image never lead out of the rootfs ---------------------------------


def test_mount_target_symlink_resolved_inside_rootfs(bb: Orlop, busybox_tar: Path,
                                                     tmp_orlop_dir: Path) -> None:
    tar = extend_busybox(busybox_tar, tmp_orlop_dir / "evil.tar", [
        entry("escape", kind="symlink", link="/etc"),
        entry("up", kind="symlink", link="../../../../../.."),
    ])
    bb.ok("import", str(tar), "evil")
    host = tmp_orlop_dir / "src"
    host.mkdir()
    (host / "marker").write_text("m\n")
    before = sorted(os.listdir("/etc"))
    out = bb.ok("run", "--rm", "-v", f"{host}:/escape/x", "-v", "ev:/up/y", "evil", "sh",
                "-c", "cat /etc/x/marker; ls -d /y")
    assert out.split() == ["m", "/y"]
    assert sorted(os.listdir("/etc")) == before  # nothing created on the host's /etc
    assert not os.path.exists("/y") and not os.path.exists("/x")


def test_volume_subpath_must_stay_inside_the_volume(bb: Orlop) -> None:
    bb.ok("run", "--rm", "-v", "sp:/v", "busybox", "sh", "-c",
          "mkdir -p /v/sub && echo s > /v/sub/f && ln -s /etc /v/out && ln -s sub /v/in")
    out = bb.ok("run", "--rm", "--mount", "src=sp,dst=/m,volume-subpath=sub", "busybox",
                "cat", "/m/f")
    assert out == "s\n"
    res = bb("run", "--rm", "--mount", "src=sp,dst=/m,volume-subpath=out", "busybox", "true")
    assert res.returncode == 125 and "escapes the volume" in res.stderr
    res = bb("run", "--rm", "--mount", "src=sp,dst=/m,volume-subpath=nope", "busybox", "true")
    assert res.returncode == 125 and "nope" in res.stderr


# --- bad specs leave nothing behind ---------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["-v", "a:b:c:d"], "invalid volume specification: 'a:b:c:d'"),
    (["-v", "vol:/x:zz"], "invalid mode: zz"),
    (["-v", "relative/path:/x"], '"relative/path" includes invalid characters'),
    (["-v", "vol:relative"], "mount path must be absolute"),
    (["-v", "/tmp:/"], "destination can't be '/'"),
    (["-v", "good:/data", "-v", "other:/data"], "Duplicate mount point: /data"),
    (["--mount", "type=foo,target=/x"], 'invalid mount config for type "foo": mount type '
     "unknown"),
    (["--mount", "type=volume,dst=/x,foo=bar"], "unexpected key 'foo' in 'foo=bar'"),
    (["--mount", "type=tmpfs,src=x,dst=/t"], "field Source must not be specified"),
    (["--tmpfs", "t"], "mount path must be absolute"),
])
def test_bad_specs_refused_and_nothing_created(bb: Orlop, args: list[str],
                                               message: str) -> None:
    res = bb("run", "--rm", *args, "busybox", "true")
    assert res.returncode == 125
    assert message in res.stderr
    assert bb.ok("ps", "-aq") == ""
    assert bb.ok("volume", "ls", "-q") == ""
    assert not mounts_under(str(bb.root))


def test_volume_opt_tmpfs_volume_mounted_only_while_used(bb: Orlop) -> None:
    out = bb.ok("run", "--rm", "--mount",
                "type=volume,src=tv,dst=/data,volume-driver=local,volume-opt=type=tmpfs,"
                "volume-opt=device=tmpfs,volume-opt=o=size=5m", "busybox", "sh", "-c",
                "grep ' /data ' /proc/self/mountinfo; echo x > /data/f")
    assert "tmpfs" in out and "size=5120k" in out
    vol = json.loads(bb.ok("volume", "inspect", "tv"))[0]
    assert vol["Options"] == {"device": "tmpfs", "o": "size=5m", "type": "tmpfs"}
    assert not mounts_under(str(bb.root))  # unmounted when the last user stopped


def test_system_df_counts_volumes(bb: Orlop) -> None:
    bb.ok("run", "--rm", "-v", "dfv:/d", "busybox", "sh", "-c",
          "dd if=/dev/zero of=/d/f bs=1k count=10 2>/dev/null")
    out = bb.ok("system", "df")
    assert out.splitlines()[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    vol_line = next(line for line in out.splitlines() if line.startswith("Local Volumes"))
    assert vol_line.split()[2:4] == ["1", "0"]
    out = bb.ok("system", "df", "-v")
    assert "dfv" in out and "10.24kB" in out


def test_volume_rm_racing_container_starts_one_wins_cleanly(bb: Orlop) -> None:
    """Each round: a `run -v racer:/d` and a `volume rm racer` at once.  Either the run
    created/used the volume and rm was refused or came after, or rm won first and the
    run made a fresh volume; never a run on a deleted directory, never an error other
    than Docker's in-use refusal or not-found."""
    def run() -> subprocess.CompletedProcess[str]:
        return bb("run", "--rm", "-v", "racer:/d", "busybox", "sh", "-c",
                  "echo ok > /d/f && cat /d/f")

    def rm() -> subprocess.CompletedProcess[str]:
        return bb("volume", "rm", "racer")

    for _ in range(5):
        bb.ok("volume", "create", "racer")
        with ThreadPoolExecutor(max_workers=2) as pool:
            fr, fm = pool.submit(run), pool.submit(rm)
            r, m = fr.result(), fm.result()
        assert r.returncode == 0 and r.stdout == "ok\n", r.stderr
        assert m.returncode == 0 or "volume is in use" in m.stderr or \
            "No such volume" in m.stderr, m.stderr
        names = bb.ok("volume", "ls", "-q").split()
        if "racer" in names:
            assert (bb.root / "volumes/racer/_data").is_dir()
            bb.ok("volume", "rm", "racer")
    assert not mounts_under(str(bb.root))


def test_volume_inspect_size_gives_usage_data(bb: Orlop) -> None:
    bb.ok("create", "--name", "user1", "-v", "sized:/d", "busybox", "true")
    bb.ok("run", "--rm", "-v", "sized:/d", "busybox", "sh", "-c",
          "dd if=/dev/zero of=/d/f bs=1000 count=3 2>/dev/null")
    vol = json.loads(bb.ok("volume", "inspect", "--size", "sized"))[0]
    assert vol["UsageData"] == {"RefCount": 1, "Size": 3000}
    assert "UsageData" not in json.loads(bb.ok("volume", "inspect", "sized"))[0]


@pytest.mark.skipif(not os.path.exists("/usr/bin/crun"), reason="crun is not installed")
def test_volume_subpath_with_crun_binds_the_pinned_directory(bb: Orlop) -> None:
    bb.ok("run", "--rm", "-v", "spc:/v", "busybox", "sh", "-c",
          "mkdir -p /v/sub && echo s > /v/sub/f")
    out = bb.ok("run", "--rm", "--runtime", "crun", "--mount",
                "src=spc,dst=/m,volume-subpath=sub", "busybox", "cat", "/m/f")
    assert out == "s\n"


def test_volume_subpath_swapped_for_symlink_after_check_stays_inside(bb: Orlop) -> None:
    """The subpath is pinned by a bind mount made through the fd of its check: a directory
    renamed away and replaced by a symlink to / afterwards is never what gets mounted."""
    import orlop.engine.containers.runner as runner
    from orlop.mounts.spec import MountPoint

    vol = bb.root / "volumes" / "swap" / "_data"
    bb.ok("volume", "create", "swap")
    (vol / "sub").mkdir()
    (vol / "sub" / "marker").write_text("inside\n")
    mp = MountPoint(type="volume", destination="/m", name="swap", subpath="sub")
    pinned = runner._with_source(mp, str(vol))
    try:
        os.rename(vol / "sub", vol / "moved")
        os.symlink("/", vol / "sub")  # the attacker's swap, after the check
        assert not pinned.source.startswith(str(vol))  # never a path inside the volume
        assert sorted(os.listdir(pinned.source)) == ["marker"]
    finally:
        runner.release_pinned()
    assert not mounts_under(str(bb.root))
    assert not os.path.exists(pinned.source)
