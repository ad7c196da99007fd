"""Every file type and every bit of metadata survives the engine's tar and copy paths:
``volume export``/``import``, ``volume clone``, ``cp`` in and out, ``export``, and
``commit`` + ``save``/``load``.

One tree holds regular files (empty, setuid, setgid, mode 0), directories (sticky, mode 0,
setgid), symlinks (relative, absolute, dangling), hard links (across directories, of
files, a FIFO and a symlink), a FIFO,
character and block devices, owners other than root, nanosecond mtimes, xattrs
(``user.*``, ``trusted.*``, ``security.capability``) and names with spaces, newlines and
bytes that are not UTF-8.  Each path is judged by a manifest of both trees (type, mode,
uid, gid, size, rdev, mtime_ns, xattrs, link target, hard-link group, content hash);
``cp`` out of a container keeps the times to the second only, as dockerd's archive.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness import Orlop

UID, GID = 1234, 5678
# A VFS_CAP_REVISION_2 capability set (cap_net_bind_service, permitted + effective).
CAP = struct.pack("<IIIII", 0x02000001, 1 << 10, 0, 0, 0)
BAD = os.fsdecode(b"bad-\xff\xfe-name")  # not UTF-8: a surrogate-escaped str


def _populate(root: Path, *, devices: bool = True) -> None:
    """The tree every test copies (``devices=False``: the container makes them)."""
    def f(rel: str, data: bytes = b"", mode: int = 0o644) -> Path:
        p = root / rel
        p.write_bytes(data)
        os.chmod(p, mode)
        return p

    (root / "dir with space").mkdir()
    f("dir with space/file\nwith newline", b"newline\n")
    f(f"dir with space/{BAD}", b"not utf-8\n")
    f("empty")
    f("setuid", b"#!/bin/sh\n", 0o4755)
    f("setgid", b"#!/bin/sh\n", 0o2755)
    f("mode0", b"secret\n", 0o000)
    f("owned", b"owned\n", 0o640)
    os.chown(root / "owned", UID, GID)
    big = f("big", os.urandom(3 << 20) + b"tail", 0o600)
    caps = f("caps", b"\x7fELF-not-really\n", 0o755)
    os.setxattr(caps, "security.capability", CAP)
    os.setxattr(big, "user.note", b"hello \xff binary")
    os.setxattr(big, "trusted.orlop", b"trusted value")
    (root / "sticky").mkdir()
    os.chmod(root / "sticky", 0o1777)
    (root / "sgdir").mkdir()
    os.chmod(root / "sgdir", 0o2775)
    os.chown(root / "sgdir", UID, GID)
    os.setxattr(root / "sgdir", "user.dir", b"on a directory")
    (root / "closed").mkdir()
    f("closed/inside", b"in a mode-0 directory\n")
    (root / "closed" / "sub").mkdir()
    os.chmod(root / "closed", 0o000)
    os.symlink("setuid", root / "rel-link")
    os.symlink("/etc/passwd", root / "abs-link")
    os.symlink("does/not/exist", root / "dangling")
    os.lchown(root / "dangling", UID, GID)
    os.link(root / "owned", root / "sgdir" / "hardlink-to-owned")
    os.link(root / "big", root / "big-again")
    os.mkfifo(root / "fifo", 0o620)
    os.link(root / "fifo", root / "sticky" / "fifo-again")
    os.link(root / "rel-link", root / "rel-link-again", follow_symlinks=False)
    os.setxattr(root / "abs-link", "trusted.on-a-link", b"link's own", follow_symlinks=False)
    if devices:
        os.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        os.mknod(root / "loop", stat.S_IFBLK | 0o660, os.makedev(7, 0))
        os.chown(root / "loop", 0, 6)


def _stamp(root: Path) -> None:
    """Distinct nanosecond mtimes on every entry, children before their directory."""
    paths = sorted((p for p in root.rglob("*")), key=lambda p: -len(p.parts))
    for i, p in enumerate([*paths, root]):
        ns = 1_600_000_000_123_456_789 + i * 1_000_000_007
        os.utime(p, ns=(ns, ns), follow_symlinks=False)


def _xattrs(p: Path) -> dict[str, bytes]:
    try:
        names = os.listxattr(p, follow_symlinks=False)
    except OSError:
        return {}
    return {n: os.getxattr(p, n, follow_symlinks=False) for n in sorted(names)
            if not n.startswith(("security.selinux", "trusted.overlay."))}


def manifest(root: Path, *, owners: bool = True, devices: bool = True,
             root_entry: bool = True, whole_seconds: bool = False
             ) -> dict[bytes, dict[str, Any]]:
    """path -> what must survive.  ``owners=False``/``devices=False``: for copies whose
    format or policy does not carry them (cp to the host, as Docker's CLI);
    ``whole_seconds``: the times truncated to the second, as ``cp`` out of a container
    writes them (moby's archive.FileInfoHeader)."""
    out: dict[bytes, dict[str, Any]] = {}
    first_of: dict[tuple[int, int], bytes] = {}
    for p in [root, *root.rglob("*")] if root_entry else root.rglob("*"):
        st = p.lstat()
        rel = os.fsencode(p.relative_to(root))
        mode = st.st_mode
        if not devices and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)):
            continue
        mtime = st.st_mtime_ns - st.st_mtime_ns % 10**9 if whole_seconds else st.st_mtime_ns
        e: dict[str, Any] = {"type": stat.S_IFMT(mode), "mode": oct(stat.S_IMODE(mode)),
                             "mtime_ns": mtime, "xattrs": _xattrs(p)}
        if owners:
            e["owner"] = (st.st_uid, st.st_gid)
        if not stat.S_ISDIR(mode):
            key = (st.st_dev, st.st_ino)
            e["hardlink_group"] = first_of.setdefault(key, rel) if st.st_nlink > 1 else None
        if stat.S_ISREG(mode):
            e["size"] = st.st_size
            e["sha256"] = hashlib.sha256(p.read_bytes()).hexdigest()
        elif stat.S_ISLNK(mode):
            e["target"] = os.readlink(p)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            e["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
        out[rel] = e
    return out


def _assert_same(a: dict[bytes, dict[str, Any]], b: dict[bytes, dict[str, Any]]) -> None:
    assert sorted(a) == sorted(b)
    diffs = {k: {f: (a[k].get(f), b[k].get(f)) for f in a[k] if a[k][f] != b[k].get(f)}
             for k in a if a[k] != b[k]}
    assert not diffs, "\n".join(f"{k!r}: {v}" for k, v in sorted(diffs.items()))


def _hardlink_groups(m: dict[bytes, dict[str, Any]]) -> list[set[bytes]]:
    groups: dict[bytes, set[bytes]] = {}
    for k, e in m.items():
        if e.get("hardlink_group"):
            groups.setdefault(e["hardlink_group"], set()).add(k)
    return sorted(groups.values(), key=sorted)


def _same_modulo_link_order(a: dict[bytes, dict[str, Any]],
                            b: dict[bytes, dict[str, Any]]) -> None:
    """The hard-link group is named after its first path in walk order, which may differ
    between two copies; compare the groups as sets."""
    assert _hardlink_groups(a) == _hardlink_groups(b)
    strip = [{k: {**e, "hardlink_group": bool(e.get("hardlink_group"))} for k, e in m.items()}
             for m in (a, b)]
    _assert_same(*strip)


def _data(o: Orlop, volume: str) -> Path:
    return Path(json.loads(o.ok("volume", "inspect", volume))[0]["Mountpoint"])


def _upper(o: Orlop, ctr: str) -> Path:
    return Path(json.loads(o.ok("inspect", ctr))[0]["GraphDriver"]["Data"]["UpperDir"])


@pytest.fixture
def volume_tree(bb: Orlop) -> tuple[Orlop, Path]:
    """Volume ``src``: the devices and the FIFO made by mknod/mkfifo in a container (the
    issue's case), the rest from the host on its _data (xattrs, odd names, times)."""
    bb.ok("volume", "create", "src")
    bb.ok("run", "--rm", "-v", "src:/v", "busybox", "sh", "-c",
          "mknod /v/null c 1 3 && chmod 666 /v/null && mknod /v/loop b 7 0 && "
          "chmod 660 /v/loop && chown 0:6 /v/loop")
    data = _data(bb, "src")
    _populate(data, devices=False)
    os.chown(data, UID, GID)
    os.chmod(data, 0o750)
    os.setxattr(data, "user.root", b"volume root")
    _stamp(data)
    return bb, data


def test_volume_export_import_keeps_every_type_and_bit(volume_tree: tuple[Orlop, Path]
                                                       ) -> None:
    bb, data = volume_tree
    want = manifest(data)
    assert stat.S_ISCHR(want[b"null"]["type"]) and want[b"null"]["rdev"] == (1, 3)
    bb.ok("volume", "export", "src", "-o", "src.tar")
    bb.ok("volume", "import", "restored", "src.tar")
    _assert_same(want, manifest(_data(bb, "restored")))
    # And into an existing volume (the exchange path), from stdin.
    bb.ok("volume", "create", "existing")
    with open(bb.cwd / "src.tar", "rb") as archive:
        subprocess.run([*_cli(bb), "volume", "import", "existing", "-"], stdin=archive,
                       check=True, capture_output=True)
    _assert_same(want, manifest(_data(bb, "existing")))
    # The original is untouched by its export.
    _assert_same(want, manifest(data))


def _cli(o: Orlop) -> list[str]:
    return [sys.executable, "-m", "orlop", "--root", str(o.root)]


def test_volume_clone_keeps_every_type_and_bit(volume_tree: tuple[Orlop, Path]) -> None:
    bb, data = volume_tree
    bb.ok("volume", "clone", "src", "copy")
    _same_modulo_link_order(manifest(data), manifest(_data(bb, "copy")))


@pytest.fixture
def host_tree(tmp_orlop_dir: Path) -> Path:
    src = tmp_orlop_dir / "host-tree" / "t"
    src.mkdir(parents=True)
    _populate(src)
    os.chown(src, UID, GID)
    os.chmod(src, 0o2750)
    os.setxattr(src, "user.root", b"tree root")
    _stamp(src)
    return src


@pytest.fixture
def in_container(bb: Orlop, host_tree: Path) -> tuple[Orlop, Path]:
    """``cp -a`` the host tree into a created container at /t; returns its upper /t."""
    bb.ok("create", "--name", "box", "busybox", "true")
    bb.ok("cp", "-a", str(host_tree), "box:/")
    return bb, _upper(bb, "box") / "t"


def test_cp_in_with_archive_keeps_every_type_and_bit(in_container: tuple[Orlop, Path],
                                                     host_tree: Path) -> None:
    _bb, upper = in_container
    _same_modulo_link_order(manifest(host_tree), manifest(upper))


def test_cp_in_without_archive_gives_root_ownership(bb: Orlop, host_tree: Path) -> None:
    bb.ok("create", "--name", "box", "busybox", "true")
    bb.ok("cp", str(host_tree), "box:/")
    got = manifest(_upper(bb, "box") / "t")
    assert {e["owner"] for e in got.values()} == {(0, 0)}
    _same_modulo_link_order(manifest(host_tree, owners=False),
                            manifest(_upper(bb, "box") / "t", owners=False))


def test_cp_out_stream_keeps_every_type_and_bit(in_container: tuple[Orlop, Path],
                                                host_tree: Path, tmp_orlop_dir: Path
                                                ) -> None:
    bb, _upper_t = in_container
    out = tmp_orlop_dir / "gnu"
    out.mkdir()
    tar = subprocess.run([*_cli(bb), "cp", "box:/t", "-"], capture_output=True,
                         check=True).stdout
    # GNU tar as the independent reader: xattrs, binary names; the times in whole
    # seconds, as dockerd's cp archive (docs/differences.md).
    subprocess.run(["tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", "-",
                    "-C", str(out)], input=tar, check=True)
    _same_modulo_link_order(manifest(host_tree, whole_seconds=True), manifest(out / "t"))


def test_cp_out_to_host_keeps_all_but_owners_and_devices(
        in_container: tuple[Orlop, Path], host_tree: Path, tmp_orlop_dir: Path) -> None:
    # Docker's CLI gives copied files the caller's owner; Orlop also makes no device
    # node on the host from a container's tar (docs/differences.md).
    bb, _upper_t = in_container
    out = tmp_orlop_dir / "out"
    out.mkdir()
    bb.ok("cp", "box:/t", str(out))
    _same_modulo_link_order(manifest(host_tree, owners=False, devices=False,
                                     whole_seconds=True),
                            manifest(out / "t", owners=False, devices=False))
    assert not (out / "t" / "null").exists()


def test_export_keeps_every_type_and_bit(in_container: tuple[Orlop, Path], host_tree: Path,
                                         tmp_orlop_dir: Path) -> None:
    bb, _upper_t = in_container
    bb.ok("export", "-o", "c.tar", "box")
    out = tmp_orlop_dir / "exported"
    out.mkdir()
    subprocess.run(["tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf",
                    str(bb.cwd / "c.tar"), "-C", str(out), "t"], check=True)
    _same_modulo_link_order(manifest(host_tree), manifest(out / "t"))


def test_commit_save_load_keeps_every_type_and_bit(in_container: tuple[Orlop, Path],
                                                   host_tree: Path, tmp_orlop_dir: Path
                                                   ) -> None:
    bb, _upper_t = in_container
    want = manifest(host_tree)
    bb.ok("commit", "box", "kept:1")
    layers = json.loads(bb.ok("image", "inspect", "kept:1"))[0]["GraphDriver"]["Data"]
    _same_modulo_link_order(want, manifest(Path(layers["UpperDir"]) / "t"))
    bb.ok("save", "-o", "kept.tar", "kept:1")
    other = Orlop(root=tmp_orlop_dir / "other-root", cwd=bb.cwd)
    other.ok("load", "-i", "kept.tar")
    loaded = json.loads(other.ok("image", "inspect", "kept:1"))[0]
    assert loaded["Id"] == json.loads(bb.ok("image", "inspect", "kept:1"))[0]["Id"]
    _same_modulo_link_order(want, manifest(Path(loaded["GraphDriver"]["Data"]["UpperDir"])
                                           / "t"))
    assert other.ok("run", "--rm", "kept:1", "cat", "/t/owned") == "owned\n"
