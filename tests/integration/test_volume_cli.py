"""`orlop volume ...` end to end: Docker's exact outputs, error texts and exit codes."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.integration.conftest import Orlop

pytestmark = pytest.mark.root

HEX64 = re.compile(r"[0-9a-f]{64}")


def test_create_prints_name_existing_keeps_labels(orlop: Orlop) -> None:
    assert orlop.ok("volume", "create", "cr_plain") == "cr_plain\n"
    assert orlop.ok("volume", "create", "cr_plain") == "cr_plain\n"
    orlop.ok("volume", "create", "--label", "team=db", "--label", "env=test", "cr_lab")
    assert orlop.ok("volume", "create", "--label", "team=other", "cr_lab") == "cr_lab\n"
    anon = orlop.ok("volume", "create").strip()
    assert HEX64.fullmatch(anon)
    out = orlop.ok("volume", "inspect", "-f", "{{.Name}} {{json .Labels}} {{json .Options}}",
                   "cr_plain", "cr_lab", anon)
    assert out == ('cr_plain null null\ncr_lab {"env":"test","team":"db"} null\n'
                   f'{anon} {{"com.docker.volume.anonymous":""}} null\n')


def test_inspect_json_docker_shape(orlop: Orlop) -> None:
    orlop.ok("volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs",
             "--opt", "o=size=1m", "cr_tmpfs")
    out = orlop.ok("volume", "inspect", "cr_tmpfs")
    created = json.loads(out)[0]["CreatedAt"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created)
    assert out == f"""[
    {{
        "CreatedAt": "{created}",
        "Driver": "local",
        "Labels": null,
        "Mountpoint": "{orlop.root}/volumes/cr_tmpfs/_data",
        "Name": "cr_tmpfs",
        "Options": {{
            "device": "tmpfs",
            "o": "size=1m",
            "type": "tmpfs"
        }},
        "Scope": "local",
        "UsedBy": []
    }}
]
"""


def test_inspect_unknown_prints_empty_array_and_error(orlop: Orlop) -> None:
    res = orlop("volume", "inspect", "nosuchvol")
    assert (res.returncode, res.stdout, res.stderr) == (
        1, "[]\n", "Error: No such volume: nosuchvol\n")
    orlop.ok("volume", "create", "cr_plain")
    res = orlop("volume", "inspect", "cr_plain", "nosuch")
    assert res.returncode == 1
    assert [v["Name"] for v in json.loads(res.stdout)] == ["cr_plain"]
    assert res.stderr == "Error: No such volume: nosuch\n"


@pytest.mark.parametrize(("args", "stderr"), [
    (["--opt", "foo=bar", "cr_badopt"], 'Error: create cr_badopt: invalid option: "foo"\n'),
    (["--driver", "nosuchdriver", "cr_baddrv"],
     "Error: create cr_baddrv: error looking up volume plugin nosuchdriver: plugin "
     '"nosuchdriver" not found\n'),
    (["../x"], 'Error: create ../x: "../x" includes invalid characters for a local volume '
     'name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
     "directory, use absolute path\n"),
    (["a"], "Error: create a: volume name is too short, names should be at least two "
     "alphanumeric characters\n"),
    (["one", "two"], "orlop: \"orlop volume create\" requires at most 1 argument.\n"
     "See 'orlop volume create --help'.\n"),
])
def test_create_errors_docker_texts(orlop: Orlop, args: list[str], stderr: str) -> None:
    res = orlop("volume", "create", *args)
    assert (res.returncode, res.stdout, res.stderr) == (1, "", stderr)


def test_ls_table_quiet_json_and_template(orlop: Orlop) -> None:
    assert orlop.ok("volume", "ls") == "DRIVER    VOLUME NAME\n"
    for name in ("vol10", "vol2", "cr_lab"):
        orlop.ok("volume", "create", name)
    orlop.ok("volume", "create", "--label", "team=db", "--label", "env=test", "labelled")
    assert orlop.ok("volume", "ls") == (
        "DRIVER    VOLUME NAME\nlocal     cr_lab\nlocal     labelled\nlocal     vol2\n"
        "local     vol10\n")
    assert orlop.ok("volume", "ls", "-q") == "cr_lab\nlabelled\nvol2\nvol10\n"
    assert orlop.ok("volume", "ls", "--format", "{{.Name}}\t{{.Driver}}\t{{.Labels}}",
                    "-f", "name=lab") == "cr_lab\tlocal\t\nlabelled\tlocal\tenv=test,team=db\n"
    lines = orlop.ok("volume", "ls", "--format", "json", "-f", "label=team").splitlines()
    assert lines == [json.dumps({
        "Availability": "N/A", "Driver": "local", "Group": "N/A",
        "Labels": "env=test,team=db", "Links": "N/A",
        "Mountpoint": f"{orlop.root}/volumes/labelled/_data", "Name": "labelled",
        "Scope": "local", "Size": "N/A", "Status": "N/A"}, separators=(",", ":"))]
    assert orlop.ok("volume", "ls", "--format", "table {{.Name}}\t{{.Scope}}",
                    "-f", "name=vol") == (
        "VOLUME NAME   SCOPE\nvol2          local\nvol10         local\n")


def test_ls_filters_dangling_and_errors(orlop: Orlop) -> None:
    orlop.ok("volume", "create", "free")
    orlop.ok("volume", "create", "used")
    _reference(orlop, "used")
    assert orlop.ok("volume", "ls", "-q", "-f", "dangling=true") == "free\n"
    assert orlop.ok("volume", "ls", "-q", "-f", "dangling=false") == "used\n"
    res = orlop("volume", "ls", "-f", "nosuch=1")
    assert (res.returncode, res.stderr) == (1, "Error: Invalid filter 'nosuch'\n")
    res = orlop("volume", "ls", "-f", "dangling=maybe")
    assert (res.returncode, res.stderr) == (1, "Error: Invalid filter 'dangling=[maybe]'\n")


def _reference(orlop: Orlop, volume: str) -> str:
    """A stopped container using ``volume``, recorded as the engine does."""
    cid = "ab" * 32
    conn = sqlite3.connect(orlop.root / "orlop.db")
    with conn:
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("INSERT OR IGNORE INTO images (id, config, created, size) "
                     "VALUES ('sha256:test', '{}', '2026-01-01T00:00:00Z', 0)")
        conn.execute(
            "INSERT OR IGNORE INTO containers (id, name, image_id, image_ref, created, config,"
            " host_config, status, runtime) VALUES (?, 'c_pr', 'sha256:test', 'test', "
            "'2026-01-01T00:00:00Z', '{}', '{}', 'exited', 'orlop')", (cid,))
        conn.execute("INSERT INTO mount_points (container_id, destination, position, type, "
                     "volume_name, spec) VALUES (?, ?, 0, 'volume', ?, '{}')",
                     (cid, f"/{volume}", volume))
    conn.close()
    return cid


def test_rm_outputs_and_exit_codes(orlop: Orlop) -> None:
    orlop.ok("volume", "create", "a1")
    orlop.ok("volume", "create", "inuse_vol")
    cid = _reference(orlop, "inuse_vol")
    res = orlop("volume", "rm", "a1", "nosuchvol", "inuse_vol")
    assert res.returncode == 1
    assert res.stdout == "a1\n"
    assert res.stderr == ("Error: No such volume: nosuchvol\n"
                          f"Error: remove inuse_vol: volume is in use - [{cid}]\n")
    res = orlop("volume", "rm", "-f", "nosuchvol", "inuse_vol")
    assert (res.returncode, res.stdout) == (1, "nosuchvol\n")
    assert orlop.ok("volume", "rm", "-f", "nosuchvol") == "nosuchvol\n"
    res = orlop("volume", "rm")
    assert (res.returncode, res.stderr) == (
        1, "orlop: \"orlop volume rm\" requires at least 1 argument.\n"
           "See 'orlop volume rm --help'.\n")
    assert orlop.ok("volume", "ls", "-q") == "inuse_vol\n"


def test_prune_anonymous_only_then_all_with_label_filter(orlop: Orlop) -> None:
    orlop.ok("volume", "create", "pr_named_unused")
    orlop.ok("volume", "create", "--label", "keep=yes", "pr_labeled_unused")
    anon = orlop.ok("volume", "create").strip()
    used_anon = orlop.ok("volume", "create").strip()
    _reference(orlop, used_anon)
    (orlop.root / "volumes" / anon / "_data" / "f").write_bytes(b"x" * 1234)

    res = orlop("volume", "prune", input="n\n")
    assert res.returncode == 0
    assert res.stdout == ("WARNING! This will remove anonymous local volumes not used by at "
                          "least one container.\nAre you sure you want to continue? [y/N] ")
    assert orlop.ok("volume", "prune", input="y\n").endswith(
        f"[y/N] Deleted Volumes:\n{anon}\n\nTotal reclaimed space: 1.234kB\n")
    assert orlop.ok("volume", "prune", "-f") == "Total reclaimed space: 0B\n"
    assert orlop.ok("volume", "prune", "-f", "-a", "--filter", "label!=keep=yes") == (
        "Deleted Volumes:\npr_named_unused\n\nTotal reclaimed space: 0B\n")
    res = orlop("volume", "prune", "--all", input="")
    assert "WARNING! This will remove all local volumes" in res.stdout
    assert orlop.ok("volume", "ls", "-q") == "".join(
        f"{n}\n" for n in sorted([used_anon, "pr_labeled_unused"]))
    res = orlop("volume", "prune", "-f", "--filter", "dangling=true")
    assert (res.returncode, res.stderr) == (1, "Error: Invalid filter 'dangling'\n")


def test_volume_alone_prints_usage(orlop: Orlop) -> None:
    out = orlop.ok("volume")
    assert out.startswith("Usage:  orlop volume COMMAND\n\nManage volumes\n")  # docker 28
    res = orlop("volume", "nosuch")
    assert res.returncode == 1 and "'volume nosuch' is not an orlop command." in res.stderr
    assert "Usage:  orlop volume ls [OPTIONS]" in orlop.ok("volume", "ls", "--help")


def test_size_volume_via_cli_inspect(orlop: Orlop) -> None:
    assert orlop.ok("volume", "create", "-o", "size=8m", "qv") == "qv\n"
    assert json.loads(orlop.ok("volume", "inspect", "qv"))[0]["Options"] == {"size": "8m"}
    assert orlop.ok("volume", "rm", "qv") == "qv\n"


def test_ls_10000_volumes_timing(orlop: Orlop) -> None:
    orlop.ok("volume", "ls")  # creates the database
    conn = sqlite3.connect(orlop.root / "orlop.db")
    with conn:
        conn.executemany(
            "INSERT INTO volumes (name, driver, created_at, labels, options, anonymous) "
            "VALUES (?, 'local', '2026-11-27T00:00:00Z', ?, NULL, 0)",
            [(f"vol{i:05d}", '{"k": "v"}' if i % 2 else None) for i in range(10000)])
    conn.close()
    best = float("inf")
    for _ in range(3):
        t0 = time.monotonic()
        out = orlop.ok("volume", "ls")
        best = min(best, time.monotonic() - t0)
    assert out.count("\n") == 10001
    t0 = time.monotonic()
    orlop.ok("volume", "ls", "-f", "dangling=true", "-f", "label=k")
    filtered = time.monotonic() - t0
    print(f"\nvolume_ls_10000: {best * 1000:.0f} ms (filtered: {filtered * 1000:.0f} ms)")
