"""A RUN step: an ordinary Orlop container, through the engine's facade.

The container is created from the current step's image (so the image's ``VOLUME``s
become anonymous volumes, its ``WORKDIR``, ``USER`` and ``ENV`` apply), with the
entrypoint reset and the step's build args added to its environment, started in the
foreground with its output streamed into the build's, and then committed by the
builder: its upper directory without what is below its mount points.  Whatever
happens, it is removed with its anonymous volumes afterwards (a failed step leaves no
container behind).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from orlop.errors import OrlopError

if TYPE_CHECKING:
    from orlop.engine.engine import Engine


@dataclass
class RunResult:
    engine: Engine
    container_id: str
    exit_code: int
    upper: Path
    mount_targets: list[str]
    out: Callable[[str], None]

    @property
    def has_changes(self) -> bool:
        """Anything but the engine's own init-layer entries (/etc/mtab, the /etc/hosts
        mount points: files/initlayer.py), which a commit leaves out as moby's does."""
        from orlop.engine.files.commit import has_content

        fd = os.open(self.upper, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            return has_content(fd)
        finally:
            os.close(fd)

    def remove(self) -> None:
        with contextlib.suppress(OrlopError):
            self.engine.remove_container(self.container_id, force=True, volumes=True)
        if self.exit_code == 0:
            self.out(f"Removing intermediate container {self.container_id[:12]}\n")


def run_step(engine: Engine, image_id: str, cmd: list[str], env: list[str], network: str,
             out: Callable[[str], None], *, extra_hosts: tuple[str, ...] = (),
             shm_size: int = 0) -> RunResult:
    from orlop.engine.containers.procio import Stdio
    from orlop.engine.runoptions import RunOptions

    opts = RunOptions(image=image_id, command=list(cmd), entrypoint=[], env=list(env),
                      network=network or "default", add_host=list(extra_hosts),
                      shm_size=shm_size)
    c = engine.create_container(opts)
    out(f" ---> Running in {c.id[:12]}\n")
    rfd, wfd = os.pipe()
    erfd, ewfd = os.pipe()
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)

    def pump(fd: int, wrap: Callable[[str], str]) -> None:
        with os.fdopen(fd, "rb", buffering=0) as r:
            while chunk := r.read(65536):
                out(wrap(chunk.decode("utf-8", "replace")))

    try:
        if threading.current_thread() is threading.main_thread():
            threads = [threading.Thread(target=pump, args=(fd, wrap), daemon=True,
                                        name="build-run-output")
                       for fd, wrap in ((rfd, _plain), (erfd, stderr_text))]
            for t in threads:
                t.start()
            try:
                code = engine.start_attached(c.id, Stdio(null, wfd, ewfd), interactive=False)
            finally:
                os.close(wfd)
                os.close(ewfd)
                os.close(null)
                for t in threads:
                    t.join()
        else:
            for fd in (wfd, ewfd, null, rfd, erfd):
                os.close(fd)
            code = _run_detached(engine, c.id, out)
        targets = [str(p.get("destination", "")) for p in engine.mount_points(c.id)]
    except BaseException:
        with contextlib.suppress(OrlopError):
            engine.remove_container(c.id, force=True, volumes=True)
        raise
    return RunResult(engine, c.id, code, engine.config.containers_dir / c.id / "diff",
                     targets, out)


def _plain(text: str) -> str:
    return text


def stderr_text(text: str) -> str:
    """A RUN step's stderr as Docker's classic builder streams it: each piece in red
    (moby's ``streamformatter.NewStderrWriter``), which docker-py and the CLI pass on."""
    return f"\x1b[91m{text}\x1b[0m"


def _run_detached(engine: Engine, cid: str, out: Callable[[str], None]) -> int:
    """orlopd's worker threads cannot run a container in the foreground (its signal
    handling needs the main thread): the container gets its own monitor, as a
    ``docker run -d`` would, and its log is followed until it stops."""
    from orlop.engine.containers.logs import stream_log

    c = engine.start_detached(cid)
    for entry in stream_log(engine.log_path(c), follow_=True,
                            still_running=lambda: engine.is_running(c)):
        text = entry.data.decode("utf-8", "replace")
        out(stderr_text(text) if entry.stream == "stderr" else text)
    return engine.wait_container(cid)


__all__ = ["RunResult", "run_step"]
