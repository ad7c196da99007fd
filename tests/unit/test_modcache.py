"""The compiled-module cache (orlop/modcache.py, orlop/modcachebuild.py; issue 17).

Each case runs a fresh interpreter (``-S -I``: nothing of the test process's imports) that
installs the finder over a cache written for a small package in a temporary directory,
imports from it and prints where each module came from.  What matters: a module is served
from the cache only when the path finder would have found that same, unchanged file, and
anything wrong with the file makes the import fall back to Python's own, never fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from orlop import modcache
from orlop.modcachebuild import _orlop_modules, build, write_cache

SRC = Path(__file__).resolve().parents[2] / "src"

_PROBE = r"""
import json, os, sys
sys.path.insert(0, {src!r})
from orlop import modcache
sys.path[:] = [p for p in sys.path if p != {src!r}] + [{src!r}]
installed = modcache.install({pkg_dir!r})
sys.path[0:0] = {path_head!r}
out = {{"installed": installed}}
for name in {names!r}:
    mod = __import__(name, fromlist=["_"])
    out[name] = [type(mod.__loader__).__name__, mod.__file__, getattr(mod, "VALUE", None)]
{extra}
print(json.dumps(out))
"""


def _run(pkg_dir: Path, names: list[str], path_head: list[str] | None = None,
         extra: str = "") -> dict[str, object]:
    code = _PROBE.format(src=str(SRC), pkg_dir=str(pkg_dir), names=names,
                         path_head=path_head or [str(pkg_dir.parent)], extra=extra)
    # orlop's own cache stays out (ORLOP_NO_MODCACHE: ``import orlop`` installs none), so
    # that the probe's install() is the one in use.
    env = {**os.environ, "ORLOP_NO_MODCACHE": "1"}
    done = subprocess.run([sys.executable, "-S", "-I", "-c", code], capture_output=True,
                          text=True, check=True, env=env)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def _package(tmp_path: Path) -> Path:
    pkg = tmp_path / "mcpkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("VALUE = 'pkg'\n")
    (pkg / "a.py").write_text("VALUE = 'a'\n\ndef where():\n    return 'source line'\n")
    (pkg / "sub" / "__init__.py").write_text("VALUE = 'sub'\n")
    (pkg / "sub" / "b.py").write_text("from mcpkg.a import VALUE as A\nVALUE = A + 'b'\n")
    return pkg


def _another(where: Path, value: str) -> Path:
    """Another ``mcpkg`` package, in ``where``; returns its ``__init__.py``."""
    (where / "mcpkg").mkdir(parents=True)
    init = where / "mcpkg" / "__init__.py"
    init.write_text(f"VALUE = {value!r}\n")
    return init


def _cache(pkg: Path) -> int:
    modules = {"mcpkg": (str(pkg / "__init__.py"), True),
               "mcpkg.a": (str(pkg / "a.py"), False),
               "mcpkg.sub": (str(pkg / "sub" / "__init__.py"), True),
               "mcpkg.sub.b": (str(pkg / "sub" / "b.py"), False)}
    return write_cache(modcache.cache_path(str(pkg)), modules)


def test_served_from_the_cache_with_the_source_files_attributes(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    assert _cache(pkg) == 4
    out = _run(pkg, ["mcpkg", "mcpkg.sub.b", "mcpkg.a"],
               extra="import inspect, mcpkg.a\nout['src'] = inspect.getsource(mcpkg.a.where)")
    assert out["installed"] is True
    assert out["mcpkg"] == ["Loader", str(pkg / "__init__.py"), "pkg"]
    assert out["mcpkg.sub.b"] == ["Loader", str(pkg / "sub" / "b.py"), "ab"]
    assert out["mcpkg.a"] == ["Loader", str(pkg / "a.py"), "a"]
    assert "source line" in str(out["src"])


def test_an_edited_module_comes_from_its_source(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    _cache(pkg)
    (pkg / "a.py").write_text("VALUE = 'edited'\n")
    out = _run(pkg, ["mcpkg.a", "mcpkg.sub"])
    assert out["mcpkg.a"] == ["SourceFileLoader", str(pkg / "a.py"), "edited"]
    assert out["mcpkg.sub"][0] == "Loader"  # type: ignore[index]


def test_same_size_same_second_edit_is_still_seen(tmp_path: Path) -> None:
    """The check is the modification time in nanoseconds (a ``.pyc`` keeps seconds)."""
    pkg = _package(tmp_path)
    _cache(pkg)
    st = (pkg / "a.py").stat()
    text = (pkg / "a.py").read_text().replace("'a'", "'z'")
    (pkg / "a.py").write_text(text)
    os.utime(pkg / "a.py", ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    out = _run(pkg, ["mcpkg.a"])
    assert out["mcpkg.a"] == ["SourceFileLoader", str(pkg / "a.py"), "z"]


def test_a_module_found_earlier_on_the_path_wins(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    _cache(pkg)
    other = tmp_path / "other"
    init = _another(other, "other")
    out = _run(pkg, ["mcpkg"], path_head=[str(other), str(pkg.parent)])
    assert out["mcpkg"] == ["SourceFileLoader", str(init), "other"]
    # ... and the package's submodules then come from that package's directory
    (other / "mcpkg" / "a.py").write_text("VALUE = 'other a'\n")
    out = _run(pkg, ["mcpkg.a"], path_head=[str(other), str(pkg.parent)])
    assert out["mcpkg.a"] == ["SourceFileLoader", str(other / "mcpkg" / "a.py"), "other a"]


def test_not_on_the_path_not_served(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    _cache(pkg)
    elsewhere = tmp_path / "copy"
    init = _another(elsewhere, "copy")
    out = _run(pkg, ["mcpkg"], path_head=[str(elsewhere)])
    assert out["mcpkg"] == ["SourceFileLoader", str(init), "copy"]


def test_a_damaged_or_foreign_file_is_ignored(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    _cache(pkg)
    path = Path(modcache.cache_path(str(pkg)))
    good = path.read_bytes()
    foreign = good.replace(modcache.header(), b"cpython-99 0\n")
    for bad in (b"", b"garbage", foreign):  # not this interpreter's cache: not installed
        path.write_bytes(bad)
        out = _run(pkg, ["mcpkg.sub.b"])
        assert out["installed"] is False
        assert out["mcpkg.sub.b"] == ["SourceFileLoader", str(pkg / "sub" / "b.py"), "ab"]
    for bad in (good[:len(good) // 3], good[:60] + b"\xff" * 40 + good[100:]):
        path.write_bytes(bad)
        out = _run(pkg, ["mcpkg.sub.b"])
        assert out["mcpkg.sub.b"][1:] == [str(pkg / "sub" / "b.py"), "ab"]  # type: ignore[index]
    path.write_bytes(good[:-10])  # the index is whole, an entry's code is cut short
    out = _run(pkg, ["mcpkg.sub.b", "mcpkg"])
    assert out["mcpkg.sub.b"][1:] == [str(pkg / "sub" / "b.py"), "ab"]  # type: ignore[index]
    assert out["mcpkg"][2] == "pkg"  # type: ignore[index]


def test_descriptor_taken_by_another_file_stops_the_cache(tmp_path: Path) -> None:
    """A process that closes every descriptor (a runtime's child) may find another file
    at the cache's number: the finder notices and leaves imports to Python."""
    pkg = _package(tmp_path)
    _cache(pkg)
    decoy = tmp_path / "decoy"
    decoy.write_bytes(b"\x00" * 100000)
    extra = f"""
finder = [f for f in sys.meta_path if type(f).__name__ == '_Finder'][0]
os.close(finder._fd)
fd = os.open({str(decoy)!r}, os.O_RDONLY)
assert fd == finder._fd
import mcpkg.sub.b
out['after'] = [type(mcpkg.sub.b.__loader__).__name__, mcpkg.sub.b.VALUE]
"""
    out = _run(pkg, ["mcpkg"], extra=extra)
    assert out["mcpkg"][0] == "Loader"  # type: ignore[index]
    assert out["after"] == ["SourceFileLoader", "ab"]


def test_switched_off_by_the_environment(tmp_path: Path) -> None:
    """``ORLOP_NO_MODCACHE=1``: ``import orlop`` installs no finder."""
    code = (f"import sys; sys.path.insert(0, {str(SRC)!r}); import orlop; "
            "print(any(type(f).__name__ == '_Finder' for f in sys.meta_path))")
    env = {**os.environ, "ORLOP_NO_MODCACHE": "1"}
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                         check=True, env=env).stdout
    assert out.strip() == "False"


def test_orlop_modules_listed_by_name(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    (pkg / "notapkg").mkdir()
    (pkg / "notapkg" / "x.py").write_text("")
    (pkg / "__main__.py").write_text("")
    found = _orlop_modules(str(pkg))
    assert found == {"mcpkg": (str(pkg / "__init__.py"), True),
                     "mcpkg.__main__": (str(pkg / "__main__.py"), False),
                     "mcpkg.a": (str(pkg / "a.py"), False),
                     "mcpkg.sub": (str(pkg / "sub" / "__init__.py"), True),
                     "mcpkg.sub.b": (str(pkg / "sub" / "b.py"), False)}


def test_built_for_orlop_and_used_by_the_cli(tmp_path: Path) -> None:
    """The real cache (scripts/setup.sh writes it): Orlop's modules and the standard
    library's it uses, none of site-packages; an ``orlop --help`` started as the
    installed command starts takes its modules from it."""
    path, count = build(str(SRC / "orlop"))
    assert Path(path).is_file() and count > 300
    env = {k: v for k, v in os.environ.items() if k != "ORLOP_NO_MODCACHE"}
    code = (f"import sys; sys.path.insert(0, {str(SRC)!r})\n"
            "from orlop.launcher import add_site_paths; add_site_paths()\n"
            "import orlop.cli.main, argparse, json\n"
            "m = sys.modules\n"
            "print(type(m['orlop.cli.main'].__loader__).__name__, "
            "type(m['argparse'].__loader__).__name__, "
            "sorted(n for n, x in m.items() if type(getattr(x, '__loader__', None)).__name__"
            " == 'Loader' and 'site-packages' in (getattr(x, '__file__', '') or '')))")
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True,
                         text=True, check=True, env=env).stdout.split(" ", 2)
    assert out[:2] == ["Loader", "Loader"]
    assert out[2].strip() == "[]"


def test_a_working_directory_that_is_gone_leaves_imports_to_python(tmp_path: Path) -> None:
    """``''`` on ``sys.path`` (``python -c``) is the working directory; when that was
    removed, the finder gives the module up instead of failing the import."""
    pkg = _package(tmp_path)
    _cache(pkg)
    gone = tmp_path / "gone"
    gone.mkdir()
    extra = f"""
os.chdir({str(gone)!r})
os.rmdir({str(gone)!r})
sys.path.insert(0, "")
import mcpkg.sub
out['gone'] = [type(mcpkg.__loader__).__name__, mcpkg.VALUE, mcpkg.sub.VALUE]
"""
    out = _run(pkg, [], path_head=[str(pkg.parent)], extra=extra)
    # the top-level name (the one looked for on sys.path) from its source; its
    # submodule, found in the package's own directory, from the cache as always
    assert out["gone"] == ["SourceFileLoader", "pkg", "sub"]


def test_a_bytes_entry_on_the_path_leaves_imports_to_python(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    _cache(pkg)
    extra = """
sys.path.insert(0, b"/nonexistent-orlop-test")
import mcpkg.a
out['bytes'] = [type(mcpkg.__loader__).__name__, mcpkg.a.VALUE]
"""
    out = _run(pkg, [], path_head=[str(pkg.parent)], extra=extra)
    assert out["bytes"] == ["SourceFileLoader", "a"]
