"""commit (no volume content, whiteouts, Config.Volumes) and cp (both directions, tar
streams, running and stopped containers, volumes, binds, read-only, and the symlink
breakouts of CVE-2018-15664 / CVE-2019-14271)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

from harness import Orlop


def _names(data: bytes) -> list[str]:
    """Member names as GNU tar lists them (directories with their trailing slash)."""
    return subprocess.run(["tar", "tf", "-"], input=data, capture_output=True,
                          check=True).stdout.decode().split()


def _cp_stream(o: Orlop, src: str) -> bytes:
    cmd = [sys.executable, "-m", "orlop", "--root", str(o.root), "cp", src, "-"]
    return subprocess.run(cmd, check=True, capture_output=True, cwd=o.cwd).stdout


def test_commit_excludes_volume_content_keeps_anonymous_targets(bb: Orlop) -> None:
    bb.ok("run", "--name", "c_commit", "-v", "/data", "-v", "cm_named:/named", "busybox",
          "sh", "-c", "echo vol > /data/in-vol; echo named > /named/in-named; "
          "echo root > /in-rootfs; rm /bin/vi; mkdir -p /etc/x && touch /etc/x/y")
    out = bb.ok("commit", "c_commit", "committed:1").strip()
    assert out.startswith("sha256:") and len(out) == 71
    vols = bb.ok("image", "inspect", "-f", "{{json .Config.Volumes}}", "committed:1").strip()
    assert json.loads(vols) == {"/data": {}}
    res = bb.ok("run", "--rm", "committed:1", "sh", "-c",
                "cat /in-rootfs; ls -A /data /named; ls /bin/vi 2>&1; ls /etc/x")
    assert res.splitlines()[0] == "root"
    assert "in-vol" not in res and "in-named" not in res
    assert "/bin/vi: No such file or directory" in res  # the whiteout was committed
    assert res.rstrip().endswith("y")


def test_commit_change_message_author_and_empty_dirs(bb: Orlop) -> None:
    bb.ok("run", "--name", "c2", "busybox", "sh", "-c", "mkdir -p /opq/a && touch /opq/a/f")
    bb.ok("commit", "-c", "ENV FOO=bar", "-c", 'CMD ["cat", "/opq/a/f"]', "-m", "msg",
          "-a", "me", "c2", "c2img")
    info = json.loads(bb.ok("image", "inspect", "c2img"))[0]
    assert "FOO=bar" in info["Config"]["Env"]
    assert info["Config"]["Cmd"] == ["cat", "/opq/a/f"]
    assert info["Comment"] == "msg" and info["Author"] == "me"
    assert len(info["RootFS"]["Layers"]) == 2
    # Committing the committed image's container again: opaque dirs round-trip.
    bb.ok("run", "--name", "c3", "c2img", "sh", "-c", "rm -rf /opq && mkdir -p /opq/b")
    bb.ok("commit", "c3", "c3img")
    assert bb.ok("run", "--rm", "c3img", "ls", "/opq").split() == ["b"]


def test_commit_bad_change_refused_before_work(bb: Orlop) -> None:
    bb.ok("run", "--name", "c4", "busybox", "true")
    res = bb("commit", "-c", "RUN rm -rf /", "c4", "x:1")
    assert res.returncode == 1
    assert "run is not a valid change command" in res.stderr


def test_cp_volume_paths_of_stopped_container_reference_2_15(bb: Orlop) -> None:
    bb.ok("run", "--name", "c_cp", "-v", "cp_vol:/data", "-v", "/anon", "busybox", "sh", "-c",
          "echo in-vol > /data/f; echo in-anon > /anon/g")
    bb.ok("cp", "c_cp:/data/f", "./f.out")
    assert (bb.cwd / "f.out").read_text() == "in-vol\n"
    bb.ok("cp", "c_cp:/anon", "./anon.out")
    assert os.listdir(bb.cwd / "anon.out") == ["g"]
    (bb.cwd / "h.txt").write_text("from-host\n")
    bb.ok("cp", "h.txt", "c_cp:/data/h.txt")
    assert bb.ok("run", "--rm", "-v", "cp_vol:/x", "busybox", "ls", "/x").split() == \
        ["f", "h.txt"]
    assert _names(_cp_stream(bb, "c_cp:/data")) == ["data/", "data/f", "data/h.txt"]


def test_cp_of_a_stopped_containers_network_files_reads_the_engines(bb: Orlop) -> None:
    """/etc/hostname, /etc/hosts and /etc/resolv.conf are the engine's files bound at
    start: a stopped container's cp reads them (dockerd mounts them for its archive
    path), not the layer's empty ones; export keeps the layer's."""
    bb.ok("run", "--name", "c_net", "--hostname", "nethost", "--add-host", "db:10.9.8.7",
          "--network", "none", "busybox", "true")
    bb.ok("cp", "c_net:/etc/hostname", "./hostname.out")
    assert (bb.cwd / "hostname.out").read_text() == "nethost\n"
    bb.ok("cp", "c_net:/etc/hosts", "./hosts.out")
    assert "10.9.8.7\tdb" in (bb.cwd / "hosts.out").read_text()
    exported = subprocess.run([sys.executable, "-m", "orlop", "--root", str(bb.root),
                               "export", "c_net"], check=True, capture_output=True,
                              cwd=bb.cwd).stdout
    with tarfile.open(fileobj=io.BytesIO(exported)) as tf:
        member = tf.extractfile("etc/hostname")
        assert member is not None and member.read() == b""


def test_cp_into_ro_volume_bind_and_tmpfs_of_stopped_container(bb: Orlop) -> None:
    (bb.cwd / "h.txt").write_text("from-host\n")
    bb.ok("volume", "create", "cp_vol")
    bb.ok("create", "--name", "c_cp_ro", "-v", "cp_vol:/data:ro", "busybox", "true")
    res = bb("cp", "h.txt", "c_cp_ro:/data/h3.txt")
    assert res.returncode == 1
    assert "mounted volume is marked read-only" in res.stderr
    bind = bb.cwd / "cpbind"
    bind.mkdir()
    bb.ok("create", "--name", "c_cp_b", "-v", f"{bind}:/b", "--tmpfs", "/t", "busybox",
          "true")
    bb.ok("cp", "h.txt", "c_cp_b:/b/")
    assert os.listdir(bind) == ["h.txt"]
    res = bb("cp", "h.txt", "c_cp_b:/t/")
    assert res.returncode == 1 and "no such directory" in res.stderr


def test_cp_running_container_both_directions_and_streams(bb: Orlop) -> None:
    bb.ok("run", "-d", "--name", "rr", "-v", "cp_vol:/data", "busybox", "sleep", "60")
    try:
        (bb.cwd / "h.txt").write_text("hello\n")
        bb.ok("cp", "h.txt", "rr:/data/h2.txt")
        assert bb.ok("exec", "rr", "cat", "/data/h2.txt") == "hello\n"
        assert _names(_cp_stream(bb, "rr:/data")) == ["data/", "data/h2.txt"]
        # A tar stream in: owners kept (-a is implied for streams, as Docker).
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            ti = tarfile.TarInfo("owned.txt")
            ti.size, ti.uid, ti.gid = 3, 1234, 5678
            tf.addfile(ti, io.BytesIO(b"abc"))
        p = subprocess.run([sys.executable, "-m", "orlop", "--root", str(bb.root), "cp", "-",
                            "rr:/data"], input=buf.getvalue(), capture_output=True, check=False)
        assert p.returncode == 0, p.stderr
        out = subprocess.run(["tar", "tvf", "-"], input=_cp_stream(bb, "rr:/data/owned.txt"),
                             capture_output=True, check=True).stdout.decode()
        assert "1234/5678" in out
    finally:
        bb("rm", "-f", "rr")


def test_cp_archive_flag_keeps_owner_default_makes_root(bb: Orlop) -> None:
    f = bb.cwd / "own.txt"
    f.write_text("x")
    os.chown(f, 4321, 4321)
    bb.ok("create", "--name", "cc", "busybox", "true")
    bb.ok("cp", str(f), "cc:/plain.txt")
    bb.ok("cp", "-a", str(f), "cc:/kept.txt")
    out = subprocess.run(["tar", "tvf", "-"], input=_cp_stream(bb, "cc:/plain.txt"),
                         capture_output=True, check=True).stdout.decode()
    assert "0/0" in out
    out = subprocess.run(["tar", "tvf", "-"], input=_cp_stream(bb, "cc:/kept.txt"),
                         capture_output=True, check=True).stdout.decode()
    assert "4321/4321" in out


def test_cp_follow_link_and_symlink_kept(bb: Orlop) -> None:
    bb.ok("run", "--name", "cc", "busybox", "sh", "-c",
          "echo data > /target; ln -s /target /link")
    bb.ok("cp", "cc:/link", "./l1")
    assert os.readlink(bb.cwd / "l1") == "/target"
    bb.ok("cp", "-L", "cc:/link", "./l2")
    assert (bb.cwd / "l2").read_text() == "data\n"


def test_cp_symlink_to_host_root_resolves_inside_container_cve_2018_15664(
        bb: Orlop, tmp_orlop_dir: Path) -> None:
    secret = tmp_orlop_dir / "host-secret"
    secret.write_text("top secret")
    bb.ok("run", "--name", "cc", "-v", "vv:/data", "busybox", "sh", "-c",
          f"ln -s / /data/evil; ln -s {tmp_orlop_dir} /data/hostdir; mkdir -p "
          f"{tmp_orlop_dir}")
    # Out: the link means the container's root, never the host's.
    res = bb("cp", f"cc:/data/hostdir/{secret.name}", "./stolen")
    assert res.returncode == 1 and "Could not find the file" in res.stderr
    assert not (bb.cwd / "stolen").exists()
    # In: writing through the link lands in the container.
    (bb.cwd / "h.txt").write_text("x")
    bb.ok("cp", "h.txt", "cc:/data/hostdir/planted")
    assert not (tmp_orlop_dir / "planted").exists()
    # ... in the container's own directory of that name.
    assert _names(_cp_stream(bb, f"cc:{tmp_orlop_dir}/planted")) == ["planted"]


def test_cp_symlink_swap_race_never_leaves_container_cve_2018_15664(
        bb: Orlop, tmp_orlop_dir: Path) -> None:
    """The exploit of CVE-2018-15664: the container swaps a directory and a symlink to
    '/' in a tight loop while cp runs; the host must never be read or written."""
    secret = tmp_orlop_dir / "secret"
    secret.write_text("host secret")
    loop = ("mkdir -p /w/real /w/x && echo inside > /w/real/secret && ln -s / /w/sym; "
            "while true; do mv /w/real /w/tmp; mv /w/sym /w/real; mv /w/real /w/sym; "
            "mv /w/tmp /w/real; done")
    bb.ok("run", "-d", "--name", "racer", "busybox", "sh", "-c", loop)
    try:
        time.sleep(0.3)
        (bb.cwd / "payload").write_text("pwned")
        rel = str(tmp_orlop_dir).lstrip("/")
        for i in range(15):
            bb("cp", f"racer:/w/real/{rel}/secret", f"./out{i}")
            got = bb.cwd / f"out{i}"
            if got.exists():
                assert "host secret" not in got.read_text()
            bb("cp", "payload", f"racer:/w/real/{rel}/written{i}")
        assert not list(tmp_orlop_dir.glob("written*"))
    finally:
        bb("rm", "-f", "racer")


def test_cp_never_runs_container_code_cve_2019_14271(bb: Orlop) -> None:
    """docker cp loaded the container's libnss (CVE-2019-14271). Orlop runs nothing from
    the container: booby-trapped libraries and a trojan tar change nothing."""
    bb.ok("run", "--name", "cc", "-v", "trap:/trap", "busybox", "sh", "-c",
          "mkdir -p /lib/x86_64-linux-gnu /lib64 && for d in /lib /lib64 "
          "/lib/x86_64-linux-gnu; do echo garbage > $d/libnss_files.so.2; done; "
          "echo 'passwd: files' > /etc/nsswitch.conf; rm /bin/tar; "
          "printf '#!/bin/sh\\necho ran > /trap/marker\\n' > /bin/tar; chmod +x /bin/tar; "
          "echo payload > /f")
    bb.ok("cp", "cc:/f", "./f")
    (bb.cwd / "g").write_text("g")
    bb.ok("cp", "g", "cc:/g")
    assert (bb.cwd / "f").read_text() == "payload\n"
    assert bb.ok("run", "--rm", "-v", "trap:/t", "busybox", "ls", "-A", "/t") == ""


def test_cp_hostile_tar_stream_contained(bb: Orlop, tmp_orlop_dir: Path) -> None:
    bb.ok("create", "--name", "cc", "-v", "hv:/data", "busybox", "true")
    for members in (
        [("../../../../escape", "f", b"x")],
        [("link", "sym", str(tmp_orlop_dir)), ("link/escaped", "f", b"x")],
        [("hl", "hard", str(tmp_orlop_dir / "host-file"))],
    ):
        (tmp_orlop_dir / "host-file").write_text("host")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            for name, kind, data in members:
                ti = tarfile.TarInfo(name)
                if kind == "f":
                    assert isinstance(data, bytes)
                    ti.size = len(data)
                    tf.addfile(ti, io.BytesIO(data))
                else:
                    ti.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
                    ti.linkname = str(data)
                    tf.addfile(ti)
        subprocess.run([sys.executable, "-m", "orlop", "--root", str(bb.root), "cp", "-",
                        "cc:/data"], input=buf.getvalue(), capture_output=True, check=False)
        assert not (tmp_orlop_dir / "escaped").exists()
        assert not Path("/escape").exists()
        assert (tmp_orlop_dir / "host-file").read_text() == "host"
        assert os.stat(tmp_orlop_dir / "host-file").st_nlink == 1


def test_cp_makes_a_missing_destination_directory_as_docker(bb: Orlop) -> None:
    """dockerd 20.10 + docker CLI 28 (moby PrepareArchiveCopy), seen here:
    ``cp c:/dir/. ./missing/`` and ``cp c:/dir ./missing/`` make ``missing`` with dir's
    content, ``cp c:/dir/a ./missing/`` is "no such directory", a missing parent is
    ``invalid output path: directory "..." does not exist``; into the container the same
    (``cp ./d/. c:/new/`` makes /new)."""
    bb.ok("create", "--name", "mk", "busybox", "true")
    tree = bb.cwd / "d"
    (tree / "sub").mkdir(parents=True)
    (tree / "a").write_text("a")
    (tree / "sub" / "b").write_text("b")
    bb.ok("cp", "./d/.", "mk:/new1/")
    bb.ok("cp", "./d", "mk:/new2/")
    res = bb("cp", "./d/a", "mk:/new3/")
    assert (res.returncode, res.stderr) == (1, "Error: no such directory\n")
    # a missing parent in the container: dockerd's 404 to the PUT
    res = bb("cp", "./d/a", "mk:/nox/new4")
    assert (res.returncode, res.stderr) == (1, "Error: Could not find the file /nox in "
                                                "container mk\n")
    bb.ok("cp", "mk:/new1/.", "./out1/")
    bb.ok("cp", "mk:/new2", "./out2/")
    for out in ("out1", "out2"):
        assert sorted(str(p.relative_to(bb.cwd / out)) for p in (bb.cwd / out).rglob("*")) \
            == ["a", "sub", "sub/b"]
    res = bb("cp", "mk:/new1/a", "./out3/")
    assert (res.returncode, res.stderr) == (1, "Error: no such directory\n")
    assert not (bb.cwd / "out3").exists()
    res = bb("cp", "mk:/new1/.", "./x/y/out4/")
    assert (res.returncode, res.stderr) == (
        1, f'Error: invalid output path: directory "{bb.cwd}/x/y" does not exist\n')
