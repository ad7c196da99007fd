"""Pure parts of commit, cp, save and volume backup: no root, no containers."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zlib
from pathlib import Path

import pytest

from orlop.archive.extract import extract_tar
from orlop.archive.tarwriter import TarWriter, TreeOptions
from orlop.cli.commands.cp import _split
from orlop.errors import InvalidArchiveError, InvalidParameterError
from orlop.images.commit import commit_image_config, container_config_for_commit, merge_env
from orlop.images.save import full_name
from orlop.volumes.backup import (
    ArchiveMeta,
    _global_header,
    _TailHashing,
    new_hasher,
)


def test_merge_env_later_key_replaces_in_place() -> None:
    assert merge_env(["A=1", "PATH=/bin"], ["PATH=/x", "B=2"]) == ["A=1", "PATH=/x", "B=2"]


def test_commit_config_anonymous_volumes_kept_named_not() -> None:
    cfg = container_config_for_commit(
        {"Cmd": ["sh"], "Env": ["PATH=/bin"], "Volumes": {"/img": {}}}, hostname="h",
        user="", env=["X=1"], cmd=None, entrypoint=None, image_ref="busybox",
        working_dir="", labels={}, volumes={"/data": {}})
    assert cfg["Volumes"] == {"/img": {}, "/data": {}}
    # dockerd's Config.Env: the user's entries, then the image's (moby's merge)
    assert cfg["Cmd"] == ["sh"] and cfg["Env"] == ["X=1", "PATH=/bin"]


def test_commit_config_entrypoint_without_cmd_drops_image_cmd() -> None:
    cfg = container_config_for_commit(
        {"Cmd": ["sh"]}, hostname="h", user="", env=[], cmd=None, entrypoint=["top"],
        image_ref="b", working_dir="", labels={}, volumes=None)
    assert cfg["Entrypoint"] == ["top"] and cfg["Cmd"] is None


def test_commit_image_config_history_parent_and_changes() -> None:
    parent = {"architecture": "amd64", "os": "linux", "history": [{"created": "t0"}]}
    out = commit_image_config(parent, "sha256:p", "cid", {"Env": None, "Cmd": None},
                              ["ENV A=b"], author="me", message="m", created="t1",
                              empty_layer=True)
    assert out["config"]["Env"] == ["A=b"]
    assert out["history"][-1] == {"created": "t1", "author": "me", "comment": "m",
                                  "empty_layer": True}
    assert out["parent"] == "sha256:p" and out["container"] == "cid"


def test_commit_image_config_bad_change_refused() -> None:
    with pytest.raises(InvalidParameterError, match="not a valid change command"):
        commit_image_config({}, "p", "c", {}, ["RUN x"], author="", message="",
                            created="t", empty_layer=False)


@pytest.mark.parametrize(("arg", "want"), [
    ("c:/data", ("c", "/data")), ("/abs:x", ("", "/abs:x")), ("./a:b", ("", "./a:b")),
    ("file", ("", "file")), ("-", ("", "-")), ("c:rel", ("c", "rel")),
])
def test_cp_argument_split_as_docker(arg: str, want: tuple[str, str]) -> None:
    assert _split(arg) == want


@pytest.mark.parametrize(("tag", "name"), [
    ("busybox:latest", "docker.io/library/busybox:latest"),
    ("me/app:1", "docker.io/me/app:1"),
    ("registry:5000/app:1", "registry:5000/app:1"),
    ("localhost/app:1", "localhost/app:1"),
])
def test_save_full_name_as_containerd(tag: str, name: str) -> None:
    assert full_name(tag) == name


def test_archive_meta_round_trip_and_bad_header() -> None:
    meta = ArchiveMeta("v", "local", {"a": "b"}, None, "t", "sha256")
    assert ArchiveMeta.from_comment(meta.to_comment()) == meta
    assert ArchiveMeta.from_comment("something else") is None
    with pytest.raises(InvalidArchiveError):
        ArchiveMeta.from_comment('orlop-volume/1 {"labels": {"a": 1}}')


def test_tail_hashing_holds_back_the_trailer() -> None:
    data = os.urandom(100_000)
    r = _TailHashing(io.BytesIO(data), 2560, hashlib.sha256())
    while r.read(777):
        pass
    assert r.tail == data[-2560:]
    assert r.hasher.hexdigest() == hashlib.sha256(data[:-2560]).hexdigest()


def test_crc32_hasher_matches_zlib_and_unknown_refused() -> None:
    h = new_hasher("crc32")
    h.update(b"abc")
    h.update(b"def")
    assert h.hexdigest() == f"{zlib.crc32(b'abcdef'):08x}"
    with pytest.raises(InvalidParameterError):
        new_hasher("md5")


def test_global_header_parsed_from_writer_output(tmp_path: Path) -> None:
    out = tmp_path / "g.tar"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT, 0o600)
    w = TarWriter(fd)
    w.add_global({"comment": "orlop-volume/1 {}"})
    w.close()
    os.close(fd)
    parsed = _global_header(out.read_bytes())
    assert parsed is not None and parsed[0]["comment"] == "orlop-volume/1 {}"


def test_tar_writer_tree_symlinks_hardlinks_and_extract_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f").write_bytes(b"x" * 5000)
    os.link(src / "sub" / "f", src / "hard")
    os.symlink("/etc/passwd", src / "abs-link")  # archived as a link, never read
    out = tmp_path / "t.tar"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT, 0o600)
    dfd = os.open(src, os.O_RDONLY | os.O_DIRECTORY)
    try:
        w = TarWriter(fd, hasher=hashlib.sha256())
        w.add_tree(dfd, "top", TreeOptions())
        w.close()
    finally:
        os.close(dfd)
        os.close(fd)
    with tarfile.open(out) as tf:
        members = {m.name: m for m in tf.getmembers()}
    assert members["top/abs-link"].issym() and members["top/abs-link"].linkname == \
        "/etc/passwd"
    links = [m for m in members.values() if m.islnk()]
    assert len(links) == 1 and links[0].linkname in ("top/hard", "top/sub/f")
    dest = tmp_path / "dest"
    dest.mkdir()
    dd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with open(out, "rb") as f:
            extract_tar(f, dd, keep_owner=False)
    finally:
        os.close(dd)
    assert (dest / "top" / "sub" / "f").read_bytes() == b"x" * 5000
    assert os.stat(dest / "top" / "hard").st_ino == os.stat(dest / "top" / "sub" / "f").st_ino


def test_tar_writer_descend_false_keeps_dir_drops_content(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "data").mkdir(parents=True)
    (src / "data" / "secret").write_text("volume content")
    (src / "keep").write_text("k")
    out = tmp_path / "t.tar"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT, 0o600)
    dfd = os.open(src, os.O_RDONLY | os.O_DIRECTORY)
    try:
        w = TarWriter(fd)
        w.add_tree(dfd, "", TreeOptions(descend=lambda arc: arc != "data"),
                   include_root=False)
        w.close()
    finally:
        os.close(dfd)
        os.close(fd)
    with tarfile.open(out) as tf:
        assert sorted(tf.getnames()) == ["data", "keep"]


def test_extract_sparse_zero_blocks_become_holes(tmp_path: Path) -> None:
    buf = io.BytesIO()
    payload = b"a" + bytes(4 << 20) + b"z"
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo("s")
        ti.size = len(payload)
        tf.addfile(ti, io.BytesIO(payload))
    buf.seek(0)
    dd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        extract_tar(buf, dd, keep_owner=False)
    finally:
        os.close(dd)
    assert (tmp_path / "s").read_bytes() == payload
    assert os.stat(tmp_path / "s").st_blocks * 512 < 1 << 20
