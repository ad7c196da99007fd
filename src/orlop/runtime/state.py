"""Container state for ``orlop-runtime``: <root>/<id>/state.json and <root>/<id>/exec.fifo.

The status is derived, never stored (runc does the same): a container whose init
is gone - or whose pid now belongs to another process, told apart by the start time
in /proc/<pid>/stat - is "stopped"; a live one with its exec.fifo still present is
"created"; otherwise "running".
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orlop.errors import ConflictError, InvalidParameterError, NotFoundError
from orlop.runtime.spec import OCI_VERSION

DEFAULT_ROOT = "/run/orlop-runtime"
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def validate_id(container_id: str) -> str:
    """An id becomes a directory name: no "/", no "..", no leading dot."""
    if not _ID_RE.fullmatch(container_id) or len(container_id) > 1024:
        raise InvalidParameterError(f"invalid container id: {container_id!r}")
    return container_id


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (clock ticks since boot), or None when gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    # comm (field 2) may hold spaces and parentheses: split after the last ")".
    fields = data[data.rindex(b")") + 2:].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


@dataclass
class ContainerState:
    id: str
    pid: int
    bundle: str
    start_time: int
    annotations: dict[str, str]
    directory: Path

    @property
    def fifo(self) -> Path:
        return self.directory / "exec.fifo"

    def alive(self) -> bool:
        return self.pid > 0 and process_start_time(self.pid) == self.start_time

    def status(self) -> str:
        if not self.alive():
            return "stopped"
        return "created" if self.fifo.exists() else "running"

    def to_oci(self) -> dict[str, Any]:
        status = self.status()
        out: dict[str, Any] = {"ociVersion": OCI_VERSION, "id": self.id, "status": status,
                               "pid": self.pid if status != "stopped" else 0,
                               "bundle": self.bundle}
        if self.annotations:
            out["annotations"] = self.annotations
        return out

    def save(self) -> None:
        data = {"id": self.id, "pid": self.pid, "bundle": self.bundle,
                "start_time": self.start_time, "annotations": self.annotations}
        tmp = self.directory / "state.json.tmp"
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.directory / "state.json")


class StateStore:
    def __init__(self, root: str | os.PathLike[str] = DEFAULT_ROOT) -> None:
        self.root = Path(root)

    def directory(self, container_id: str) -> Path:
        return self.root / validate_id(container_id)

    @property
    def seccomp_cache(self) -> Path:
        """Compiled seccomp programs (runtime/seccomp.py); the leading dot keeps it apart
        from container directories (an id cannot start with one)."""
        return self.root / ".seccomp"

    def reserve(self, container_id: str) -> Path:
        """Make the container's directory; an existing one means the id is taken."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.directory(container_id)
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            raise ConflictError(f"container with id exists: {container_id}") from None
        return path

    def load(self, container_id: str) -> ContainerState:
        path = self.directory(container_id)
        try:
            data = json.loads((path / "state.json").read_text())
        except FileNotFoundError:
            raise NotFoundError(f"container does not exist: {container_id}") from None
        return ContainerState(id=data["id"], pid=int(data["pid"]), bundle=data["bundle"],
                              start_time=int(data["start_time"]),
                              annotations=dict(data.get("annotations") or {}), directory=path)

    def remove(self, container_id: str) -> None:
        shutil.rmtree(self.directory(container_id), ignore_errors=True)
