"""What `run` and `exec` import on their whole way, container and all (issue 17).

The unit budget test (tests/unit/cli/test_import_budget.py) stops `run` at its image
lookup; here a real container starts, runs and goes, so the runtime, the removal and the
exec's namespaces are on the way too.  None of them may bring back what the fifth pass
took off these paths (~20 ms together): typing, the sqlite3 package with datetime,
hashlib's OpenSSL, secrets, socket, threading, subprocess, shutil, csv, textwrap,
dataclasses; nor what the sixth pass took off (locale, with argparse's texts untranslated;
the commit code: copy, shlex, images/changes.py)."""

from __future__ import annotations

from harness import Orlop
from testsupport import import_probe

_OFF_THE_PATH = ("typing", "datetime", "sqlite3", "_hashlib", "hashlib", "hmac", "secrets",
                 "socket", "selectors", "threading", "subprocess", "shutil", "csv", "textwrap",
                 "dataclasses", "inspect", "ast", "locale", "copy", "shlex",
                 "orlop.images.changes", "orlop.images.commit", "orlop.cli.backend.local")


def _unwanted(modules: list[str], *allowed: str) -> list[str]:
    return [m for m in modules if m in _OFF_THE_PATH and m not in allowed]


def test_run_rm_imports_none_of_them(bb: Orlop) -> None:
    # The first start of a seccomp profile compiles it with libseccomp's binding (which
    # imports typing, subprocess and more); the program is cached in the run root.
    bb.ok("run", "--rm", "--network", "none", "busybox", "true")
    code, modules = import_probe(bb.root, "run", "--rm", "--network", "none", "busybox",
                                 "true")
    assert code == 0
    assert _unwanted(modules) == []
    assert bb.ok("ps", "-aq") == ""


def test_exec_imports_none_of_them(bb: Orlop) -> None:
    bb.ok("run", "-d", "--name", "ex", "--network", "none", "busybox", "sleep", "60")
    try:
        code, modules = import_probe(bb.root, "exec", "ex", "true")
        assert code == 0
        assert _unwanted(modules) == []
        code, _ = import_probe(bb.root, "exec", "ex", "sh", "-c", "exit 7")
        assert code == 7
    finally:
        bb.ok("rm", "-f", "ex")
