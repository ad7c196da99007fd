"""Orlop's modules and the standard library's it uses, compiled into one file (issue 17).

Why: every short command (``run``, ``exec``, ``volume create``) imports 120 to 220
modules, and each import through the path finder costs ~45 microseconds before its code
runs (the directory cache check, a ``stat`` of the source, an ``open``/``read``/``close``
of the ``.pyc`` and the importlib Python around them): 5 to 10 ms of every command.  This
finder serves those modules from one file that ``python -m orlop.modcachebuild`` writes
(``scripts/setup.sh`` runs it): one ``pread`` and a ``marshal.loads`` each.

It is a cache and never changes what is imported:

* an entry is used only while its source file has the size and modification time (in
  nanoseconds) it had when the entry was compiled: an edited module is imported from its
  source as before (``python -m orlop.modcachebuild`` brings the file up to date);
* a module of the standard library is served only where the path finder would find that
  same file: its directory is on ``sys.path`` and no entry before it holds a module or
  package of that name (a ``re.py`` of the user's, found first, stays found first), and a
  submodule only inside the package directory it was compiled from;
* the file is for one interpreter (its ``cache_tag`` and version are in the file name and
  header) and is written whole and renamed into place, so a reader never sees half of it;
  a file that does not read as one is ignored.

Installed by ``orlop/__init__.py``, so the CLI, ``python -m orlop``, orlopd and the
engine's helper processes all use it.  It must not cost what it saves: it imports only
what is loaded before ``orlop`` is (``marshal``, ``os``, ``sys``; not ``__future__``, so
its annotations are strings), and takes ``ModuleSpec`` and ``SourceFileLoader`` from the
import system's own modules, which ``importlib.machinery`` re-exports (importing that
package costs ~0.6 ms, with ``warnings``).
"""

import marshal
import os
import sys

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any

MAGIC = b"orlop-modcache/1\n"
# name -> (directory index, file name, is package, st_mtime_ns, st_size, offset, length);
# offsets count from the end of the index
Entry = tuple[int, str, bool, int, int, int, int]


def cache_path(package_dir: str) -> str:
    """Where the file for this interpreter lives: beside the package's ``.pyc`` files."""
    return os.path.join(package_dir, "__pycache__",
                        f"modcache.{sys.implementation.cache_tag}.bin")


def header() -> bytes:
    """The first line after :data:`MAGIC`: which interpreter compiled the code."""
    return f"{sys.implementation.cache_tag} {sys.hexversion:x}\n".encode()


class _Finder:
    """A ``sys.meta_path`` finder over one cache file (see the module's docstring)."""

    def __init__(self, fd: int, base: int, dirs: list[str],
                 index: dict[str, Entry]) -> None:
        self._fd = fd
        self._base = base
        st = os.fstat(fd)
        self._identity: tuple[int, int] | None = (st.st_dev, st.st_ino)
        self._dirs = dirs
        self._index = index
        self._listings: dict[str, frozenset[str] | None] = {}

    def find_spec(self, name: str, path: "Sequence[str] | None" = None,
                  target: "ModuleType | None" = None) -> "ModuleSpec | None":
        entry = self._index.get(name)
        if entry is None or self._identity is None:
            return None
        dir_i, file_name, is_pkg, mtime_ns, size, offset, length = entry
        directory = self._dirs[dir_i]
        # Where the module's source sits: its package's directory, or for a package
        # the directory holding its __init__.py.
        home = os.path.dirname(directory) if is_pkg else directory
        if path is None:
            if not self._first_on_sys_path(name, home):
                return None
        elif not path or path[0] != home:
            return None
        origin = os.path.join(directory, file_name)
        try:
            st = os.stat(origin)
        except OSError:
            return None
        if st.st_mtime_ns != mtime_ns or st.st_size != size:
            return None  # edited since the cache was written: the source it is
        loader = _Loader(name, origin, self, offset, length)
        spec: ModuleSpec = _machinery("_frozen_importlib").ModuleSpec(
            name, loader, origin=origin, is_package=is_pkg)
        spec.has_location = True
        if is_pkg:
            spec.submodule_search_locations = [directory]
        return spec

    def _first_on_sys_path(self, name: str, home: str) -> bool:
        """Whether the path finder would find top-level ``name`` in ``home``: ``home``
        is on ``sys.path`` and no entry before it could hold ``name`` (a directory
        whose listing has it, or anything that is not a plain directory)."""
        entries: list[object] = list(sys.path)  # typed str; bytes or a path do occur
        for entry in entries:
            if not isinstance(entry, str):
                return False  # the path finder's to read
            try:
                where = entry or os.getcwd()
            except OSError:  # '' for a working directory that is gone: the path finder's
                return False
            if where == home:
                return True
            if where not in self._listings:
                self._listings[where] = _listing(where)
            names = self._listings[where]
            if names is None or name in names:
                return False
        return False

    def read(self, offset: int, length: int) -> bytes | None:
        """An entry's code, or None: the descriptor is checked to still be the cache
        file's (a process that closes every descriptor may have another file at that
        number now; the finder then serves nothing more)."""
        if self._identity is None:
            return None
        try:
            st = os.fstat(self._fd)
            if (st.st_dev, st.st_ino) != self._identity:
                self._identity = None
                return None
            data = os.pread(self._fd, length, self._base + offset)
        except OSError:
            self._identity = None
            return None
        return data if len(data) == length else None

    def invalidate_caches(self) -> None:
        self._listings.clear()


def _listing(directory: str) -> frozenset[str] | None:
    """The module names a ``sys.path`` entry could give (each file name up to its first
    dot), an empty set for an entry that does not exist, None for one that is not a
    directory (a zip archive: unknown, so never passed over)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return frozenset()
    except OSError:
        return None
    return frozenset(n.partition(".")[0] for n in names)


def _machinery(name: str) -> "Any":
    """``_frozen_importlib`` or ``_frozen_importlib_external``: the import system's own
    modules, always loaded (``importlib.machinery``'s names are theirs)."""
    return sys.modules[name]


def _loader_class() -> type:
    class Loader(_machinery("_frozen_importlib_external").SourceFileLoader):  # type: ignore[misc]
        """The source file's loader (``get_source``, ``get_data``, resources as
        always) whose code comes from the cache file, read when the module runs."""

        def __init__(self, fullname: str, path: str, finder: _Finder, offset: int,
                     length: int) -> None:
            super().__init__(fullname, path)
            self._where: tuple[_Finder, int, int] | None = (finder, offset, length)

        def get_code(self, fullname: str) -> object:
            where, self._where = self._where, None
            if where is not None and fullname == self.name:
                finder, offset, length = where
                data = finder.read(offset, length)
                if data is not None:
                    try:
                        return marshal.loads(data)
                    except (ValueError, EOFError, TypeError):
                        pass
            return super().get_code(fullname)

    return Loader


_Loader: type = object  # replaced by install()


def install(package_dir: str) -> bool:
    """Put the cache file's finder before the path finder, if the file is there and
    is this interpreter's.  True when it was installed."""
    global _Loader
    if any(isinstance(f, _Finder) for f in sys.meta_path):
        return True
    try:
        fd = os.open(cache_path(package_dir), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        head = os.pread(fd, 4096, 0)
        start = MAGIC + header()
        if not head.startswith(start):
            raise ValueError("not this interpreter's module cache")
        at = len(start)
        size = int.from_bytes(head[at:at + 8], "little")
        blob = os.pread(fd, size, at + 8)
        if len(blob) != size:
            raise ValueError("a short module cache")
        dirs, index = marshal.loads(blob)
        if not isinstance(index, dict) or not isinstance(dirs, list):
            raise ValueError("not a module cache's index")
        finder = _Finder(fd, at + 8 + size, dirs, index)
    except (OSError, ValueError, EOFError, TypeError):
        os.close(fd)
        return False
    _Loader = _loader_class()
    at_path_finder = next((i for i, f in enumerate(sys.meta_path)
                           if getattr(f, "__name__", "") == "PathFinder"), len(sys.meta_path))
    sys.meta_path.insert(at_path_finder, finder)
    return True
