"""POST /build against orlopd with real clients: the docker CLI's classic builder
(DOCKER_BUILDKIT=0), docker-py's ``images.build``, docker-compose 1.29's ``build:``,
and ``orlop -H``."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from .conftest import Server

DOCKERFILE = """\
FROM busybox AS base
ARG WHO=world
WORKDIR /app
COPY a.txt ./
RUN echo "hello $WHO" > /app/greeting
VOLUME /data
RUN echo lost > /data/run
COPY a.txt /data/copied
FROM busybox
COPY --from=base /app /app
CMD ["cat", "/app/greeting", "/app/a.txt"]
"""


def _context(base: Path) -> Path:
    ctx = base / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "a.txt").write_text("file a\n")
    (ctx / "skip.log").write_text("no\n")
    (ctx / ".dockerignore").write_text("*.log\n")
    return ctx


def _docker(server: Server, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": server.host, "DOCKER_CONFIG": str(server.dir / "cfg"),
           "DOCKER_BUILDKIT": "0"}
    env.pop("DOCKER_CONTEXT", None)
    return subprocess.run([shutil.which("docker") or "docker", *args], capture_output=True,
                          text=True, timeout=180, env=env, cwd=cwd, check=False)


def test_docker_cli_classic_build_cache_failure_and_prune(bbd: Server) -> None:
    ctx = _context(bbd.dir)
    res = _docker(bbd, "build", "--build-arg", "WHO=docker", "-t", "app:1", "-t", "app:2",
                  ".", cwd=ctx)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert out.startswith("Sending build context to Docker daemon")
    assert "Step 1/11 : FROM busybox AS base" in out
    assert " ---> Running in " in out and "Removing intermediate container" in out
    assert "Successfully tagged app:1" in out and "Successfully tagged app:2" in out
    assert bbd.ok("run", "--rm", "app:1") == "hello docker\nfile a\n"
    again = _docker(bbd, "build", "--build-arg", "WHO=docker", "-t", "app:1", ".", cwd=ctx)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count(" ---> Using cache") == 9, again.stdout
    # The VOLUME rule, seen through the API: RUN's write is gone, COPY's is kept.
    ctx2 = bbd.dir / "ctx2"
    ctx2.mkdir()
    (ctx2 / "Dockerfile").write_text("FROM busybox\nVOLUME /data\n"
                                     "RUN echo lost > /data/run\nCOPY f /data/f\n")
    (ctx2 / "f").write_text("kept\n")
    assert _docker(bbd, "build", "-t", "vol", ".", cwd=ctx2).returncode == 0
    assert bbd.ok("run", "--rm", "vol", "ls", "/data") == "f\n"
    # A failing step: Docker's message and exit code, and no container left.
    (ctx2 / "Dockerfile.fail").write_text("FROM busybox\nRUN exit 7\n")
    bad = _docker(bbd, "build", "-f", "Dockerfile.fail", ".", cwd=ctx2)
    assert bad.returncode == 7
    assert "The command '/bin/sh -c exit 7' returned a non-zero code: 7" in bad.stderr
    assert bbd.ok("ps", "-aq") == ""
    # -f from outside the context (the CLI appends it to the tar), -q, --iidfile.
    outside = bbd.dir / "Outside.df"
    outside.write_text("FROM busybox\nLABEL from=outside\n")
    q = _docker(bbd, "build", "-q", "-f", str(outside), "--iidfile",
                str(bbd.dir / "iid"), ".", cwd=ctx2)
    assert q.returncode == 0, q.stderr
    assert q.stdout.strip().startswith("sha256:")
    assert (bbd.dir / "iid").read_text().strip() == q.stdout.strip()
    # `docker system prune` ends (it calls POST /build/prune) and the images still run.
    assert "Total reclaimed space" in bbd.ok("system", "prune", "-f")
    assert bbd.ok("run", "--rm", "app:1") == "hello docker\nfile a\n"


def test_docker_py_images_build(client: Any, bbd: Server) -> None:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tf:
        for name, content in (("Dockerfile", "FROM busybox\nARG X=1\n"
                                             "RUN echo py$X > /py\nCMD [\"cat\", \"/py\"]\n"),):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tf.addfile(info, io.BytesIO(content.encode()))
    data.seek(0)
    image, logs = client.images.build(fileobj=data, custom_context=True, tag="py:1",
                                      buildargs={"X": "2"}, rm=True)
    assert "py:1" in image.tags
    assert any("Successfully built" in str(chunk.get("stream", "")) for chunk in logs)
    assert client.containers.run("py:1", remove=True) == b"py2\n"
    docker = pytest.importorskip("docker")
    bad = io.BytesIO(b"FROM busybox\nRUN false\n")
    with pytest.raises(docker.errors.BuildError) as err:
        client.images.build(fileobj=bad, rm=True)
    assert "returned a non-zero code: 1" in str(err.value)
    assert client.containers.list(all=True) == []
    # docker-py's default is rm=False: the failed step's container stays, as with dockerd
    with pytest.raises(docker.errors.BuildError):
        client.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN false\n"))
    left = client.containers.list(all=True)
    assert len(left) == 1 and left[0].status == "exited"
    left[0].remove()
    # resource limits for the steps are not applied by Orlop's builder: refused, not ignored
    # (shmsize and extra_hosts are applied: test_dockerpy_fidelity.py)
    for kwargs in ({"container_limits": {"cpushares": 512}},
                   {"container_limits": {"memory": 1 << 27}}):
        data.seek(0)
        with pytest.raises(docker.errors.APIError) as api_err:
            client.images.build(fileobj=data, custom_context=True, **kwargs)
        assert "not supported" in str(api_err.value), kwargs
    assert client.containers.list(all=True) == []


def test_compose_build(bbd: Server) -> None:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not installed (scripts/setup.sh installs it)")
    app = bbd.dir / "app"
    (app / "web").mkdir(parents=True)
    (app / "web" / "Dockerfile").write_text("FROM busybox\nCOPY msg /msg\n"
                                            'CMD ["cat", "/msg"]\n')
    (app / "web" / "msg").write_text("composed\n")
    (app / "docker-compose.yml").write_text(
        'version: "3.7"\nservices:\n  web:\n    build: ./web\n    image: cweb:1\n')
    env = {**os.environ, "DOCKER_HOST": bbd.host, "COMPOSE_INTERACTIVE_NO_CLI": "1",
           "DOCKER_BUILDKIT": "0", "COMPOSE_DOCKER_CLI_BUILD": "0"}
    res = subprocess.run([exe, "-p", "cb", "build"], cwd=app, env=env, capture_output=True,
                         text=True, timeout=180, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Successfully built" in res.stdout + res.stderr
    assert bbd.ok("run", "--rm", "cweb:1") == "composed\n"


def test_orlop_remote_build(bbd: Server) -> None:
    ctx = _context(bbd.dir)
    cmd = [sys.executable, "-m", "orlop", "-H", bbd.host, "build", "-t", "remote:1", "."]
    res = subprocess.run(cmd, cwd=ctx, capture_output=True, text=True, timeout=180,
                         check=False)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Sending build context to Docker daemon")
    assert "Successfully tagged remote:1" in res.stdout
    assert bbd.ok("run", "--rm", "remote:1") == "hello world\nfile a\n"
    res = subprocess.run([*cmd[:-1], "-f", "-", "."], cwd=ctx, input="FROM busybox\nRUN exit 4\n",
                         capture_output=True, text=True, timeout=180, check=False)
    assert res.returncode == 4
    assert "The command '/bin/sh -c exit 4' returned a non-zero code: 4" in res.stderr
    prune = subprocess.run([sys.executable, "-m", "orlop", "-H", bbd.host, "builder", "prune",
                            "-f"], capture_output=True, text=True, timeout=60, check=False)
    assert prune.returncode == 0 and "Total reclaimed space" in prune.stdout
    res = subprocess.run([*cmd[:-3], "--compress", "-t", "remote:gz", "."], cwd=ctx,
                         capture_output=True, text=True, timeout=180, check=False)
    assert res.returncode == 0, res.stderr
    assert bbd.ok("run", "--rm", "remote:gz") == "hello world\nfile a\n"


@pytest.mark.parametrize("remote", [False, True], ids=["local", "remote"])
def test_orlop_build_add_host_shm_size_cache_from_isolation(bbd: Server, remote: bool
                                                            ) -> None:
    """``build --add-host``/``--shm-size`` reach the RUN steps' containers, ``--cache-from``
    limits the cache to those images, ``--isolation`` takes "default" only: locally and
    with -H (the query parameters the docker CLI sends)."""
    ctx = bbd.dir / f"flags-{remote}"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM busybox\nRUN grep 10.1.2.3 /etc/hosts && df -k /dev/shm | tail -1 && "
        f"echo {remote} > /x\n")
    where = ["-H", bbd.host] if remote else ["--root", str(bbd.root)]

    def build(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "orlop", *where, "build", *args, "."],
                              cwd=ctx, capture_output=True, text=True, timeout=180,
                              check=False)

    res = build("-t", f"flags:{remote}", "--add-host", "myhost:10.1.2.3", "--shm-size",
                "16m", "--isolation", "default")
    assert res.returncode == 0, res.stderr
    assert "10.1.2.3\tmyhost" in res.stdout and " 16384 " in res.stdout, res.stdout
    again = ("--add-host", "myhost:10.1.2.3", "--shm-size", "16m")
    assert "Using cache" in build(*again).stdout
    res = build(*again, "--cache-from", "busybox")  # not a source of the RUN step
    assert res.returncode == 0 and "Using cache" not in res.stdout, res.stdout
    res = build(*again, "--cache-from", f"flags:{remote}")
    assert res.returncode == 0 and "Using cache" in res.stdout, res.stdout
    res = build("--isolation", "hyperv")
    assert res.returncode != 0 and 'Unsupported isolation: "hyperv"' in res.stderr
    res = build("--shm-size", "x")
    assert res.returncode != 0
    assert """invalid argument "x" for "--shm-size" flag: invalid size: 'x'""" in res.stderr
    for args, text in ((("-m", "64m"), "--memory 64m is not supported by Orlop's builder"),
                       (("--security-opt", "seccomp=unconfined"), "--security-opt "
                        "seccomp=unconfined is not supported by Orlop's builder"),
                       (("--squash",), "--squash is not supported by Orlop's builder")):
        res = build(*args)
        assert res.returncode != 0 and text in res.stderr, res.stderr
    assert build("--compress", "-q").returncode == 0  # how a context travels: same build
    if remote:  # the docker CLI's parameters orlopd used to drop
        for args, param in ((("--cgroup-parent", "p"), "cgroupparent=p"),
                            (("--security-opt", "seccomp=unconfined"),
                             "securityopt=seccomp=unconfined")):
            res = _docker(bbd, "build", *args, ".", cwd=ctx)
            assert res.returncode != 0 and f"build parameter {param} is not supported by " \
                "Orlop's builder" in res.stderr, res.stderr
    res = build("--add-host", "bad")
    assert res.returncode != 0 and 'invalid argument "bad" for "--add-host" flag: bad ' \
        'format for add-host: "bad"' in res.stderr
