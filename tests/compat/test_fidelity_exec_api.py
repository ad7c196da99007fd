"""Exec through orlopd as docker-py's own integration suite drives it (issue 15): the
start's ``Tty`` (not the exec's) decides the framing, as moby's ``postContainerExecStart``
does, so ``exec_start(demux=True)`` and ``exec_start(socket=True)`` of a tty exec read
frames; a terminal's exec detaches with Ctrl-P Ctrl-Q, the configured ``detachKeys`` or
the exec's own keys, and the connection is closed then; ``exec_create``, ``exec_start``
and ``exec_die`` events as dockerd 20.10 logs them."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

from .conftest import Server


def _sock(obj: Any) -> socket.socket:
    return obj._sock if hasattr(obj, "_sock") else obj


def _cat(api: Any) -> str:
    c = api.create_container("busybox", "cat", detach=True, stdin_open=True,
                              host_config=api.create_host_config(network_mode="none"))
    api.start(c["Id"])
    return str(c["Id"])


def _assert_detached(sock: socket.socket, keys: list[bytes]) -> None:
    """docker-py's ``assert_cat_socket_detached_with_keys``: after the keys the server
    has closed the connection, so a write to the unix socket fails."""
    for k in keys:
        sock.sendall(k)
        time.sleep(0.5)
    with pytest.raises(OSError):
        for _ in range(20):
            sock.sendall(b"make sure the socket is closed\n")
            time.sleep(0.1)


def test_tty_exec_demux_reads_frames(client: Any) -> None:
    api = client.api
    cid = _cat(api)
    script = ["sh", "-c", "echo hello out; echo hello err >&2"]
    ex = api.exec_create(cid, script, tty=True)
    assert api.exec_start(ex, demux=True) == (b"hello out\r\nhello err\r\n", None)
    ex = api.exec_create(cid, script, tty=True)
    assert api.exec_start(ex, tty=True) == b"hello out\r\nhello err\r\n"
    ex = api.exec_create(cid, script)
    assert api.exec_start(ex, demux=True) == (b"hello out\n", b"hello err\n")
    api.remove_container(cid, force=True)


def test_exec_start_socket_of_tty_exec_is_framed(client: Any) -> None:
    from docker.utils.socket import next_frame_header, read_exactly

    api = client.api
    cid = _cat(api)
    line = "yay, interactive exec!"
    ex = api.exec_create(cid, ["printf", line], tty=True)
    sock = api.exec_start(ex, socket=True)
    try:
        stream, size = next_frame_header(sock)
        assert (stream, size) == (1, len(line))
        assert read_exactly(sock, size).decode() == line
    finally:
        sock.close()
    api.remove_container(cid, force=True)


@pytest.mark.parametrize("how", ["default", "config", "arg"])
def test_tty_exec_detaches(client: Any, how: str) -> None:
    api = client.api
    cid = _cat(api)
    keys = [b"\x10", b"\x11"]
    kw: dict[str, Any] = {}
    if how == "config":
        api._general_configs["detachKeys"] = "ctrl-p"
        keys = [b"\x10"]
    elif how == "arg":
        kw["detach_keys"] = "ctrl-x"
        keys = [b"\x18"]
    try:
        ex = api.exec_create(cid, "cat", stdin=True, tty=True, stdout=True, **kw)
        sock = _sock(api.exec_start(ex, tty=True, socket=True))
        try:
            _assert_detached(sock, keys)
        finally:
            sock.close()
        time.sleep(0.3)
        assert api.exec_inspect(ex)["Running"] is True  # detached, not ended
    finally:
        api._general_configs.pop("detachKeys", None)
        api.remove_container(cid, force=True)


def _events(bbd: Server, since: str, cid: str) -> list[str]:
    out = bbd.ok("events", "--since", since, "--until", str(int(time.time()) + 1),
                 "--filter", f"container={cid}", "--format", "{{json .}}")
    return [json.loads(line)["Action"] for line in out.splitlines() if line.strip()]


def test_exec_start_failures_as_dockerd_20_10(bbd: Server) -> None:
    """Every way an exec cannot start: exit 126 and dockerd 20.10's text (measured with
    runc), on stdout when attached, as the daemon's error with -d (the CLI exits 1)."""
    cid = bbd.ok("run", "-d", "--network", "none", "busybox", "sleep", "300").strip()
    oci = "OCI runtime exec failed: exec failed: unable to start container process: "
    for args, text in (
            (("nosuch",), oci + 'exec: "nosuch": executable file not found in $PATH: unknown'),
            (("/etc/passwd",), oci + 'exec: "/etc/passwd": permission denied: unknown'),
            (("-w", "/nodir", cid, "true"),
             oci + 'chdir to cwd ("/nodir") set in config.json failed: no such file or '
                   "directory: unknown"),
            (("-u", "nobodyx", cid, "true"),
             "unable to find user nobodyx: no matching entries in passwd file")):
        argv = ("exec", *args) if args[0].startswith("-") else ("exec", cid, *args)
        res = bbd.docker(*argv)
        assert (res.returncode, res.stdout) == (126, text + "\n"), res
    res = bbd.docker("exec", "-d", cid, "nosuch")
    assert res.returncode == 1 and res.stderr.strip() == (
        "Error response from daemon: " + oci
        + 'exec: "nosuch": executable file not found in $PATH: unknown'), res
    bbd.ok("rm", "-f", cid)


def test_exec_events_after_detached_and_failed_execs(bbd: Server) -> None:
    since = str(int(time.time()) - 1)
    cid = bbd.ok("run", "-d", "--network", "none", "busybox", "sleep", "300").strip()
    bbd.ok("exec", "-d", cid, "true")
    time.sleep(1)
    res = bbd.docker("exec", cid, "/nosuch")
    # dockerd 20.10 to 27 say 126 for any start failure (moby 28, API 1.48, 127 for a
    # missing command), in runc's words, on the exec's stdout: as here.
    assert res.returncode == 126, res
    assert res.stdout == ('OCI runtime exec failed: exec failed: unable to start container '
                          'process: exec: "/nosuch": stat /nosuch: no such file or '
                          'directory: unknown\n'), res
    assert bbd.docker("exec", cid, "false").returncode == 1
    time.sleep(1)
    actions = [a for a in _events(bbd, since, cid) if a.startswith("exec_")]
    # dockerd 20.10: "exec_create: " + entrypoint + " " + args (a trailing space without
    # arguments); an exec whose command cannot start logs no exec_die.
    assert actions == [
        "exec_create: true ", "exec_start: true ", "exec_die",
        "exec_create: /nosuch ", "exec_start: /nosuch ",
        "exec_create: false ", "exec_start: false ", "exec_die"], actions
    bbd.ok("rm", "-f", cid)


def test_run_of_a_missing_command_logs_no_start_or_die(bbd: Server) -> None:
    """dockerd 20.10: `run busybox /nosuch` logs create and attach (and the network's
    connect/disconnect), neither start nor die; the container stays Created."""
    since = str(int(time.time()) - 1)
    res = bbd.docker("run", "--name", "nosuch", "--network", "none", "busybox", "/nosuch")
    assert res.returncode == 127, res.stderr
    actions = _events(bbd, since, "nosuch")
    assert actions == ["create", "attach"], actions
    assert bbd.ok("inspect", "-f", "{{.State.Status}}", "nosuch").strip() == "created"


def test_images_load_of_a_bad_archive_is_an_image_load_error(client: Any, bbd: Server) -> None:
    """dockerd answers 200 and ends the message stream with an errorDetail, which
    docker-py's images.load raises as ImageLoadError and the docker CLI prints."""
    import docker

    with pytest.raises(docker.errors.ImageLoadError):
        client.images.load(b"garbage" * 1000)
    status, _, body = bbd.raw("POST", "/v1.41/images/load", body=b"garbage" * 1000,
                                    headers={"Content-Type": "application/x-tar"})
    msg = json.loads(body)
    assert status == 200 and msg["error"] == msg["errorDetail"]["message"] != ""
    res = bbd.docker("load", input="garbage" * 1000)
    assert res.returncode == 1 and msg["error"] in res.stderr


def test_api_1_22_is_accepted_for_skopeo(bbd: Server, tmp_path: Any) -> None:
    """skopeo's docker-daemon: transport speaks API 1.22 (dockerd 20.10 accepts 1.12
    and up)."""
    import shutil
    import subprocess

    status, _, body = bbd.raw("GET", "/v1.22/version")
    assert status == 200 and json.loads(body)["MinAPIVersion"] == "1.12"
    status, _, body = bbd.raw("GET", "/v1.11/version")
    assert status == 400
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        return
    res = subprocess.run([skopeo, "copy", "--src-daemon-host", bbd.host,
                          "docker-daemon:busybox:latest", f"dir:{tmp_path}/out"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "out" / "manifest.json").exists()


def test_docker_cli_ps_size_diff_history_df_as_dockerd(bbd: Server) -> None:
    """The docker CLI against orlopd prints what it printed against dockerd 20.10 for
    the same steps: COMMAND quoting, `ps -s`, `inspect -s`, an empty diff of a fresh
    container, the committed layer's history row, `system df` counting once."""
    cid = bbd.ok("run", "-d", "--network", "none", "busybox", "sh", "-c",
                 "sleep 300 # a 'b' \"c\"", "x y", "").strip()
    try:
        out = bbd.ok("ps", "--no-trunc", "--format", "{{.Command}}").strip()
        assert out == '"sh -c \'sleep 300 # a \'b\' \\"c\\"\' \'x y\' "'
        assert bbd.ok("diff", cid) == ""
        assert bbd.ok("inspect", "-s", "-f", "{{.SizeRw}}", cid).strip() == "0"
        assert bbd.ok("ps", "-s", "--format", "{{.Size}}").startswith("0B (virtual ")
        bbd.ok("exec", cid, "sh", "-c", "echo x > /tmp/f")
        assert bbd.ok("diff", cid).splitlines() == ["C /tmp", "A /tmp/f"]
        assert bbd.ok("ps", "-s", "--format", "{{.Size}}").startswith("2B (virtual ")
        bbd.ok("commit", "-m", "my msg", cid, "committed:1")
        row = bbd.ok("history", "--format", "{{.CreatedBy}}|{{.Size}}|{{.Comment}}",
                     "committed:1").splitlines()[0]
        assert row == "sh -c sleep 300 # a 'b' \"c\" x y |2B|my msg"
        df = [json.loads(x) for x in
              bbd.ok("system", "df", "--format", "{{json .}}").splitlines()]
        base = int(bbd.ok("image", "inspect", "-f", "{{.Size}}", "busybox").strip())
        from orlop.units import human_size

        assert df[0]["Size"] == human_size(base + 2, 4)  # busybox's layer once
        assert df[0]["Active"] == "1"
    finally:
        bbd.docker("rm", "-f", cid)


def test_docker_exec_user_gets_the_containers_group_add(bbd: Server) -> None:
    """``docker exec [-u]`` through orlopd shows the groups dockerd 20.10 showed: the
    container's ``--group-add`` after the user's own /etc/group memberships."""
    bbd.ok("run", "-d", "--name", "grp", "--network", "none", "--group-add", "10",
           "--group-add", "1234", "busybox", "sleep", "60")
    try:
        bbd.ok("exec", "grp", "sh", "-c", "echo extra:x:777:daemon >> /etc/group")
        assert bbd.ok("exec", "grp", "id").strip() == \
            "uid=0(root) gid=0(root) groups=0(root),10,1234"
        assert bbd.ok("exec", "-u", "daemon", "grp", "id").strip() == \
            "uid=1(daemon) gid=1(daemon) groups=1(daemon),10,777(extra),1234"
    finally:
        bbd.docker("rm", "-f", "grp")
