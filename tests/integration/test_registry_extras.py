"""What the registry client does around a pull or push, against a real registry
(Debian's docker-registry) on 127.0.0.1: the progress display on a real terminal (a
pty), credentials from a ``credsStore`` helper during an htpasswd pull and login, and
the ``pull``/``push`` events (shapes checked against dockerd 20.10's)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from harness import Orlop
from registry_util import (
    Registry,
    needs_registry,
    private_env,
    start_htpasswd_registry,
)

pytestmark = needs_registry


def _under_pty(o: Orlop, env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pty; everything it wrote, raw."""
    master, slave = pty.openpty()
    full = {**os.environ, **env}
    full.pop("ORLOP_ROOT", None)
    proc = subprocess.Popen([sys.executable, "-m", "orlop", "--root", str(o.root), *args],
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                            cwd=o.cwd, env=full)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed its side
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        rc = proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return rc, b"".join(chunks).decode(errors="replace")


def test_pull_progress_on_a_terminal(bb: Orlop, registry: Registry, tmp_path: Path) -> None:
    env = private_env(tmp_path)
    # A second layer of 8 MB so there is something to show a bar for.
    bb.ok("run", "--name", "big", "busybox", "sh", "-c",
          "dd if=/dev/urandom of=/big bs=1M count=8 2>/dev/null")
    ref = f"{registry.host}/tty/bb:v1"
    bb.ok("commit", "big", ref)
    bb.ok("push", ref, env=env)
    other = Orlop(root=bb.root.parent / "root2", cwd=bb.cwd)
    rc, out = _under_pty(other, env, "pull", ref)
    assert rc == 0, out
    text = out.replace("\r\n", "\n")
    assert text.startswith("v1: Pulling from tty/bb\n"), text[:200]
    # Layer lines are rewritten in place: cursor up N, clear line, the new text, down N.
    assert re.search(r"\x1b\[\d+A\x1b\[2K\r[0-9a-f]{12}: Pull complete\x1b\[\d+B", text), text
    assert re.search(r"[0-9a-f]{12}: Downloading \[=*>? *\] +[\d.]+[kM]?B/[\d.]+MB", text), text
    assert re.search(r"[0-9a-f]{12}: Extracting", text), text
    assert "Status: Downloaded newer image for " + ref in text
    assert text.rstrip("\n").splitlines()[-1] == ref
    # Not a terminal: one plain line per change, no bars, no escapes (`docker pull | cat`).
    third = Orlop(root=bb.root.parent / "root3", cwd=bb.cwd)
    plain = third.ok("pull", ref, env=env)
    assert "\x1b" not in plain and "Downloading" not in plain and "[=" not in plain
    assert re.search(r"^[0-9a-f]{12}: Pull complete$", plain, re.M), plain


_HELPER = """#!/bin/sh
# A docker credential helper for the test: answers `get` for one server, records calls.
server=$(cat)
echo "$1 $server" >> "{log}"
case "$1" in
  get)
    if [ "$server" = "{host}" ]; then
      printf '{{"ServerURL":"%s","Username":"alice","Secret":"{secret}"}}' "$server"
    else
      echo "credentials not found in native keychain"; exit 1
    fi ;;
  store) echo "$server" >> "{log}.stored" ;;  # here $server is the JSON
  erase) : ;;
esac
"""


def test_creds_store_helper_used_for_push_and_pull(bb: Orlop, tmp_path: Path) -> None:
    work = tmp_path / "reg"
    reg = start_htpasswd_registry(work, "alice", "s3cret")
    try:
        bindir = tmp_path / "bin"
        bindir.mkdir()
        log = tmp_path / "helper.log"
        helper = bindir / "docker-credential-test"
        helper.write_text(_HELPER.format(log=log, host=reg.host, secret="s3cret"))
        helper.chmod(0o755)
        cfg = tmp_path / "docker-config"
        cfg.mkdir()
        (cfg / "config.json").write_text(json.dumps({"credsStore": "test"}))
        env = private_env(tmp_path, PATH=f"{bindir}:{os.environ['PATH']}")
        ref = f"{reg.host}/private/bb:v1"
        bb.ok("tag", "busybox", ref)
        bb.ok("push", ref, env=env)
        other = Orlop(root=bb.root.parent / "root2", cwd=bb.cwd)
        out = other.ok("pull", ref, env=env)
        assert f"Status: Downloaded newer image for {ref}" in out
        assert other.ok("image", "inspect", "-f", "{{.Id}}", ref) == \
            bb.ok("image", "inspect", "-f", "{{.Id}}", "busybox")
        calls = log.read_text().splitlines()
        assert f"get {reg.host}" in calls, calls
        # The file holds no secret: the helper had it.
        assert "auths" not in json.loads((cfg / "config.json").read_text()) or \
            reg.host not in json.loads((cfg / "config.json").read_text())["auths"]

        # A helper with the wrong secret: the registry refuses, the pull says so.
        helper.write_text(_HELPER.format(log=log, host=reg.host, secret="wrong"))
        third = Orlop(root=bb.root.parent / "root3", cwd=bb.cwd)
        res = third("pull", ref, env=env)
        assert res.returncode == 1
        assert "unauthorized" in res.stderr or "pull access denied" in res.stderr, res.stderr

        # login stores through the helper too (no auth in config.json), as docker login.
        helper.write_text(_HELPER.format(log=log, host=reg.host, secret="s3cret"))
        res = bb("login", "-u", "alice", "--password-stdin", reg.host, input="s3cret\n",
                 env=env)
        assert res.returncode == 0, res.stderr
        assert res.stdout.strip() == "Login Succeeded"
        # The helpers' protocol: `store` gets {"ServerURL","Username","Secret"} on stdin.
        stored = [json.loads(ln) for ln in
                  (tmp_path / "helper.log.stored").read_text().splitlines()]
        assert stored == [{"ServerURL": reg.host, "Username": "alice", "Secret": "s3cret"}]
        conf = json.loads((cfg / "config.json").read_text())
        assert conf["credsStore"] == "test"
        assert "auth" not in conf.get("auths", {}).get(reg.host, {})
    finally:
        reg.stop()


def test_pull_and_push_events_as_dockerd(bb: Orlop, registry: Registry,
                                         tmp_path: Path) -> None:
    env = private_env(tmp_path)
    ref = f"{registry.host}/ev/bb:v1"
    bb.ok("tag", "busybox", ref)
    t0 = time.time()
    bb.ok("push", ref, env=env)
    bb.ok("rmi", ref)
    bb.ok("pull", ref, env=env)
    digest = json.loads(bb.ok("image", "inspect", ref))[0]["RepoDigests"][0]
    bb.ok("pull", digest, env=env)
    out = bb.ok("events", "--since", f"{t0:.9f}", "--until", f"{time.time():.9f}",
                "-f", "type=image", "--format", "{{json .}}")
    evs = [json.loads(ln) for ln in out.splitlines()]
    wanted = [e for e in evs if e["Action"] in ("push", "pull")]
    # dockerd 20.10 (tests/compat/test_registry_dockerd.py's daemon) writes exactly these:
    # {"status":"push","id":"127.0.0.1:P/ev/bb:v1","Type":"image","Action":"push",
    #  "Actor":{"ID":"127.0.0.1:P/ev/bb:v1","Attributes":{"name":"127.0.0.1:P/ev/bb"}}, ...}
    repo = f"{registry.host}/ev/bb"
    assert [(e["Action"], e["id"], e["Actor"]["ID"], e["Actor"]["Attributes"])
            for e in wanted] == [
        ("push", ref, ref, {"name": repo}),
        ("pull", ref, ref, {"name": repo}),
        ("pull", digest, digest, {"name": repo}),
    ]
    line = bb.ok("events", "--since", f"{t0:.9f}", "--until", f"{time.time():.9f}",
                 "-f", "event=push")
    assert line.strip().endswith(f" image push {ref} (name={repo})"), line
