"""Podman's ``U`` and tmpfs ``uid=``/``gid=``, with real containers (root, a temporary
--root each): a volume's content chowned to ``--user`` and to an image's ``USER``
(resolved in the image's own /etc/passwd), a bind source too, symlinks inside the
volume that point out of it never followed (the host targets keep their owner),
``inspect`` showing the mode, host directories Podman refuses refused before anything
is created, and tmpfs owners visible with ``stat`` in the container."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.integration.conftest import Orlop

pytestmark = pytest.mark.root


def _owner(path: Path) -> tuple[int, int]:
    st = path.lstat()
    return st.st_uid, st.st_gid


def _outside(orlop: Orlop) -> tuple[Path, Path]:
    """A host file and a host directory outside any volume, owned by root."""
    host = orlop.cwd / "host"
    (host / "dir").mkdir(parents=True)
    (host / "secret").write_text("root's\n")
    (host / "dir" / "inner").write_text("root's too\n")
    for p in (host / "secret", host / "dir", host / "dir" / "inner"):
        os.chown(p, 0, 0)
    return host / "secret", host / "dir"


def _mounts(orlop: Orlop, name: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = json.loads(
        orlop.ok("inspect", "-f", "{{json .Mounts}}", name))
    return out


def test_u_chowns_a_named_volume_to_the_user_flag_without_following_symlinks(
        bb: Orlop) -> None:
    secret, hostdir = _outside(bb)
    bb.ok("volume", "create", "data")
    d = bb.root / "volumes" / "data" / "_data"
    (d / "sub" / "deeper").mkdir(parents=True)
    (d / "f").write_text("x")
    (d / "sub" / "deeper" / "g").write_text("y")
    os.symlink(str(secret), d / "abs-out")  # absolute, to a host file
    os.symlink("../../../../../../../../" + str(secret).lstrip("/"), d / "sub" / "rel-out")
    os.symlink(str(hostdir), d / "dir-out")  # a directory out of the volume
    out = bb.ok("run", "--name", "u1", "--user", "1000:1000", "-v", "data:/d:U", "busybox",
                "sh", "-c", "stat -c '%u:%g' /d /d/f /d/sub /d/sub/deeper/g; "
                "touch /d/new && echo wrote")
    assert out.split() == ["1000:1000"] * 4 + ["wrote"]
    # The links themselves belong to the user now; what they point at does not.
    for link in (d / "abs-out", d / "sub" / "rel-out", d / "dir-out"):
        assert _owner(link) == (1000, 1000)
    for target in (secret, hostdir, hostdir / "inner"):
        assert _owner(target) == (0, 0)
    assert secret.read_text() == "root's\n"
    (mp,) = _mounts(bb, "u1")
    assert (mp["Name"], mp["Mode"], mp["RW"]) == ("data", "U", True)
    # At every start, as Podman: a file root put back is the user's again.
    os.chown(d / "f", 0, 0)
    bb.ok("start", "-a", "u1")
    assert _owner(d / "f") == (1000, 1000)
    bb.ok("rm", "u1")


def test_u_uses_the_image_user_from_its_own_passwd(bb: Orlop) -> None:
    ctx = bb.cwd / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\n"
        "RUN echo 'app:x:1500:1600:app:/home/app:/bin/sh' >> /etc/passwd && "
        "echo 'appgrp:x:1600:' >> /etc/group && echo 'other:x:1700:' >> /etc/group\n"
        "USER app\n")
    bb.ok("build", "-q", "-t", "withuser", str(ctx))
    host = bb.cwd / "bindsrc"
    (host / "x").mkdir(parents=True)
    (host / "x" / "f").write_text("z")
    out = bb.ok("run", "--rm", "-v", "vol2:/d:U", "--mount", "type=volume,src=vol3,dst=/e,U",
                "-v", f"{host}:/b:rw,U", "withuser",
                "sh", "-c", "id -u; stat -c '%u:%g' /d /e /b /b/x /b/x/f")
    assert out.split() == ["1500"] + ["1500:1600"] * 5
    assert _owner(host / "x" / "f") == (1500, 1600)
    # --user by name, with a group by name, resolved in the image's files too.
    out = bb.ok("run", "--rm", "--user", "app:other", "--mount",
                "type=volume,src=vol4,dst=/d,chown=true", "withuser", "stat", "-c", "%u:%g",
                "/d")
    assert out == "1500:1700\n"
    # chown=false: nothing changes.
    bb.ok("volume", "create", "vol5")
    out = bb.ok("run", "--rm", "--mount", "type=volume,src=vol5,dst=/d,chown=false",
                "withuser", "stat", "-c", "%u:%g", "/d")
    assert out == "0:0\n"


def test_u_on_a_host_directory_podman_refuses_is_refused_before_anything_exists(
        bb: Orlop) -> None:
    for args in (["-v", "/etc:/x:U"], ["--mount", "type=bind,src=/usr,dst=/x,U"],
                 ["-v", f"{bb.root.parent}:/x:U"]):  # a directory holding the engine root
        res = bb("run", "--rm", *args, "busybox", "true")
        assert res.returncode == 125, res.stderr
        assert "chowning host path" in res.stderr and "is not allowed" in res.stderr
    assert bb.ok("ps", "-aq") == ""
    assert os.stat("/etc").st_uid == 0 and os.stat("/usr").st_uid == 0


def test_tmpfs_uid_gid_and_u(bb: Orlop) -> None:
    out = bb.ok("run", "--rm", "--mount", "type=tmpfs,dst=/t,uid=1000,gid=1001",
                "--tmpfs", "/t2:uid=7,gid=8,mode=750", "--user", "5:6", "--tmpfs", "/t3:U",
                "busybox", "stat", "-c", "%u:%g %a", "/t", "/t2", "/t3")
    assert out.split("\n")[:3] == ["1000:1001 1777", "7:8 750", "5:6 1777"]
    bb.ok("create", "--name", "tm", "--mount", "type=tmpfs,dst=/t,uid=1000,U=false",
          "--mount", "type=tmpfs,dst=/m,U", "--tmpfs", "/u:U", "busybox", "true")
    by_dest = {m["Destination"]: m for m in _mounts(bb, "tm")}
    assert by_dest["/m"]["Mode"] == "U" and by_dest["/t"]["Mode"] == ""
    # --tmpfs is not in Mounts (as in Docker); HostConfig.Tmpfs keeps the user's words.
    assert json.loads(bb.ok("inspect", "-f", "{{json .HostConfig.Tmpfs}}", "tm")) == \
        {"/u": "U"}
    bb.ok("rm", "tm")


@pytest.mark.parametrize(("args", "message"), [
    (["--mount", "type=tmpfs,dst=/t,uid=abc"], "invalid value for uid: abc"),
    (["--mount", "type=tmpfs,dst=/t,gid=-1"], "invalid value for gid: -1"),
    (["--mount", "type=tmpfs,dst=/t,uid=4294967295"], "invalid value for uid: 4294967295"),
    (["--mount", "type=volume,src=vv,dst=/t,uid=1"], "cannot mix 'tmpfs-*' options"),
    (["--tmpfs", "/t:uid=x1"], 'invalid tmpfs option "uid=x1"'),
    (["--tmpfs", "/t:gid=0x10"], 'invalid tmpfs option "gid=0x10"'),
    (["--tmpfs", "/t:U,uid=1"], "the U option cannot be combined with uid= or gid="),
    (["-v", "vv:/d:U,U"], "invalid mode: U,U"),
    (["--mount", "type=volume,src=vv,dst=/d,U,chown=true"],
     "cannot pass 'U' or 'chown' option more than once"),
    (["--mount", "type=volume,src=vv,dst=/d,U=maybe"], "invalid value for u: maybe"),
])
def test_bad_ownership_values_are_refused_with_nothing_created(
        bb: Orlop, args: list[str], message: str) -> None:
    res = bb("run", "--rm", *args, "busybox", "true")
    assert res.returncode == 125, res.stderr
    assert message in res.stderr
    assert bb.ok("ps", "-aq") == "" and bb.ok("volume", "ls", "-q") == ""


def test_u_on_a_volume_bound_from_above_the_engine_root_leaves_the_root_alone(
        bb: Orlop) -> None:
    above = bb.root.parent  # holds the engine root and the scratch directory
    bb.ok("volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt",
          f"device={above}", "holder")
    before = {p: _owner(p) for p in (bb.root, bb.root / "orlop.db", bb.root / "volumes")}
    out = bb.ok("run", "--rm", "--user", "1234:1234", "-v", "holder:/d:U", "busybox",
                "stat", "-c", "%u:%g", "/d", "/d/work")
    assert out.split() == ["1234:1234", "1234:1234"]
    assert {p: _owner(p) for p in before} == before
