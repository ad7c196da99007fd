"""Volume snapshots, consistent and incremental exports through orlopd (``-H``): the same
outputs, errors and exit codes as in-process (``--root``), over
``/libpod/volumes/{name}/snapshots`` and the export route's new parameters."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from .conftest import Server
from .test_remote_data import _orlop, both, ok


def test_snapshots_through_orlopd_match_local(bbd: Server, tmp_path: Path) -> None:
    ok(bbd, "volume", "create", "rs")
    data = bbd.root / "volumes" / "rs" / "_data"
    (data / "f").write_text("one")
    assert _orlop(bbd, "volume", "snapshot", "create", "rs", "s1", remote=True) == (
        0, "s1\n", "")
    (data / "f").write_text("two")
    assert _orlop(bbd, "volume", "snapshot", "create", "rs", "s2", remote=False)[0] == 0
    assert both(bbd, "volume", "snapshot", "ls", "-q", "rs") == (0, "s1\ns2\n", "")
    assert both(bbd, "volume", "snapshot", "ls", "rs", norm=True)[1].startswith(
        "SNAPSHOT  CREATED  SIZE  METHOD\ns1  T ago")
    rows = [json.loads(line) for line in ok(bbd, "volume", "snapshot", "ls", "--format",
                                            "json", "rs").splitlines()]
    assert [(r["Name"], r["Volume"]) for r in rows] == [("s1", "rs"), ("s2", "rs")]
    assert both(bbd, "volume", "snapshot", "create", "rs", "s1") == (
        1, "", "Error: snapshot rs@s1 already exists\n")
    assert both(bbd, "volume", "snapshot", "restore", "rs", "nope") == (
        1, "", "Error: no such snapshot: rs@nope\n")
    assert both(bbd, "volume", "snapshot", "ls", "nosuch") == (
        1, "", "Error: No such volume: nosuch\n")

    # restore refused while in use, the same text both ways
    ok(bbd, "run", "-d", "--name", "rs_user", "-v", "rs:/d", "busybox", "sleep", "60")
    try:
        assert both(bbd, "volume", "snapshot", "restore", "rs", "s1") == (
            1, "", "Error: restore rs: volume is in use - [rs_user]\n")
        # export: the warning (local and remote alike), then --consistent (no warning)
        code, _, err = both(bbd, "volume", "export", "-o", "/dev/null", "rs")
        assert code == 0 and err.startswith("WARNING: volume rs is in use by running "
                                            "containers (rs_user)")
        out = tmp_path / "c.tar"
        assert _orlop(bbd, "volume", "export", "--consistent", "-o", str(out), "rs",
                      remote=True) == (0, "", "")
        with tarfile.open(out) as tf:
            member = tf.extractfile("f")
            assert member is not None and member.read() == b"two"
        assert ok(bbd, "inspect", "-f", "{{.State.Status}}", "rs_user") == "running\n"
    finally:
        ok(bbd, "rm", "-f", "rs_user")
    assert _orlop(bbd, "volume", "snapshot", "restore", "rs", "s1", remote=True) == (
        0, "rs\n", "")
    assert (data / "f").read_text() == "one"

    # an incremental chain, exported through orlopd, imported locally and remotely
    full, inc = tmp_path / "full.tar", tmp_path / "inc.tar"
    ok(bbd, "volume", "export", "--snapshot", "s1", "-o", str(full), "rs")
    ok(bbd, "volume", "export", "--snapshot", "s2", "--since", "s1", "-o", str(inc), "rs")
    for remote in (True, False):
        name = f"rc{int(remote)}"
        assert _orlop(bbd, "volume", "import", name, str(inc), remote=remote)[0] == 1
        ok(bbd, "volume", "import", name, str(full), remote=remote)
        ok(bbd, "volume", "import", name, str(inc), remote=remote)
        assert (bbd.root / "volumes" / name / "_data" / "f").read_text() == "two"
    code, _, err = both(bbd, "volume", "import", "rc1", str(inc))
    assert code == 1 and "holds snapshot rs@s2" in err

    assert _orlop(bbd, "volume", "snapshot", "rm", "rs", "s2", "nope", remote=True) == (
        1, "s2\n", "Error: no such snapshot: rs@nope\n")
    assert _orlop(bbd, "volume", "snapshot", "rm", "rs", "s1", remote=False) == (
        0, "s1\n", "")
    assert both(bbd, "volume", "snapshot", "ls", "-q", "rs") == (0, "", "")
