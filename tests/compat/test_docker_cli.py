"""The real docker CLI (28) against orlopd: volumes, run in the foreground, -d, logs,
stop, rm -v, images."""

from __future__ import annotations

import json
import time

from .conftest import Server


def test_volume_create_ls_inspect_rm_lifecycle_matches_docker(orlopd: Server) -> None:
    assert orlopd.ok("volume", "create", "--label", "a=b", "data1").strip() == "data1"
    orlopd.ok("volume", "create", "data2")
    names = orlopd.ok("volume", "ls", "-q").split()
    assert names == ["data1", "data2"]
    assert orlopd.ok("volume", "ls", "-q", "-f", "label=a=b").split() == ["data1"]
    info = json.loads(orlopd.ok("volume", "inspect", "data1"))[0]
    assert info["Name"] == "data1" and info["Driver"] == "local"
    assert info["Labels"] == {"a": "b"}
    assert info["Mountpoint"] == str(orlopd.root / "volumes" / "data1" / "_data")
    assert orlopd.ok("volume", "rm", "data1").strip() == "data1"
    res = orlopd.docker("volume", "inspect", "data1")
    assert res.returncode == 1 and "no such volume" in res.stderr.lower()


def test_volume_prune_keeps_named_unless_all(orlopd: Server) -> None:
    orlopd.ok("volume", "create", "named")
    anon = orlopd.ok("volume", "create").strip()
    assert len(anon) == 64
    out = orlopd.ok("volume", "prune", "-f")
    assert anon in out and "named" not in out
    assert orlopd.ok("volume", "ls", "-q").split() == ["named"]
    out = orlopd.ok("volume", "prune", "-f", "--all")
    assert "named" in out
    assert orlopd.ok("volume", "ls", "-q").split() == []


def test_volume_create_bad_name_is_refused_and_creates_nothing(orlopd: Server) -> None:
    res = orlopd.docker("volume", "create", "a/b")
    assert res.returncode == 1 and "a/b" in res.stderr
    assert orlopd.ok("volume", "ls", "-q").split() == []


def test_run_rm_foreground_gives_output_and_exit_code(bbd: Server) -> None:
    res = bbd.docker("run", "--rm", "-v", "vol:/data", "busybox", "sh", "-c",
                     "echo hello; echo oops >&2; echo kept > /data/f; exit 3")
    assert res.returncode == 3, res.stderr
    assert res.stdout == "hello\n"
    assert res.stderr == "oops\n"
    assert bbd.ok("ps", "-aq").split() == []  # --rm removed it
    # The named volume survives --rm and keeps its data.
    res = bbd.docker("run", "--rm", "-v", "vol:/data", "busybox", "cat", "/data/f")
    assert (res.returncode, res.stdout) == (0, "kept\n")


def test_run_interactive_reads_piped_stdin(bbd: Server) -> None:
    res = bbd.docker("run", "--rm", "-i", "busybox", "sh", "-c", "cat; echo end",
                     input="line1\nline2\n")
    assert (res.returncode, res.stdout) == (0, "line1\nline2\nend\n"), res.stderr


def test_run_unknown_command_exits_127(bbd: Server) -> None:
    res = bbd.docker("run", "--rm", "busybox", "no-such-command")
    assert res.returncode == 127
    assert "no-such-command" in res.stderr


def test_run_anonymous_volume_removed_by_rm(bbd: Server) -> None:
    res = bbd.docker("run", "--rm", "-v", "/anon", "busybox", "touch", "/anon/x")
    assert res.returncode == 0, res.stderr
    assert bbd.ok("volume", "ls", "-q").split() == []


def test_run_bind_mount_and_tmpfs_and_read_only(bbd: Server) -> None:
    host = bbd.dir / "share"
    host.mkdir()
    (host / "in.txt").write_text("from host\n")
    res = bbd.docker("run", "--rm", "--read-only", "-v", f"{host}:/share",
                     "--tmpfs", "/scratch", "--mount", "type=volume,src=mv,dst=/mv",
                     "busybox", "sh", "-c",
                     "cat /share/in.txt; echo out > /share/out.txt; echo t > /scratch/t; "
                     "touch /mv/ok; touch /rootfile 2>/dev/null || echo ro")
    assert res.returncode == 0, res.stderr
    assert res.stdout == "from host\nro\n"
    assert (host / "out.txt").read_text() == "out\n"
    assert "mv" in bbd.ok("volume", "ls", "-q").split()


def test_detached_logs_stop_rm_v(bbd: Server) -> None:
    cid = bbd.ok("run", "-d", "--name", "svc", "-v", "/anon", "busybox", "sh", "-c",
                 "echo started; trap 'echo bye; exit 0' TERM; "
                 "while true; do sleep 0.1; done").strip()
    assert len(cid) == 64
    deadline = time.monotonic() + 10
    while "started" not in bbd.ok("logs", "svc") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bbd.ok("ps", "-q", "--no-trunc").split() == [cid]
    state = json.loads(bbd.ok("inspect", "svc"))[0]["State"]
    assert state["Running"] is True and state["Status"] == "running"
    assert bbd.ok("stop", "svc").strip() == "svc"
    assert bbd.ok("logs", "svc") == "started\nbye\n"
    assert bbd.ok("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}",
                  "svc").strip() == "exited 0"
    anon = bbd.ok("volume", "ls", "-q").split()
    assert len(anon) == 1
    bbd.ok("rm", "-v", "svc")
    assert bbd.ok("ps", "-aq").split() == []
    assert bbd.ok("volume", "ls", "-q").split() == []


def test_wait_returns_exit_code_of_detached_container(bbd: Server) -> None:
    bbd.ok("run", "-d", "--name", "waiter", "busybox", "sh", "-c", "sleep 0.3; exit 7")
    assert bbd.ok("wait", "waiter").strip() == "7"
    res = bbd.docker("start", "-a", "waiter")
    assert res.returncode == 7


def test_kill_stops_a_running_container(bbd: Server) -> None:
    bbd.ok("run", "-d", "--name", "killme", "busybox", "sleep", "30")
    bbd.ok("kill", "killme")
    assert bbd.ok("inspect", "-f", "{{.State.Status}}", "killme").strip() == "exited"
    bbd.ok("rm", "killme")


def test_image_import_tag_rmi_and_unknown_pull_fails_fast(bbd: Server) -> None:
    assert "busybox" in bbd.ok("images", "--format", "{{.Repository}}:{{.Tag}}")
    bbd.ok("tag", "busybox", "mybox:1")
    tags = bbd.ok("images", "--format", "{{.Repository}}:{{.Tag}}").split()
    assert sorted(tags) == ["busybox:latest", "mybox:1"]
    out = bbd.ok("rmi", "mybox:1")
    assert "Untagged: mybox:1" in out
    t0 = time.monotonic()
    res = bbd.docker("run", "--rm", "no-such-image:1", "true")
    assert res.returncode == 125
    assert "no-such-image" in res.stderr
    assert time.monotonic() - t0 < 10


def test_system_df_and_info(bbd: Server) -> None:
    bbd.ok("volume", "create", "dfv")
    out = bbd.ok("system", "df")
    assert "Local Volumes" in out and "Images" in out
    assert bbd.ok("info", "--format", "{{.Images}}").strip() == "1"
    assert bbd.ok("version", "--format", "{{.Server.APIVersion}}").strip() == "1.45"
