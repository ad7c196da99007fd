"""The installed ``orlop`` command: the CLI on an interpreter started with ``-S``.

Why: a normal start runs ``site``, which executes the ``import`` lines of every ``.pth``
file in site-packages.  Any package may ship one, and their cost is paid by every
``orlop`` command before Orlop's first line: here a sandbox's ``.pth`` imports
``certifi`` and ``importlib.resources`` (~25 ms, against ~10 ms for the whole
interpreter without ``site``).  The console script pip writes has no way to avoid it
(``#!python -S`` loses its flag when pip rewrites the line), so ``scripts/setup.sh``
runs ``python -m orlop.launcher``, which replaces that script with :func:`script`:

    #!/path/to/python3 -S
    (add_site_paths, below)
    from orlop.cli.main import run; run()

:func:`add_site_paths` does what ``site`` does at start-up (``site.main()`` itself: the
same directories in the same order, the user site, a venv's ``pyvenv.cfg``, a
distribution's own rules, e.g. Debian's dist-packages), except running code: the
``import`` lines of ``.pth`` files and ``sitecustomize``/``usercustomize``.  A ``.pth``
file's directory lines (an editable install's ``src``) are honoured.  ``-S`` is not
``-I``: ``PYTHONPATH`` and the other environment variables work as before.  What stays
visible is ``sys.flags.no_site`` (1).  Should Orlop itself only be reachable through a
``.pth`` import hook (an editable install made with a finder), the launcher runs the
whole of ``site.main()`` and goes on.  ``python -m orlop`` is unchanged.

Also used by the engine's ``-I -S`` children (the monitor's finish phase, the monitor
spawned from a threaded process, an external runtime's image-root helper): they need
site-packages on their path and nothing of a ``.pth`` file's code.  Standard library only.
"""

from __future__ import annotations

import sys


def add_site_paths() -> None:
    """Put on ``sys.path`` what ``site`` would at start-up, running no ``.pth`` code.

    For an interpreter started with ``-S`` (``sys.flags.no_site``); ``sys.path[0]`` (the
    script's directory, or '' for ``-c``; with ``-I`` or ``-P`` there is none, and what
    the caller put first stays first) is left as it is, as ``site`` runs before it is
    set.  ``site`` resolves ``exec`` among its module globals first: a no-op there skips
    the ``.pth`` files' ``import`` lines and nothing else."""
    import site

    def nothing(*_: object) -> None:
        return None

    first = sys.path.pop(0) if sys.path and not sys.flags.safe_path else None
    saved = site.execsitecustomize, site.execusercustomize
    site.exec = nothing  # type: ignore[attr-defined]
    site.execsitecustomize = site.execusercustomize = nothing
    try:
        site.main()
    finally:
        del site.exec  # type: ignore[attr-defined]
        site.execsitecustomize, site.execusercustomize = saved
        if first is not None:
            sys.path.insert(0, first)


_HEAD = """\
# The `orlop` command, written by `python -m orlop.launcher` (scripts/setup.sh) in place of
# pip's console script: the same CLI, on an interpreter started without site's .pth code
# (orlop/launcher.py says why).  Rewritten by the next scripts/setup.sh or pip install.
import gc
import sys

gc.set_threshold(*GC_THRESHOLDS)
"""

_TAIL = """
if sys.flags.no_site:
    add_site_paths()
try:
    from orlop.cli.main import run
except ModuleNotFoundError as e:
    if e.name != "orlop":
        raise
    import site
    site.main()  # Orlop is behind a .pth import hook: the whole of site, after all
    from orlop.cli.main import run
run()
"""


# The cyclic collector's thresholds for a CLI command (the default is (700, 10, 10)): a
# command's start-up makes ~100,000 objects (its imports, the parsers), few of them
# garbage and fewer in cycles, and the default ran the collector every 700 of them over
# ever more objects: 2 to 3 ms of `exec` and `volume inspect` (7 %; disabling it saved
# no more).  Every 50,000 keeps what a long-running command (`logs -f`, `events`, an
# attached `run`) leaves in cycles to a few MB before it is collected.
GC_THRESHOLDS = (50000, 10, 10)


def script(python: str | None = None) -> str:
    """The launcher's text, for the interpreter ``python`` (default: this one)."""
    import inspect

    head = _HEAD.replace("*GC_THRESHOLDS", ", ".join(map(str, GC_THRESHOLDS)))
    return (f"#!{python or sys.executable} -S\n{head}\n\n"
            f"{inspect.getsource(add_site_paths)}\n{_TAIL}")


def installed_command() -> str:
    """The ``orlop`` command pip installed (from the installed distribution's RECORD).

    Every ``orlop`` distribution on the path is asked: with ``src`` on ``PYTHONPATH`` (as
    scripts/setup.sh runs this) the first one found is the ``orlop.egg-info`` an editable
    build leaves in ``src``, which lists sources and no commands."""
    import os
    from importlib.metadata import distributions

    found = False
    for dist in distributions(name="orlop"):
        found = True
        for f in dist.files or ():
            if f.name == "orlop" and f.parent.name in ("bin", "Scripts"):
                return os.path.realpath(str(dist.locate_file(f)))
    if not found:
        raise SystemExit("orlop is not installed (pip install -e .)")
    raise SystemExit("the orlop distribution lists no `orlop` command")


def write(path: str, text: str) -> bool:
    """Write ``text`` at ``path`` (mode 755) unless it is there already; atomically, so
    that a command started meanwhile finds the old launcher or the new one."""
    import contextlib
    import os

    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return False
    except (OSError, UnicodeDecodeError):
        pass
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            os.fchmod(f.fileno(), 0o755)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True


def main(argv: list[str] | None = None) -> int:
    """``python -m orlop.launcher [-o PATH | --print]``: replace the installed ``orlop``
    command (default) or write the launcher at PATH, for this interpreter."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m orlop.launcher", description=main.__doc__)
    ap.add_argument("-o", "--output", help="write it here instead of over the installed "
                                           "`orlop` command")
    ap.add_argument("--print", action="store_true", help="print it")
    ap.add_argument("--python", help="the interpreter of its #! line (default: this one)")
    a = ap.parse_args(argv)
    text = script(a.python)
    if a.print:
        sys.stdout.write(text)
        return 0
    path = a.output or installed_command()
    if write(path, text):
        print(f"orlop.launcher: wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
