"""`orlop build`: Docker's classic builder, run for real (root, real containers, a
temporary --root, busybox loaded from its tar)."""

from __future__ import annotations

import json
import os
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import Orlop
from registry_util import Registry, needs_registry, private_env

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("no_leftover_containers")]


def _ctx(base: Path, files: dict[str, str], name: str = "ctx") -> Path:
    d = base / name
    for rel, content in files.items():
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    return d


def _config(o: Orlop, ref: str) -> dict:  # type: ignore[type-arg]
    return json.loads(o.ok("image", "inspect", ref))[0]["Config"]  # type: ignore[no-any-return]


def _containers(o: Orlop) -> list[str]:
    return o.ok("ps", "-aq").split()


def test_build_multistage_cache_hits_and_misses(bb: Orlop) -> None:
    ctx = _ctx(bb.cwd, {
        "Dockerfile": "FROM busybox AS base\nWORKDIR /app\nCOPY a.txt ./\n"
                      "RUN echo built > /app/r.txt\n"
                      "FROM busybox\nCOPY --from=base /app /app2\n"
                      'CMD ["cat", "/app2/a.txt", "/app2/r.txt"]\n',
        "a.txt": "one\n"})
    first = bb.ok("build", "-t", "ms:1", str(ctx))
    assert "Step 1/7 : FROM busybox AS base" in first
    assert " ---> Running in " in first and "Removing intermediate container" in first
    assert "Using cache" not in first
    assert first.rstrip().endswith("Successfully tagged ms:1")
    assert bb.ok("run", "--rm", "ms:1") == "one\nbuilt\n"
    t0 = time.monotonic()
    second = bb.ok("build", "-t", "ms:1", str(ctx))
    elapsed = time.monotonic() - t0
    assert second.count(" ---> Using cache") == 5, second
    built = [ln for ln in first.splitlines() if ln.startswith("Successfully built")]
    assert built == [ln for ln in second.splitlines() if ln.startswith("Successfully built")]
    assert elapsed < 5, elapsed  # a cached rebuild runs nothing
    (ctx / "a.txt").write_text("two\n")
    third = bb.ok("build", "-t", "ms:2", str(ctx))
    # WORKDIR still hits; the COPY of a changed file misses, and so does all after it.
    assert third.count(" ---> Using cache") == 1, third
    assert bb.ok("run", "--rm", "ms:2") == "two\nbuilt\n"
    nocache = bb.ok("build", "--no-cache", "-q", str(ctx)).strip()
    assert nocache.startswith("sha256:")
    # Step images are hidden from `images` as Docker hides intermediate ones (a stage's
    # last image, the parent of no other, is listed as <none>, as in Docker).
    lines = first.splitlines()
    workdir_step = lines[lines.index("Step 2/7 : WORKDIR /app") + 1].split()[-1]
    assert workdir_step not in bb.ok("images", "-q").split()
    assert _containers(bb) == []


def test_build_dockerignore_and_dockerfile_flag(bb: Orlop) -> None:
    ctx = _ctx(bb.cwd, {
        "Build.df": "FROM busybox\nCOPY . /ctx/\n",
        ".dockerignore": "# comment\n*.log\nsecret/\n**/tmp\n!keep.log\n",
        "a.txt": "a", "x.log": "x", "keep.log": "k", "secret/s": "s",
        "sub/tmp/t": "t", "sub/ok": "ok"})
    bb.ok("build", "-f", str(ctx / "Build.df"), "-t", "ign", str(ctx))
    out = bb.ok("run", "--rm", "ign", "find", "/ctx", "-type", "f").split()
    assert sorted(out) == ["/ctx/.dockerignore", "/ctx/Build.df", "/ctx/a.txt",
                           "/ctx/keep.log", "/ctx/sub/ok"]


def test_build_volume_rule_run_does_not_persist_copy_does(bb: Orlop) -> None:
    ctx = _ctx(bb.cwd, {
        "Dockerfile": "FROM busybox\nVOLUME /data\n"
                      "RUN echo lost > /data/from-run && echo kept > /from-run\n"
                      "COPY f /data/from-copy\n",
        "f": "copied\n"})
    bb.ok("build", "-t", "vol", str(ctx))
    assert _config(bb, "vol")["Volumes"] == {"/data": {}}
    out = bb.ok("run", "--rm", "vol", "sh", "-c",
                "ls -A /data; cat /from-run /data/from-copy")
    assert out.split() == ["from-copy", "kept", "copied"]
    # The built image run with a named volume: its content is copied up into it.
    bb.ok("run", "--rm", "-v", "bvol:/data", "vol", "sh", "-c", "echo more > /data/more")
    assert bb.ok("run", "--rm", "-v", "bvol:/data", "busybox", "sh", "-c",
                 "cat /data/from-copy /data/more") == "copied\nmore\n"
    assert bb.ok("volume", "ls", "-q").split() == ["bvol"]  # the RUN's volume is gone


def test_build_failing_step_leaves_no_container(bb: Orlop) -> None:
    ctx = _ctx(bb.cwd, {"Dockerfile": "FROM busybox\nRUN echo before\nRUN exit 3\n"})
    res = bb("build", str(ctx))
    assert res.returncode == 3
    assert "The command '/bin/sh -c exit 3' returned a non-zero code: 3" in res.stderr
    assert "Step 3/3 : RUN exit 3" in res.stdout
    assert _containers(bb) == []
    assert bb.ok("volume", "ls", "-q") == ""
    ctx2 = _ctx(bb.cwd, {"Dockerfile": 'FROM busybox\nRUN ["false"]\n'}, "ctx2")
    res = bb("build", str(ctx2))
    assert res.returncode == 1
    assert "The command 'false' returned a non-zero code: 1" in res.stderr


def test_build_args_env_and_metadata(bb: Orlop) -> None:
    ctx = _ctx(bb.cwd, {"Dockerfile": (
        "ARG BASE=busybox\nFROM $BASE\nARG WHO=world\nARG UNSET\n"
        'ENV GREETING="hello ${WHO}" PLAIN=$WHO\n'
        "RUN echo \"$GREETING/$WHO/${UNSET:-none}\" > /g\n"
        "LABEL org.x=\"$WHO\"\nEXPOSE 80 53/udp\nUSER 1:1\nSTOPSIGNAL SIGINT\n"
        "HEALTHCHECK --interval=5s --retries=2 CMD true\n"
        "ENTRYPOINT [\"/bin/sh\", \"-c\"]\nCMD [\"cat /g\"]\n")})
    out = bb.ok("build", "--build-arg", "WHO=orlop", "--build-arg", "NOPE=1",
                "--label", "extra=yes", "-t", "args", str(ctx))
    assert "[Warning] One or more build-args [NOPE] were not consumed" in out
    assert bb.ok("run", "--rm", "args") == "hello orlop/orlop/none\n"
    cfg = _config(bb, "args")
    assert "GREETING=hello orlop" in cfg["Env"] and "PLAIN=orlop" in cfg["Env"]
    assert not any(e.startswith("WHO=") for e in cfg["Env"])  # ARGs are not persisted
    assert cfg["Labels"] == {"org.x": "orlop", "extra": "yes"}
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert cfg["User"] == "1:1" and cfg["StopSignal"] == "SIGINT"
    assert cfg["Healthcheck"]["Test"] == ["CMD-SHELL", "true"]
    assert cfg["Healthcheck"]["Interval"] == 5_000_000_000
    assert cfg["Healthcheck"]["Retries"] == 2
    # A different --build-arg value misses the cache at the first RUN using it.
    again = bb.ok("build", "--build-arg", "WHO=other", str(ctx))
    assert again.count("Using cache") == 2  # the two ARG steps; ENV differs


def test_build_copy_chown_chmod_add_tar_and_globs(bb: Orlop) -> None:
    ctx = _ctx(bb.cwd, {"Dockerfile": (
        "FROM busybox\n"
        "COPY --chown=1:2 a.txt /own/\n"
        "COPY --chown=nobody --chmod=600 a.txt /own/n\n"
        "COPY *.md /docs/\n"
        "ADD arch.tar /unpacked/\n"),
        "a.txt": "a", "one.md": "1", "two.md": "2", "c.txt": "c"})
    with tarfile.open(ctx / "arch.tar", "w") as tf:
        tf.add(ctx / "c.txt", arcname="inner/c.txt")
    bb.ok("build", "-t", "cp", str(ctx))
    out = bb.ok("run", "--rm", "cp", "sh", "-c",
                "stat -c '%u:%g %a %n' /own/a.txt /own/n /own; ls /docs; "
                "cat /unpacked/inner/c.txt")
    lines = out.splitlines()
    assert lines[0] == "1:2 644 /own/a.txt"
    assert lines[1].split()[0:2] == ["65534:65534", "600"]
    assert lines[2].startswith("1:2 755")  # created for the copy, owned like it
    assert lines[3:5] == ["one.md", "two.md"] and lines[5] == "c"


def test_build_refusals_are_clear(bb: Orlop) -> None:
    cases = {
        "FROM busybox\nCOPY http://127.0.0.1:9/x /x\n": "source can't be a URL for COPY",
        "FROM --platform=linux/arm64 busybox\n": "linux/arm64",
        "FROM busybox\nRUN <<EOF\necho hi\nEOF\n": "heredocs",
        "FROM busybox\nBOGUS x\n": "unknown instruction: BOGUS",
        "FROM busybox\nCOPY missing /x\n": "file not found in build context",
    }
    for i, (text, needle) in enumerate(cases.items()):
        ctx = _ctx(bb.cwd, {"Dockerfile": text}, f"r{i}")
        res = bb("build", str(ctx))
        assert res.returncode != 0, text
        assert needle in res.stderr, (text, res.stderr)
    res = bb("build", "--rm=maybe", str(_ctx(bb.cwd, {"Dockerfile": "FROM busybox\n"}, "m")))
    assert res.returncode != 0 and 'invalid argument "maybe" for "--rm"' in res.stderr
    assert _containers(bb) == []


def test_build_rm_false_keeps_the_step_containers(bb: Orlop) -> None:
    ctx = _ctx(bb.cwd, {"Dockerfile": "FROM busybox\nRUN echo a > /a\nRUN echo b > /b\n"},
               "keep")
    out = bb.ok("build", "--rm=false", "-t", "kept", str(ctx))
    assert "Removing intermediate container" not in out
    kept = _containers(bb)
    assert len(kept) == 2, kept  # one per RUN step, exited, as Docker leaves them
    bb.ok("rm", *kept)
    assert bb.ok("run", "--rm", "kept", "cat", "/a", "/b") == "a\nb\n"


def test_build_target_stdin_tar_iidfile_and_prune(bb: Orlop) -> None:
    ctx = _ctx(bb.cwd, {"Dockerfile": "FROM busybox AS one\nRUN echo 1 > /one\n"
                                      "FROM one AS two\nRUN echo 2 > /two\n"})
    iid = bb.cwd / "iid"
    out = bb.ok("build", "--target", "one", "--iidfile", str(iid), "-t", "tgt", str(ctx))
    assert "Step 2/2" in out and "/two" not in out
    assert iid.read_text() == json.loads(bb.ok("image", "inspect", "tgt"))[0]["Id"]
    tar_path = bb.cwd / "ctx.tar"
    with tarfile.open(tar_path, "w") as tf:
        tf.add(ctx / "Dockerfile", arcname="Dockerfile")
    with open(tar_path, "rb") as f:
        res = bb("build", "-t", "fromtar", "-", input=f.read().decode("latin-1"))
    assert res.returncode == 0, res.stderr
    assert bb.ok("run", "--rm", "fromtar", "cat", "/one", "/two") == "1\n2\n"
    res = bb("build", "-", input="FROM busybox\nRUN echo plain > /p\n")
    assert res.returncode == 0, res.stderr
    before = len(os.listdir(bb.root / "layers"))
    pruned = bb.ok("builder", "prune", "-f")
    assert pruned.startswith("Total reclaimed space:")
    assert bb.ok("run", "--rm", "fromtar", "cat", "/two") == "2\n"  # finals keep layers
    assert len(os.listdir(bb.root / "layers")) <= before


def test_build_copy_merges_into_image_dirs_and_follows_image_symlinks(bb: Orlop) -> None:
    ctx = _ctx(bb.cwd, {"Dockerfile": (
        "FROM busybox\n"
        "RUN mkdir -p /real && ln -s /real /link && chmod 0750 /real\n"
        "COPY f /etc/\n"
        "COPY f /link/f\n"
        "COPY d /etc/\n"),
        "f": "f\n", "d/sub/x": "x\n"})
    bb.ok("build", "-t", "merge", str(ctx))
    out = bb.ok("run", "--rm", "merge", "sh", "-c",
                "head -1 /etc/passwd; cat /etc/f /real/f /etc/sub/x; stat -c %a /real; "
                "readlink /link")
    assert out.splitlines() == ["root:x:0:0:root:/root:/bin/sh", "f", "f", "x", "750",
                                "/real"]


def test_build_shell_onbuild_escape_and_exec_forms(bb: Orlop) -> None:
    ctx = _ctx(bb.cwd, {"Dockerfile": (
        "FROM busybox\n"
        'SHELL ["/bin/sh", "-e", "-c"]\n'
        "RUN echo shell-form > /s\n"
        'RUN ["/bin/sh", "-c", "echo exec-form > /e"]\n'
        "ONBUILD RUN echo triggered > /t\n")})
    bb.ok("build", "-t", "parent", str(ctx))
    assert _config(bb, "parent")["OnBuild"] == ["RUN echo triggered > /t"]
    assert _config(bb, "parent")["Shell"] == ["/bin/sh", "-e", "-c"]
    child = _ctx(bb.cwd, {"Dockerfile": (
        "# escape=`\n"
        "FROM parent\n"
        "RUN echo one `\n"
        "    two > /w\n")}, "child")
    out = bb.ok("build", "-t", "child", str(child))
    assert "# Executing 1 build trigger" in out
    assert bb.ok("run", "--rm", "child", "cat", "/s", "/e", "/t", "/w") == \
        "shell-form\nexec-form\ntriggered\none two\n"
    assert not _config(bb, "child")["OnBuild"]


@needs_registry
def test_build_pulls_a_missing_base_and_pull_flag(bb: Orlop, registry: Registry,
                                                  tmp_path: Path) -> None:
    env = private_env(tmp_path)
    ref = f"{registry.host}/base/bb:v1"
    bb.ok("tag", "busybox", ref)
    bb.ok("push", ref, env=env)
    bb.ok("rmi", ref)
    ctx = _ctx(bb.cwd, {"Dockerfile": f"FROM {ref}\nRUN echo pulled > /p\n"})
    out = bb.ok("build", "-t", "pulled", str(ctx), env=env)
    assert "Step 1/2" in out
    assert bb.ok("run", "--rm", "pulled", "cat", "/p") == "pulled\n"
    again = bb.ok("build", "--pull", "-t", "pulled", str(ctx), env=env)
    assert again.count("Using cache") == 1  # the same base: the RUN still hits


def test_build_proxy_args_are_predefined_and_not_recorded(bb: Orlop) -> None:
    ctx = _ctx(bb.cwd, {"Dockerfile": "FROM busybox\nRUN echo \"proxy=$HTTP_PROXY\" > /p\n"})
    bb.ok("build", "--build-arg", "HTTP_PROXY=http://proxy.invalid:3128", "-t", "px",
          str(ctx))
    assert bb.ok("run", "--rm", "px", "cat", "/p") == "proxy=http://proxy.invalid:3128\n"
    history = bb.ok("history", "--no-trunc", "--format", "{{.CreatedBy}}", "px")
    assert "proxy.invalid" not in history
    assert "HTTP_PROXY" not in json.dumps(_config(bb, "px"))


def test_rmi_of_a_built_image_deletes_its_untagged_step_images(bb: Orlop) -> None:
    ctx = _ctx(bb.cwd, {"Dockerfile": "FROM busybox\nENV A=1\nRUN echo x > /x\nCMD [\"sh\"]\n"})
    bb.ok("build", "-t", "gone", str(ctx))
    before = sorted(os.listdir(bb.root / "layers"))
    out = bb.ok("rmi", "gone")
    assert out.splitlines()[0] == "Untagged: gone:latest"
    assert sum(1 for ln in out.splitlines() if ln.startswith("Deleted: ")) == 3
    assert bb.ok("images", "-q").split() == [bb.ok("images", "-q", "busybox").strip()]
    assert sorted(os.listdir(bb.root / "layers")) != before  # the RUN's layer went too
    bb.ok("build", "-t", "kept", str(ctx))
    out = bb.ok("rmi", "--no-prune", "kept")
    assert sum(1 for ln in out.splitlines() if ln.startswith("Deleted: ")) == 1


def test_build_network_none_and_compressed_add(bb: Orlop) -> None:
    ctx = _ctx(bb.cwd, {"Dockerfile": "FROM busybox\nADD data.tgz /d/\n"
                                      "RUN ls /sys/class/net > /nets\n", "x": "gz\n"})
    with tarfile.open(ctx / "data.tgz", "w:gz") as tf:
        tf.add(ctx / "x", arcname="x")
    bb.ok("build", "--network", "none", "-t", "net", str(ctx))
    assert bb.ok("run", "--rm", "--network", "none", "net", "cat", "/nets", "/d/x") == \
        "lo\ngz\n"


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A static HTTP server on 127.0.0.1 (a thread of this test), serving a directory."""
    import functools
    import http.server
    import threading

    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_build_add_url_fetches_names_caches_and_never_unpacks(bb: Orlop,
                                                              web: tuple[str, Path]) -> None:
    base, www = web
    (www / "hello.txt").write_text("v1\n")
    with tarfile.open(www / "data.tar", "w") as tf:
        info = tarfile.TarInfo("inside")
        info.size = 0
        tf.addfile(info)
    dockerfile = (f"FROM busybox\nADD {base}/hello.txt /dl/\nADD {base}/data.tar /dl/\n"
                  f"ADD {base}/hello.txt /renamed\n")
    ctx = _ctx(bb.cwd, {"Dockerfile": dockerfile}, "url")
    bb.ok("build", "-t", "fetched", str(ctx))
    out = bb.ok("run", "--rm", "fetched", "sh", "-c",
                "cat /dl/hello.txt /renamed; stat -c '%a %n' /dl/hello.txt /dl/data.tar; "
                "ls /dl")
    assert out.splitlines() == ["v1", "v1", "600 /dl/hello.txt", "600 /dl/data.tar",
                                "data.tar", "hello.txt"]
    # fetched again at every build: unchanged content hits the cache, changed misses
    again = bb.ok("build", "-t", "fetched", str(ctx))
    assert again.count("Using cache") == 3, again
    (www / "hello.txt").write_text("v2\n")
    changed = bb.ok("build", "-t", "fetched", str(ctx))
    assert changed.count("Using cache") == 0, changed
    assert bb.ok("run", "--rm", "fetched", "cat", "/renamed") == "v2\n"
    # a missing file and an unreachable server: the build fails and says why
    missing = _ctx(bb.cwd, {"Dockerfile": f"FROM busybox\nADD {base}/nope /x\n"}, "nope")
    res = bb("build", str(missing))
    assert res.returncode != 0 and f"failed to GET {base}/nope with status 404" in res.stderr
    dead = _ctx(bb.cwd, {"Dockerfile": "FROM busybox\nADD http://127.0.0.1:9/x /x\n"},
                "dead")
    res = bb("build", str(dead))
    assert res.returncode != 0 and 'Get "http://127.0.0.1:9/x"' in res.stderr, res.stderr
    assert not [p for p in (bb.root / "tmp").iterdir() if p.name.startswith("build-")]


def test_build_source_symlinks_are_followed_inside_the_context_only(bb: Orlop) -> None:
    """A context symlink to /etc/hostname means CONTEXT/etc/hostname (moby's
    FollowSymlinkInScope), for a named source and a glob match alike: nothing of the
    host's file reaches the image, and the copy keeps the source's name."""
    ctx = _ctx(bb.cwd, {"Dockerfile": "FROM busybox\nCOPY *.txt /out/\nCOPY a.txt /out2/\n",
                        "etc/hostname": "in the context\n"}, "links")
    (ctx / "a.txt").symlink_to("/etc/hostname")
    bb.ok("build", "-t", "links", str(ctx))
    assert bb.ok("run", "--rm", "links", "cat", "/out/a.txt", "/out2/a.txt") == \
        "in the context\n" * 2
    (ctx / "etc" / "hostname").unlink()
    # dockerd 20.10's classic builder fails the step on a glob match with nothing at its
    # target in the context, beside a plain file or alone, with the text of a named one.
    res = bb("build", "--no-cache", str(ctx))
    assert res.returncode != 0 and "COPY failed: file not found in build context or " \
        "excluded by .dockerignore: stat a.txt: file does not exist" in res.stderr
    (ctx / "b.txt").write_text("b\n")
    (ctx / "c.txt").symlink_to("../outside.txt")
    (ctx.parent / "outside.txt").write_text("host\n")
    res = bb("build", "--no-cache", str(ctx))
    assert res.returncode != 0 and "stat a.txt: file does not exist" in res.stderr
    (ctx / "a.txt").unlink()
    res = bb("build", "--no-cache", str(ctx))
    assert res.returncode != 0 and "stat c.txt: file does not exist" in res.stderr
    (ctx / "a.txt").symlink_to("/etc/hostname")
    ctx.joinpath("Dockerfile").write_text("FROM busybox\nCOPY a.txt /x\n")
    res = bb("build", "--no-cache", str(ctx))
    assert res.returncode != 0 and "stat a.txt: file does not exist" in res.stderr
    assert _containers(bb) == []


def test_a_local_build_reads_the_context_as_it_was_when_it_started(bb: Orlop) -> None:
    """`build DIR` takes the directory as the docker CLI sends it (a tar walked by
    descriptor, links kept as links) and builds from the engine's private copy: a source
    swapped for a link to a host file while the build runs changes nothing."""
    import subprocess
    import sys

    secret = bb.cwd / "secret.txt"
    secret.write_text("host secret\n")
    ctx = _ctx(bb.cwd, {"Dockerfile": "FROM busybox\nRUN sleep 2\nCOPY f.txt /f.txt\n",
                        "f.txt": "original\n"}, "snap")
    proc = subprocess.Popen([sys.executable, "-m", "orlop", "--root", str(bb.root), "build",
                             "-t", "snap", str(ctx)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    (ctx / "f.txt").unlink()
    (ctx / "f.txt").symlink_to(secret)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert bb.ok("run", "--rm", "snap", "cat", "/f.txt") == "original\n"


def test_copy_from_a_stage_hashes_its_files_as_dockerd(bb: Orlop) -> None:
    """dockerd 20.10's classic builder, seen here for this Dockerfile: ``COPY --from``
    names its sources in the history by the tarsum of the stage's files (a file, a
    directory, several), as COPY from the context; a missing one is "stat nope"."""
    ctx = _ctx(bb.cwd, {"Dockerfile": (
        "FROM busybox AS a\n"
        "RUN mkdir -p /d/s && echo hi > /d/f && echo x > /d/s/g && "
        "touch -d 2020-01-01 /d/f /d/s/g /d/s /d\n"
        "FROM busybox\nCOPY --from=a /d/f /f1\nCOPY --from=a /d /d2\n"
        "COPY --from=a /d/f /d/s/g /multi/\n")}, "from")
    bb.ok("build", "-q", "-t", "fromhash", str(ctx))
    out = bb.ok("history", "--no-trunc", "--format", "{{.CreatedBy}}", "fromhash")
    assert out.splitlines()[:3] == [
        "/bin/sh -c #(nop) COPY multi:aad5c4b608a1b8d3aba3392283b8ca4d8d7c8a34fcb7817853b0027d0"
        "3a3c2c7 in /multi/ ",
        "/bin/sh -c #(nop) COPY dir:08cb57d0a18f9d190045f16fcb95b7430004d6ef506275ab809e53d3a0f"
        "e4e16 in /d2 ",
        "/bin/sh -c #(nop) COPY file:4e6ca44a4c9b6a8f6969a4796d8620c6fb3dda7f0b131d1d7c0182a629"
        "0a0d37 in /f1 "]
    assert bb.ok("run", "--rm", "fromhash", "cat", "/f1", "/d2/s/g", "/multi/g") == "hi\nx\nx\n"
    (ctx / "Dockerfile").write_text("FROM busybox AS a\nFROM busybox\nCOPY --from=a /nope /x\n")
    res = bb("build", str(ctx))
    assert res.returncode != 0 and "COPY failed: stat nope: file does not exist" in res.stderr
