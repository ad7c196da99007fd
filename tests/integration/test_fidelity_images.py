"""Images and accounting as dockerd 20.10 shows them (issue 15): ``history`` with each
layer's size and CREATED BY, ``system df`` counting a shared layer once, ``load`` of a
directory, ``ps`` quoting, ``inspect -s``, and what ``diff`` leaves out.

The expected texts were taken from a private dockerd 20.10 (tests/dockerd_util.py) running
the same commands on the same busybox tarball."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness import Orlop

pytestmark = pytest.mark.usefixtures("no_leftover_containers")


def _history(o: Orlop, ref: str) -> list[dict[str, str]]:
    out = o.ok("history", "--no-trunc", "--format", "{{json .}}", ref)
    return [json.loads(line) for line in out.splitlines()]


def test_history_of_committed_image_has_layer_sizes_and_the_command(bb: Orlop) -> None:
    cid = bb.ok("run", "-d", "--network", "none", "busybox", "sh", "-c",
                "echo x > /tmp/f; sleep 300").strip()
    try:
        bb.ok("commit", "-m", "my msg", "-c", "ENV A=1", cid, "committed:1")
    finally:
        bb.ok("rm", "-f", cid)
    base = bb.ok("image", "inspect", "-f", "{{.Size}}", "busybox").strip()
    rows = _history(bb, "committed:1")
    assert [(r["CreatedBy"], r["Comment"]) for r in rows] == [
        ("sh -c echo x > /tmp/f; sleep 300", "my msg"), ("", "Imported from -")]
    assert rows[0]["Size"] == "2B"  # /tmp/f: "x\n" (dockerd: 2B)
    # dockerd: the ids follow the parent chain (busybox's is here)
    busybox = bb.ok("image", "inspect", "-f", "{{.Id}}", "busybox").strip()
    assert rows[0]["ID"].startswith("sha256:") and rows[1]["ID"] == busybox
    from orlop.units import human_size

    assert rows[1]["Size"] == human_size(int(base))
    table = bb.ok("history", "committed:1").splitlines()
    assert re.match(r"IMAGE +CREATED +CREATED BY +SIZE +COMMENT", table[0])
    assert "sh -c echo x > /tmp/f; sleep 300   2B        my msg" in table[1]


def test_history_of_built_image_empty_layers_are_0b(bb: Orlop, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nRUN dd if=/dev/zero of=/big bs=1k count=100\nENV A=1\n")
    bb.ok("build", "-q", "-t", "built:1", str(tmp_path))
    rows = _history(bb, "built:1")
    assert [(r["CreatedBy"], r["Size"]) for r in rows[:2]] == [
        ("/bin/sh -c #(nop)  ENV A=1", "0B"),
        ("/bin/sh -c dd if=/dev/zero of=/big bs=1k count=100", "102kB")]
    table = bb.ok("history", "built:1").splitlines()
    assert "/bin/sh -c dd if=/dev/zero of=/big bs=1k cou…   102kB" in table[2]


_CLASSIC_DOCKERFILE = """FROM busybox
ENV P="8000-8001/udp 90"
EXPOSE $P 70
COPY --chown=1:2 sub/a /a
COPY sub /sub
COPY sub/a sub/b /m/
VOLUME /v /w
VOLUME ["/j"]
ENTRYPOINT []
CMD ["\u00e9\\t\\u0001", "a\\\\b"]
CMD echo "q" $P
HEALTHCHECK --retries=3 --timeout=1m30s --start-period=1500ms CMD ["true"]
HEALTHCHECK NONE
MAINTAINER me
SHELL ["/bin/sh", "-e", "-c"]
WORKDIR rel
"""


def test_history_created_by_reads_as_the_classic_builders(bb: Orlop, tmp_path: Path) -> None:
    """CREATED BY of each step as dockerd 20.10's classic builder wrote it for this
    Dockerfile (moby's Go verbs: ``%q``/``%v`` of lists, ``%q`` of the HealthConfig; one
    space after ``#(nop)`` for WORKDIR/COPY/ADD, whose flags run into the hash), and
    the sources' hashes moby's (tarsum v1 of the entries the docker CLI 28 sends)."""
    (tmp_path / "Dockerfile").write_text(_CLASSIC_DOCKERFILE)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub").chmod(0o755)
    for name, text in (("a", "x\n"), ("b", "y\n")):
        (tmp_path / "sub" / name).write_text(text)
        (tmp_path / "sub" / name).chmod(0o644)
    bb.ok("build", "-q", "-t", "classic", str(tmp_path))
    rows = [r["CreatedBy"] for r in _history(bb, "classic")]
    assert rows[:16] == [
        "/bin/sh -e -c #(nop) WORKDIR /rel",
        "/bin/sh -e -c #(nop)  SHELL [/bin/sh -e -c]",
        "/bin/sh -c #(nop)  MAINTAINER me",
        "/bin/sh -c #(nop)  HEALTHCHECK &{[\"NONE\"] \"0s\" \"0s\" \"0s\" '\\x00'}",
        "/bin/sh -c #(nop)  HEALTHCHECK &{[\"CMD\" \"true\"] \"0s\" \"1m30s\" \"1.5s\" "
        "'\\x03'}",
        "/bin/sh -c #(nop)  CMD [\"/bin/sh\" \"-c\" \"echo \\\"q\\\" $P\"]",
        "/bin/sh -c #(nop)  CMD [\"\u00e9\\t\\x01\" \"a\\\\b\"]",
        "/bin/sh -c #(nop)  ENTRYPOINT []",
        "/bin/sh -c #(nop)  VOLUME [/j]",
        "/bin/sh -c #(nop)  VOLUME [/v /w]",
        "/bin/sh -c #(nop) COPY multi:"
        "02b2dbd66012ba932ff02decb514ed64f1881697512f869670d073b5b6e060c3 in /m/ ",
        "/bin/sh -c #(nop) COPY dir:"
        "8a4d8162c3bb6930382c0f51fa6db4464700201ff5c863d87f66564079d23075 in /sub ",
        "/bin/sh -c #(nop) COPY --chown=1:2file:"
        "c4f0313ad4337be442015353d3fb7af69c7d6d6a10e906cdd7ee2e12e8c195a5 in /a ",
        "/bin/sh -c #(nop)  EXPOSE 8000-8001/udp 90 70",
        "/bin/sh -c #(nop)  ENV P=8000-8001/udp 90",
        ""]
    assert bb.ok("image", "inspect", "-f", "{{json .ContainerConfig.Cmd}}", "classic") == \
        '["/bin/sh","-e","-c","#(nop) WORKDIR /rel"]\n'


def test_copy_source_hashes_follow_links_and_dockerignore_as_moby(bb: Orlop,
                                                                  tmp_path: Path) -> None:
    """The COPY/ADD source texts dockerd 20.10 gave for this context (sent by the docker
    CLI 28): a link counts as its target, .dockerignore'd entries do not count, the
    whole context (``.``) hashes every entry but the root."""
    files = {"Dockerfile": ("FROM busybox\nCOPY d /d\nCOPY ltop /t\nCOPY . /all\n"
                            "COPY d/* /g/\nADD top /a\n", 0o644),
             ".dockerignore": ("ign\n*.tmp\n", 0o644), "d/f": ("1\n", 0o644),
             "d/e/g": ("2\n", 0o600), "d/x.tmp": ("t\n", 0o644),
             "ign/s": ("secret\n", 0o644), "top": ("z\n", 0o644)}
    for name, (text, mode) in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(mode)
    for d in ("d", "d/e", "ign"):
        (tmp_path / d).chmod(0o755)
    (tmp_path / "d" / "lf").symlink_to("f")
    (tmp_path / "d" / "le").symlink_to("e")
    (tmp_path / "ltop").symlink_to("top")
    bb.ok("build", "-q", "-t", "hashes", str(tmp_path))
    rows = [r["CreatedBy"].split("#(nop) ", 1)[1] for r in _history(bb, "hashes")[:5]]
    assert rows == [
        "ADD file:a6cc9196aaf7287ea232cfbff6f74895bed121493306a1c07b051e460fd1626e in /a ",
        "COPY multi:493f725a4e874f1f472d0b171b206e8e7e1fe012ade25038c45453db0a4d89f9 in /g/ ",
        "COPY dir:a24ad7e11dac5d6331b3661f863779324da43b708a204e655a4713c3d1b091a6 in /all ",
        "COPY file:a6cc9196aaf7287ea232cfbff6f74895bed121493306a1c07b051e460fd1626e in /t ",
        "COPY dir:96a219ab2df221a2c2b8a92f0c3a2fbfb3bc89bff156bb09e591e3cb0782c35a in /d "]


def test_history_of_loaded_image_keeps_sizes(bb: Orlop, tmp_path: Path) -> None:
    bb.ok("save", "-o", str(tmp_path / "b.tar"), "busybox")
    before = _history(bb, "busybox")
    bb.ok("rmi", "busybox")
    bb.ok("load", "-i", str(tmp_path / "b.tar"))
    def stable(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        return [{k: v for k, v in r.items() if k != "CreatedSince"} for r in rows]

    assert stable(_history(bb, "busybox")) == stable(before)
    assert before[0]["Size"] != "0B"
    cid = bb.ok("create", "busybox").strip()
    bb.ok("commit", cid, "c2")
    bb.ok("rm", cid)
    bb.ok("save", "-o", str(tmp_path / "c.tar"), "c2")
    bb.ok("rmi", "c2", "busybox")
    bb.ok("load", "-i", str(tmp_path / "c.tar"))
    # loaded: no parent here, so only the top row has an id (as dockerd after a load)
    assert [r["ID"] for r in _history(bb, "c2")][1:] == ["<missing>"]


def test_system_df_counts_shared_layers_once(bb: Orlop, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\nRUN dd if=/dev/zero of=/big bs=1k count=100\n")
    bb.ok("build", "-q", "-t", "built:1", str(tmp_path))
    cid = bb.ok("run", "-d", "--network", "none", "built:1", "sleep", "300").strip()
    try:
        base = int(bb.ok("image", "inspect", "-f", "{{.Size}}", "busybox").strip())
        from orlop.units import human_size

        rows = [json.loads(line) for line in
                bb.ok("system", "df", "--format", "{{json .}}").splitlines()]
        images = rows[0]
        assert images["TotalCount"] == "2" and images["Active"] == "1"
        # dockerd: Size 2.088MB (busybox's layer once, plus the 100k one); in use by
        # a container: built:1's unique layer; busybox's is shared, so reclaimable
        total = base + 102400
        assert images["Size"] == human_size(total, 4)
        assert images["Reclaimable"] == f"{human_size(base, 4)} ({base * 100 // total}%)"
        verbose = bb.ok("system", "df", "-v")
        line = next(x for x in verbose.splitlines() if x.startswith("built "))
        assert re.search(rf"{re.escape(human_size(base + 102400))} +"
                         rf"{re.escape(human_size(base, 4))} +102.4kB +1$", line), line
        line = next(x for x in verbose.splitlines() if x.startswith("busybox "))
        assert re.search(rf"{re.escape(human_size(base, 4))} +0B +0$", line), line
    finally:
        bb.ok("rm", "-f", cid)


def test_load_of_a_directory_is_dockers_error(bb: Orlop, tmp_path: Path) -> None:
    res = bb("load", "-i", str(tmp_path))
    assert res.returncode == 1
    assert res.stderr.strip().endswith(f"read {tmp_path}: is a directory"), res.stderr
    assert "Errno" not in res.stderr
    res = bb("load", "-i", str(tmp_path / "nonexist.tar"))
    assert res.returncode == 1
    assert res.stderr.strip().endswith(
        f"open {tmp_path}/nonexist.tar: no such file or directory"), res.stderr


def test_ps_quotes_arguments_with_spaces_as_docker(bb: Orlop) -> None:
    cid = bb.ok("run", "-d", "--network", "none", "busybox", "sh", "-c",
                "sleep 300 # a 'b' \"c\"", "x y", "").strip()
    try:
        out = bb.ok("ps", "--no-trunc", "--format", "{{.Command}}").strip()
        assert out == '"sh -c \'sleep 300 # a \'b\' \\"c\\"\' \'x y\' "'
        out = bb.ok("ps", "--format", "{{.Command}}").strip()
        assert out == '"sh -c \'sleep 300 # …"'
    finally:
        bb.ok("rm", "-f", cid)


def test_diff_commit_export_leave_the_engine_files_as_docker(bb: Orlop, tmp_path: Path) -> None:
    """dockerd: a fresh container's diff is empty (/etc/hostname, hosts, resolv.conf and
    mtab live in its init layer); `/etc/mtab -> /proc/mounts`; the committed layer
    has only what the container wrote; export has the files (the mounted root)."""
    cid = bb.ok("run", "-d", "--network", "none", "busybox", "sleep", "300").strip()
    try:
        assert bb.ok("diff", cid) == ""
        assert bb.ok("exec", cid, "readlink", "/etc/mtab").strip() == "/proc/mounts"
        assert " /proc proc " in bb.ok("exec", cid, "cat", "/etc/mtab")
        assert bb.ok("inspect", "-s", "-f", "{{.SizeRw}}", cid).strip() == "0"
        bb.ok("exec", cid, "sh", "-c", "echo x > /tmp/f")
        assert bb.ok("diff", cid).splitlines() == ["C /tmp", "A /tmp/f"]
        base = bb.ok("image", "inspect", "-f", "{{.Size}}", "busybox").strip()
        assert bb.ok("inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", cid).split() == [
            "2", str(int(base) + 2)]
        out = bb.ok("ps", "-s", "--format", "{{.Size}}").strip()
        from orlop.units import human_size

        assert out == f"2B (virtual {human_size(int(base) + 2)})"
        table = bb.ok("ps", "-s").splitlines()
        assert re.search(r"NAMES +SIZE$", table[0].rstrip()), table[0]
        assert table[1].rstrip().endswith(out), table[1]
        bb.ok("commit", cid, "c1")
        rows = _history(bb, "c1")
        assert rows[0]["Size"] == "2B"
        bb.ok("export", "-o", str(tmp_path / "e.tar"), cid)
        import tarfile

        with tarfile.open(tmp_path / "e.tar") as tf:
            names = set(tf.getnames())
        assert {"etc/hostname", "etc/hosts", "etc/resolv.conf", "etc/mtab"} <= names
        c2 = bb.ok("create", "--network", "none", "c1", "true").strip()
        bb.ok("rm", c2)
    finally:
        bb.ok("rm", "-f", cid)
    # a container that wrote into /etc: that file, and /etc, are its changes
    cid = bb.ok("run", "-d", "--network", "none", "busybox", "sh", "-c",
                "echo y > /etc/new; sleep 300").strip()
    try:
        import time

        time.sleep(0.5)
        assert bb.ok("diff", cid).splitlines() == ["C /etc", "A /etc/new"]
    finally:
        bb.ok("rm", "-f", cid)
