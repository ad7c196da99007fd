"""Native volume backup, restore and clone: `volume export`, `volume import`, `volume clone`."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from harness import Orlop, mounts_under

_FILL = ("mkdir -p /d/sub && echo record1 > /d/db.txt && echo nested > /d/sub/n.txt && "
         "ln -s db.txt /d/link && ln /d/db.txt /d/hard && chown 1000:1000 /d/db.txt && "
         "mkfifo /d/fifo && chmod 4755 /d/sub/n.txt && chmod 0700 /d/sub && "
         "dd if=/dev/zero of=/d/zeros bs=1k count=300 2>/dev/null")


def vol(o: Orlop, *args: str, input: bytes | None = None,
        check: bool = True) -> subprocess.CompletedProcess[bytes]:
    res = subprocess.run([sys.executable, "-m", "orlop", "--root", str(o.root), "volume",
                          *args], input=input, capture_output=True, cwd=o.cwd, check=False)
    if check and res.returncode != 0:
        raise AssertionError(f"volume {args} exited {res.returncode}: {res.stderr!r}")
    return res


def _listing(bb: Orlop, name: str) -> str:
    return bb.ok("run", "--rm", "-v", f"{name}:/d", "busybox", "sh", "-c",
                 "cd /d && find . | sort | while read f; do stat -c '%n %u:%g %a %F %s %h' "
                 "\"$f\"; done; cat db.txt; readlink link")


@pytest.fixture
def filled(bb: Orlop) -> Orlop:
    bb.ok("volume", "create", "--label", "team=db", "--label", "env=test", "src")
    bb.ok("run", "--rm", "-v", "src:/d", "busybox", "sh", "-c", _FILL)
    os.setxattr(bb.root / "volumes" / "src" / "_data" / "sub", "user.note", b"kept")
    return bb


def test_volume_export_import_round_trip_recreates_volume(filled: Orlop) -> None:
    bb = filled
    vol(bb, "export", "src", "-o", "src.tar")
    out = vol(bb, "import", "restored", "src.tar").stdout.decode()
    assert out.strip() == "restored"
    assert _listing(bb, "restored") == _listing(bb, "src")
    labels = bb.ok("volume", "inspect", "-f", "{{json .Labels}}", "restored").strip()
    assert labels == '{"env":"test","team":"db"}'
    data = bb.root / "volumes" / "restored" / "_data"
    assert os.getxattr(data / "sub", "user.note") == b"kept"
    assert os.stat(data / "db.txt").st_ino == os.stat(data / "hard").st_ino


def test_volume_export_sha256_checksum_round_trip_and_detects_corruption(
        filled: Orlop) -> None:
    bb = filled
    vol(bb, "export", "--checksum", "sha256", "src", "-o", "s.tar")
    data = (bb.cwd / "s.tar").read_bytes()
    assert b"orlop-volume-sum sha256:" in data[-4096:]
    vol(bb, "import", "viasha", "s.tar")
    assert _listing(bb, "viasha") == _listing(bb, "src")
    bad = bytearray(data)
    bad[len(data) // 2] ^= 0x40
    res = vol(bb, "import", "viasha2", "-", input=bytes(bad), check=False)
    assert res.returncode == 1 and b"checksum mismatch" in res.stderr


def test_volume_round_trip_keeps_sparse_files_sparse(bb: Orlop) -> None:
    bb.ok("volume", "create", "sp")
    data = bb.root / "volumes" / "sp" / "_data"
    with open(data / "sparse", "wb") as f:
        f.write(b"head")
        f.seek(64 << 20)
        f.write(b"tail")
    vol(bb, "export", "sp", "-o", "sp.tar")
    # GNU's PAX sparse format: the archive holds the data, not the hole.
    assert (bb.cwd / "sp.tar").stat().st_size < 1 << 20
    plain = bb.cwd / "plain-sp"
    plain.mkdir()
    subprocess.run(["tar", "xf", str(bb.cwd / "sp.tar"), "-C", str(plain)], check=True)
    assert os.stat(plain / "sparse").st_size == (64 << 20) + 4
    vol(bb, "import", "sp2", "sp.tar")
    out = bb.root / "volumes" / "sp2" / "_data" / "sparse"
    st = os.stat(out)
    assert st.st_size == (64 << 20) + 4
    assert st.st_blocks * 512 < 1 << 20  # the 64 MiB hole is a hole again
    with open(out, "rb") as f:
        assert f.read(4) == b"head"
        f.seek(64 << 20)
        assert f.read() == b"tail"


def test_volume_export_to_stdout_extracts_with_gnu_tar(filled: Orlop) -> None:
    bb = filled
    data = vol(bb, "export", "src").stdout
    dest = bb.cwd / "plain"
    dest.mkdir()
    res = subprocess.run(["tar", "xf", "-", "-C", str(dest)], input=data,
                         capture_output=True, check=False)
    assert res.returncode == 0 and res.stderr == b""  # not even a warning
    assert sorted(os.listdir(dest)) == ["db.txt", "fifo", "hard", "link", "sub", "zeros"]
    assert os.stat(dest / "db.txt").st_uid == 1000
    assert os.readlink(dest / "link") == "db.txt"
    assert os.stat(dest / "sub").st_mode & 0o777 == 0o700
    # And Python's tarfile reads it too.
    with tarfile.open(fileobj=__import__("io").BytesIO(data)) as tf:
        assert "sub/n.txt" in tf.getnames()


def test_volume_import_stdin_gzip_and_zstd(filled: Orlop) -> None:
    bb = filled
    data = vol(bb, "export", "src").stdout
    gz = subprocess.run(["gzip", "-c"], input=data, capture_output=True, check=True).stdout
    vol(bb, "import", "fromgz", "-", input=gz)
    assert _listing(bb, "fromgz") == _listing(bb, "src")
    try:
        import zstandard  # type: ignore[import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        pytest.skip("python3-zstandard is not installed")
    zst = subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True,
                         check=True).stdout
    vol(bb, "import", "fromzst", "-", input=zst)
    assert _listing(bb, "fromzst") == _listing(bb, "src")


def test_volume_import_plain_seed_backup_tar(bb: Orlop) -> None:
    """Any tar of a directory restores (no header, no checksum to verify)."""
    src = bb.cwd / "tree"
    (src / "a").mkdir(parents=True)
    (src / "a" / "f").write_text("x")
    subprocess.run(["tar", "cf", str(bb.cwd / "plain.tar"), "-C", str(src), "."], check=True)
    vol(bb, "import", "fromplain", "plain.tar")
    assert bb.ok("run", "--rm", "-v", "fromplain:/d", "busybox", "cat", "/d/a/f") == "x"


def test_volume_import_corrupt_or_truncated_keeps_previous_content(filled: Orlop) -> None:
    bb = filled
    vol(bb, "export", "src", "-o", "src.tar")
    data = (bb.cwd / "src.tar").read_bytes()
    bb.ok("volume", "create", "target")
    bb.ok("run", "--rm", "-v", "target:/d", "busybox", "sh", "-c", "echo old > /d/old")
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0x01  # inside file content: only the checksum sees it
    for bad in (bytes(flipped), data[: len(data) // 2], data[:-3000]):
        res = vol(bb, "import", "target", "-", input=bad, check=False)
        assert res.returncode == 1
        assert b"corrupt" in res.stderr or b"truncated" in res.stderr, res.stderr
        assert bb.ok("run", "--rm", "-v", "target:/d", "busybox", "ls", "/d").split() == \
            ["old"]
    res = vol(bb, "import", "fresh", "-", input=bytes(flipped), check=False)
    assert res.returncode == 1
    assert "fresh" not in bb.ok("volume", "ls", "-q").split()  # nothing half-made
    assert not [n for n in os.listdir(bb.root / "volumes" / "target")
                if n.startswith(".orlop-import-")]


def test_volume_import_killed_midway_keeps_previous_then_succeeds(filled: Orlop) -> None:
    import signal
    import time

    bb = filled
    vol(bb, "export", "src", "-o", "src.tar")
    data = (bb.cwd / "src.tar").read_bytes()
    bb.ok("volume", "create", "target")
    bb.ok("run", "--rm", "-v", "target:/d", "busybox", "sh", "-c", "echo old > /d/old")
    p = subprocess.Popen([sys.executable, "-m", "orlop", "--root", str(bb.root), "volume",
                          "import", "target", "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert p.stdin is not None
    p.stdin.write(data[: len(data) // 2])
    p.stdin.flush()
    time.sleep(1.0)  # let it extract what it has, then kill it mid-archive
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert bb.ok("run", "--rm", "-v", "target:/d", "busybox", "ls", "/d").split() == ["old"]
    # The next import removes the dead one's staging dir and swaps in the new content.
    vol(bb, "import", "target", "src.tar")
    assert _listing(bb, "target") == _listing(bb, "src")
    assert [n for n in os.listdir(bb.root / "volumes" / "target")
            if n.startswith(".orlop-import-")] == []


def test_volume_import_in_use_refused_unless_force(filled: Orlop) -> None:
    bb = filled
    vol(bb, "export", "src", "-o", "src.tar")
    bb.ok("create", "--name", "user1", "-v", "busy:/d", "busybox", "true")
    res = vol(bb, "import", "busy", "src.tar", check=False)
    assert res.returncode == 1 and b"in use" in res.stderr
    vol(bb, "import", "--force", "busy", "src.tar")
    assert _listing(bb, "busy") == _listing(bb, "src")


def test_volume_import_into_running_container_with_force_is_seen(filled: Orlop) -> None:
    bb = filled
    vol(bb, "export", "src", "-o", "src.tar")
    bb.ok("run", "-d", "--name", "live", "-v", "livev:/d", "busybox", "sleep", "60")
    try:
        vol(bb, "import", "--force", "livev", "src.tar")
        assert bb.ok("exec", "live", "cat", "/d/db.txt") == "record1\n"
    finally:
        bb("rm", "-f", "live")


def test_volume_import_hostile_archives_contained(bb: Orlop, tmp_orlop_dir: Path) -> None:
    import io

    host = tmp_orlop_dir / "hostfile"
    host.write_text("host")
    bb.ok("volume", "create", "hv")
    bb.ok("run", "--rm", "-v", "hv:/d", "busybox", "sh", "-c", "echo keep > /d/keep")

    def tar_of(*members: tarfile.TarInfo, data: bytes = b"") -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
            for m in members:
                tf.addfile(m, io.BytesIO(data) if m.isreg() else None)
        return buf.getvalue()

    def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "",
               size: int = 0) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type, ti.linkname, ti.size = kind, link, size
        return ti

    cases = [
        tar_of(member("../../../../../escape-vol", size=1), data=b"x"),
        tar_of(member("lnk", tarfile.SYMTYPE, str(tmp_orlop_dir)),
               member("lnk/written", size=1), data=b"x"),
        tar_of(member("hl", tarfile.LNKTYPE, str(host))),
        tar_of(member("hl", tarfile.LNKTYPE, "../../../../" + str(host))),
    ]
    for data in cases:
        vol(bb, "import", "--force", "hv", "-", input=data, check=False)
        assert not (tmp_orlop_dir / "written").exists()
        assert not Path("/escape-vol").exists()
        assert host.read_text() == "host" and os.stat(host).st_nlink == 1
    # Device nodes are restored as the archive describes them (issue 10: a volume
    # round-trips every file type), inside the volume and nowhere else.
    dev = member("sda", tarfile.BLKTYPE)
    dev.devmajor, dev.devminor = 8, 0
    vol(bb, "import", "--force", "hv", "-", input=tar_of(dev, member("ok", size=1), data=b"y"))
    data_dir = bb.root / "volumes" / "hv" / "_data"
    assert sorted(os.listdir(data_dir)) == ["ok", "sda"]
    st = os.lstat(data_dir / "sda")
    assert stat.S_ISBLK(st.st_mode) and st.st_rdev == os.makedev(8, 0)


def test_volume_import_tar_bomb_bigger_than_disk_keeps_previous(
        bb: Orlop, tmp_orlop_dir: Path) -> None:
    small = tmp_orlop_dir / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(small)], check=True)
    o = Orlop(root=small / "root", cwd=bb.cwd)
    o.ok("import", str(Path(__file__).resolve().parents[2] / ".cache" / "busybox.tar"),
         "busybox:latest")
    o.ok("volume", "create", "tiny")
    o.ok("run", "--rm", "-v", "tiny:/d", "busybox", "sh", "-c", "echo old > /d/old")
    bomb = bb.cwd / "bomb"
    bomb.mkdir()
    with open(bomb / "big", "wb") as f:
        f.write(os.urandom(1 << 20) * 40)
    tar = subprocess.run(["tar", "cf", "-", "-C", str(bomb), "."], capture_output=True,
                         check=True).stdout
    res = vol(o, "import", "tiny", "-", input=tar, check=False)
    assert res.returncode == 1 and b"no space left" in res.stderr, res.stderr
    assert o.ok("run", "--rm", "-v", "tiny:/d", "busybox", "ls", "/d").split() == ["old"]
    assert str(small) in mounts_under(str(small))


def test_volume_clone_copies_content_labels_and_is_independent(filled: Orlop) -> None:
    bb = filled
    assert vol(bb, "clone", "src", "copy").stdout.decode().strip() == "copy"
    assert _listing(bb, "copy") == _listing(bb, "src")
    assert bb.ok("volume", "inspect", "-f", "{{json .Labels}}", "copy").strip() == \
        '{"env":"test","team":"db"}'
    bb.ok("run", "--rm", "-v", "copy:/d", "busybox", "sh", "-c", "echo changed > /d/db.txt")
    assert "record1" in _listing(bb, "src")
    res = vol(bb, "clone", "src", "copy", check=False)
    assert res.returncode == 1 and b"already exists" in res.stderr
    res = vol(bb, "clone", "nosuch", "other", check=False)
    assert res.returncode == 1 and b"No such volume" in res.stderr
