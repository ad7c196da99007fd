"""Where Docker's legacy plugins are found (moby ``pkg/plugins/discovery.go``).

A plugin called NAME is, in this order, the first of:

* a unix socket ``NAME.sock`` or ``NAME/NAME.sock`` in the sockets directory
  (``/run/docker/plugins``);
* a ``NAME.spec`` file (one line: ``unix:///path/to.sock`` or ``tcp://host:port``) or a
  ``NAME.json`` file (``{"Name": ..., "Addr": ...}``), directly or in ``NAME/``, in the
  spec directories (``/etc/docker/plugins``, then ``/usr/lib/docker/plugins``).

The directories come from the engine's config: ``ORLOP_PLUGIN_DIRS`` (a ``:``-separated
list searched in order, each for sockets and spec files alike) replaces Docker's three,
so that tests, and engines that must not see the host's plugins, use their own.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from orlop.tuples import NamedTuple

DOCKER_PLUGIN_DIRS: tuple[Path, ...] = (
    Path("/run/docker/plugins"), Path("/etc/docker/plugins"), Path("/usr/lib/docker/plugins"))
SPEC_EXTS = (".spec", ".json")


class PluginInfo(NamedTuple):
    """A discovered plugin: its name, its address, and the file that told us."""

    name: str
    addr: str  # unix:///path or tcp://host:port
    source: Path
    tls: bool = False  # a .json spec with TLSConfig (not supported by Orlop)


def find(dirs: Sequence[Path], name: str) -> PluginInfo | None:
    """The plugin ``name`` (the module docstring's order), or None."""
    if not name or "/" in name or name.startswith("."):
        return None
    for d in dirs:
        for cand in (d / f"{name}.sock", d / name / f"{name}.sock"):
            if _is_socket(cand):
                return PluginInfo(name, f"unix://{cand}", cand)
    for d in dirs:
        for ext in SPEC_EXTS:
            for cand in (d / f"{name}{ext}", d / name / f"{name}{ext}"):
                info = _read_spec(name, cand)
                if info is not None:
                    return info
    return None


def discover(dirs: Sequence[Path]) -> list[PluginInfo]:
    """Every plugin the directories name, each once (as :func:`find` would resolve it),
    sorted by name."""
    names: set[str] = set()
    for d in dirs:
        for entry in _entries(d):
            if entry.is_dir(follow_symlinks=False):
                for sub in _entries(Path(entry.path)):
                    if _plugin_name(sub.name) == entry.name:
                        names.add(entry.name)
            elif _plugin_name(entry.name):
                names.add(_plugin_name(entry.name))
    found = (find(dirs, n) for n in sorted(names))
    return [info for info in found if info is not None]


def _entries(d: Path) -> Iterator[os.DirEntry[str]]:
    try:
        with os.scandir(d) as it:
            yield from list(it)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return


def _plugin_name(filename: str) -> str:
    for ext in (".sock", *SPEC_EXTS):
        if filename.endswith(ext) and len(filename) > len(ext):
            return filename[: -len(ext)]
    return ""


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        return False


def _read_spec(name: str, path: Path) -> PluginInfo | None:
    import json

    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return None
    tls = False
    if path.suffix == ".json":
        try:
            doc = json.loads(text)
        except ValueError:
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("Addr"), str):
            return None
        addr = doc["Addr"]
        tls = bool(doc.get("TLSConfig")) or addr.startswith("https://")
    else:
        addr = text.strip()
    if "://" not in addr:
        return None  # moby: "Unknown protocol"
    return PluginInfo(name, addr, path, tls)

