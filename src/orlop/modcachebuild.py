"""Writes the module cache that orlop/modcache.py serves (``python -m orlop.modcachebuild``).

What goes in: every module of the ``orlop`` package, and the standard library's pure
Python modules that importing all of Orlop loads (found in a child interpreter, so that
this process's own imports do not count), each compiled exactly as the path finder's
``SourceFileLoader`` compiles it.  Frozen and built-in modules are left out (the
interpreter serves those itself), and so is site-packages (a package there may be
upgraded at any time; its own ``.pyc`` files serve it).  ``scripts/setup.sh`` runs this
after byte-compiling; run it again after editing Orlop to bring every entry back into
use (an edited module is otherwise imported from its source, as always).
"""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
import sysconfig
from importlib.machinery import SourceFileLoader

from orlop import modcache

# Run in the child: import every orlop module, print where each loaded module came from.
_CHILD = r"""
import json, pkgutil, sys
from orlop.launcher import add_site_paths
add_site_paths()
import orlop
for info in pkgutil.walk_packages(orlop.__path__, "orlop."):
    if info.name.endswith(".__main__"):
        continue  # a command, not a module
    try:
        __import__(info.name)
    except BaseException:
        pass
out = {}
for name, mod in list(sys.modules.items()):
    spec = getattr(mod, "__spec__", None)
    origin = getattr(spec, "origin", None)
    if isinstance(origin, str) and origin.endswith(".py"):
        out[name] = [origin, spec.submodule_search_locations is not None]
with open(sys.argv[1], "w") as f:
    json.dump(out, f)
"""


def _stdlib_modules(package_dir: str) -> dict[str, tuple[str, bool]]:
    """The standard library's source modules that importing all of Orlop loads."""
    env = dict(os.environ, ORLOP_NO_MODCACHE="1",
               PYTHONPATH=os.pathsep.join(
                   [os.path.dirname(package_dir), *filter(None, [os.environ.get("PYTHONPATH")])]))
    import tempfile

    with tempfile.NamedTemporaryFile("r", suffix=".json") as listing:
        subprocess.run([sys.executable, "-S", "-c", _CHILD, listing.name], env=env,
                       check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=300)
        out = listing.read()
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"]) + os.sep
    import _imp

    found: dict[str, tuple[str, bool]] = {}
    for name, (origin, is_pkg) in json.loads(out).items():
        real = os.path.realpath(origin)
        rest = real[len(stdlib):] if real.startswith(stdlib) else None
        if rest is None or rest.startswith(("site-packages", "dist-packages")):
            continue
        if name == "__main__" or name in sys.builtin_module_names or _imp.is_frozen(name):
            continue
        found[name] = (origin, bool(is_pkg))
    return found


def _orlop_modules(package_dir: str) -> dict[str, tuple[str, bool]]:
    """Every ``.py`` file of the package, by module name."""
    found: dict[str, tuple[str, bool]] = {}
    parent = os.path.dirname(package_dir)
    for directory, subdirs, files in os.walk(package_dir):
        subdirs[:] = sorted(d for d in subdirs
                            if d != "__pycache__"
                            and os.path.exists(os.path.join(directory, d, "__init__.py")))
        rel = os.path.relpath(directory, parent).replace(os.sep, ".")
        for file_name in sorted(files):
            if not file_name.endswith(".py"):
                continue
            stem = file_name[:-3]
            if stem == "__init__":
                found[rel] = (os.path.join(directory, file_name), True)
            elif "." not in stem:
                found[f"{rel}.{stem}"] = (os.path.join(directory, file_name), False)
    return found


def build(package_dir: str) -> tuple[str, int]:
    """Compile and write the package's cache file; returns its path and how many
    modules it has."""
    package_dir = os.path.abspath(package_dir)
    modules = {**_stdlib_modules(package_dir), **_orlop_modules(package_dir)}
    path = modcache.cache_path(package_dir)
    return path, write_cache(path, modules)


def write_cache(path: str, modules: dict[str, tuple[str, bool]]) -> int:
    """Compile ``modules`` (name -> source file, is a package) into a cache file at
    ``path``, written whole and renamed into place; returns how many it holds (a
    source that cannot be read or compiled is left to the path finder)."""
    dirs: list[str] = []
    dir_index: dict[str, int] = {}
    index: dict[str, modcache.Entry] = {}
    chunks: list[bytes] = []
    offset = 0
    for name in sorted(modules):
        origin, is_pkg = modules[name]
        try:
            before = os.stat(origin)
            with open(origin, "rb") as f:
                source = f.read()
            after = os.stat(origin)
            if (before.st_mtime_ns, before.st_size) != (after.st_mtime_ns, after.st_size):
                continue  # changing under us: left to the path finder
            code = SourceFileLoader(name, origin).source_to_code(source, origin)
        except (OSError, SyntaxError, ValueError):
            continue
        data = marshal.dumps(code)
        directory, file_name = os.path.split(origin)
        if directory not in dir_index:
            dir_index[directory] = len(dirs)
            dirs.append(directory)
        index[name] = (dir_index[directory], file_name, is_pkg, after.st_mtime_ns,
                       after.st_size, offset, len(data))
        chunks.append(data)
        offset += len(data)
    # Offsets count from the data's start, right after the index (the reader knows where).
    blob = marshal.dumps((dirs, index))
    head = modcache.MAGIC + modcache.header()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(head)
            f.write(len(blob).to_bytes(8, "little"))
            f.write(blob)
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return len(index)


def main() -> int:
    import orlop

    path, count = build(orlop.__path__[0])
    print(f"modcache: {count} modules in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
