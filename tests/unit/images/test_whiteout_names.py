"""The whiteout-name rule (containerd PR #2001): a whiteout hides a sibling in its own
directory, judged on the name as written, before cleaning."""

from __future__ import annotations

import tarfile

import pytest

from orlop.archive.whiteout import whiteout_problem
from orlop.images.archive import check_layer_member


@pytest.mark.parametrize("name", [
    ".wh..", ".wh...", ".wh.", "etc/.wh..", "etc/.wh...", "etc/.wh.", "./etc/.wh..",
    "d/../.wh.etc", "d/../.wh..wh..opq", "a/b/../../.wh.etc", "/d/../.wh.x",
    "etc/../etc/.wh.passwd",
])
def test_whiteout_problem_climbing_or_naming_dot_refused(name: str) -> None:
    assert whiteout_problem(name) is not None


@pytest.mark.parametrize("name", [
    ".wh.etc", "etc/.wh.passwd", "./etc/.wh.passwd", "/etc/.wh.passwd", "etc//.wh.x",
    "etc/.wh..wh..opq", ".wh..wh..opq", ".wh..wh.plnk", "etc/.wh..hidden",
    "etc/.wh....", "plain", "d/../plain", "etc/wh.x", "",
])
def test_whiteout_problem_valid_or_not_a_whiteout_accepted(name: str) -> None:
    assert whiteout_problem(name) is None


def _member(name: str, type_: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname = type_, link
    return ti


@pytest.mark.parametrize(("member", "why"), [
    (_member("../x"), "outside"),
    (_member("a/../../x"), "outside"),
    (_member("d/../.wh.etc"), "whiteout"),
    (_member("x", tarfile.LNKTYPE, "../../etc/passwd"), "outside"),
    (_member("x", tarfile.LNKTYPE, "/"), "outside"),
    (_member("x", tarfile.SYMTYPE, ""), "empty"),
])
def test_check_layer_member_refusals(member: tarfile.TarInfo, why: str) -> None:
    problem = check_layer_member(member)
    assert problem is not None and why in problem


@pytest.mark.parametrize("member", [
    _member("/abs/x"), _member("d/../x"), _member("x", tarfile.LNKTYPE, "/etc/passwd"),
    _member("x", tarfile.SYMTYPE, "../../../../etc/passwd"), _member("etc/.wh.passwd"),
])
def test_check_layer_member_accepts_what_docker_accepts(member: tarfile.TarInfo) -> None:
    assert check_layer_member(member) is None
