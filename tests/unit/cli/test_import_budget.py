"""Start-up budget per CLI verb (issue 17): what each verb imports, never how long it takes.

Most of a short command's wall time is spent importing (a `volume ls` that pulled in the
container models, the runtime spec and the mount parsers spent 20 ms more than it needed).
Each verb here runs in a fresh interpreter started as the installed ``orlop`` command
starts (orlop/launcher.py: ``-S``, then site's paths without the .pth files' code, so
that nothing a .pth file imports hides what Orlop imports); the modules it adds to
``sys.modules`` after start-up (``site`` itself left out) must stay within the verb's
budget of orlop modules and must not include the heavy modules the verb has no use for.
A failure names the new imports: make them lazy (an import inside the function that
needs it) or raise the budget with a reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from testsupport import import_probe

SRC = Path(__file__).resolve().parents[3] / "src"


# Never wanted by a local CLI verb below: the server, the registry client, TLS, asyncio.
_NEVER = ("orlop.server", "orlop.build", "orlop.distribution", "ssl", "asyncio", "aiohttp",
          "http.client",
          # the binding is the C module (orlop/state/sqlite.py); times are orlop/timestamps.py's
          "sqlite3", "datetime",
          # argparse's texts are not translated (cli/context.py): no catalogue lookups
          "locale")
# What a volume verb has no use for: the container models and spec, the mount parsers,
# images and networks, the archive code, and modules only a UUID or hash would pull.
# Nor dataclasses (with inspect, ast, dis, tokenize: ~5 ms): the volume modules' records
# are named tuples; nor subprocess (only size= volumes run mkfs), nor the repair's and
# rename's modules.
_VOLUME_FORBIDDEN = (*_NEVER, "orlop.engine.models", "orlop.runtime.spec",
                     "orlop.runtime.launcher", "orlop.mounts.spec", "orlop.mounts.parser",
                     "orlop.images.store", "orlop.network.service", "orlop.wire.create",
                     "orlop.archive", "hashlib", "uuid", "secrets", "dataclasses",
                     "subprocess", "orlop.volumes.reconcile", "orlop.volumes.rename",
                     "orlop.volumes.drivers.mountopts",
                     # pathlib's, but only for Path.as_uri (orlop/config.py)
                     "urllib.parse", "ipaddress")


def _probe(root: Path, *argv: str) -> tuple[int, list[str]]:
    return import_probe(root, *argv)


def _check(modules: list[str], budget: int, forbidden: tuple[str, ...]) -> None:
    # orlop.modcache is how modules are imported (the compiled-module cache), not one a
    # verb uses: every verb has it.
    ours = [m for m in modules if m.startswith("orlop") and m != "orlop.modcache"]
    bad = [m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden)]
    assert not bad, f"imports it has no use for: {bad}"
    assert len(ours) <= budget, (
        f"{len(ours)} orlop modules imported, budget {budget}: {ours}")


def test_help(tmp_path: Path) -> None:
    code, modules = _probe(tmp_path, "--help")
    assert code == 0
    # Nor typing, orlop.config (pathlib) or shutil (zlib, bz2, lzma): ~4 ms of its ~20.
    _check(modules, 8, (*_NEVER, "orlop.engine", "orlop.cli.backend", "orlop.volumes",
                        "sqlite3", "dataclasses", "subprocess", "ctypes", "typing",
                        "pathlib", "shutil", "orlop.config"))


# The volume verbs run on the root's services without the engine facade or the other
# areas' backend calls (cli/backend/volumes.py), and import neither typing (orlop/tuples.py)
# nor threading, shutil (with zlib, bz2, lzma), the copy code, the plugin driver, the mount
# validator or the help renderer (textwrap): issue 17's fifth pass, docs/performance.md.
_VOLUME_VERBS_FORBIDDEN = (*_VOLUME_FORBIDDEN, "orlop.engine.engine", "orlop.cli.backend.local",
                           "orlop.cli.backend.containers", "orlop.cli.backend.images",
                           "orlop.cli.backend.data", "typing", "threading", "shutil",
                           "textwrap", "orlop.cli.help", "orlop.volumes.copy",
                           "orlop.volumes.drivers.plugin", "orlop.mounts.validate")
# What only a change needs: `ls` and `inspect` rename nothing (ctypes for renameat2 and
# openat2), record no event and check no new name (orlop.mounts.volname); `ls` parses and
# writes no JSON.
_VOLUME_READ_FORBIDDEN = (*_VOLUME_VERBS_FORBIDDEN, "ctypes", "orlop.kernel.libc",
                          "orlop.engine.events", "orlop.mounts")


@pytest.mark.parametrize("verb", [("volume", "ls"), ("volume", "ls", "-q")])
def test_volume_ls(tmp_path: Path, verb: tuple[str, ...]) -> None:
    assert _probe(tmp_path, "volume", "create", "budgetvol")[0] == 0
    code, modules = _probe(tmp_path, *verb)
    assert code == 0
    # +2 below: orlop.state.sqlite and orlop.timestamps, in place of sqlite3 and datetime
    _check(modules, 39, (*_VOLUME_READ_FORBIDDEN, "json"))


def test_volume_create(tmp_path: Path) -> None:
    code, modules = _probe(tmp_path, "volume", "create", "budgetvol")
    assert code == 0
    # Nor plugin discovery: the local driver is built in; nor the kernel's IntFlag classes
    # (~1 ms to build): its RENAME_NOREPLACE is kernel/consts.py's.
    _check(modules, 46, (*_VOLUME_VERBS_FORBIDDEN, "orlop.volumes.plugins",
                         "orlop.kernel.flags"))


def test_volume_inspect(tmp_path: Path) -> None:
    assert _probe(tmp_path, "volume", "create", "budgetvol")[0] == 0
    code, modules = _probe(tmp_path, "volume", "inspect", "budgetvol")
    assert code == 0
    _check(modules, 38, _VOLUME_READ_FORBIDDEN)


# `volume export` (without --consistent) runs on the root's services as the volume verbs
# do, and imports neither the snapshot store (datetime) nor the reader side of the
# archive code (import's) nor hashlib (--checksum sha256 only).
_VOLUME_EXPORT_FORBIDDEN = (*_NEVER, "orlop.engine.engine", "orlop.engine.files",
                            "orlop.cli.backend.local", "orlop.cli.backend.containers",
                            "orlop.cli.backend.images", "orlop.cli.backend.data",
                            "orlop.volumes.snapshots", "orlop.archive.extract",
                            "orlop.archive.tarread", "hashlib", "orlop.engine.models",
                            "orlop.runtime.spec", "orlop.images.store",
                            "orlop.network.service", "dataclasses", "subprocess")


def test_volume_export(tmp_path: Path) -> None:
    assert _probe(tmp_path, "volume", "create", "budgetvol")[0] == 0
    (tmp_path / "volumes" / "budgetvol" / "_data" / "f").write_bytes(b"x")
    out = tmp_path / "out.tar"
    code, modules = _probe(tmp_path, "volume", "export", "budgetvol", "-o", str(out))
    assert code == 0 and out.stat().st_size > 0
    # 58 with kernel/consts.py (the kernel's numbers apart from its IntFlag classes)
    _check(modules, 58, _VOLUME_EXPORT_FORBIDDEN)


def test_run(tmp_path: Path) -> None:
    """`run` as far as a unit test can take it: the image is missing and --pull never
    stops it after parsing, the engine and the image lookup (125, as Docker)."""
    code, modules = _probe(tmp_path, "run", "--pull", "never", "--rm", "--network", "none",
                           "nosuchimage", "true")
    assert code == 125
    # Nor dataclasses (with inspect, ast, dis, tokenize): its records are orlop/records.py's.
    # 83: orlop.state.sqlite and orlop.timestamps (sqlite3 and datetime: ~3 ms),
    # orlop.digest took hashlib's and secrets' place (~3 ms of OpenSSL and hmac),
    # orlop.tuples typing's (~3 ms), and the facade's base, engine/root.py's RootServices,
    # is a module of its own.
    # Nor the commit code (images/configenv.py: copy, shlex, the --change parser).
    _check(modules, 83, (*_NEVER, "dataclasses", "inspect", "ast", "hashlib", "secrets",
                         "typing", "orlop.images.changes", "orlop.images.commit", "shlex",
                         "copy",
                         # the container calls alone (Context.container_backend)
                         "orlop.cli.backend.local", "orlop.cli.backend.volumes"))


def test_exec(tmp_path: Path) -> None:
    """`exec` up to the container lookup (No such container: 1, as Docker).  No
    dataclasses (with inspect, ast, dis, tokenize): the records it builds are
    orlop/records.py's; nor what only create/run need (the run options, the mount
    parsers, the networks, Docker's create JSON); nor shutil (with zlib, bz2, lzma:
    only removing a container or an image's directory needs it)."""
    code, modules = _probe(tmp_path, "exec", "nosuchcontainer", "true")
    assert code == 1
    # 59 with orlop.tuples (the named tuples without typing, ~3 ms) and orlop.state.sqlite
    _check(modules, 59, (*_NEVER, "dataclasses", "inspect", "ast", "orlop.engine.runoptions",
                         "orlop.mounts.parser", "orlop.network", "orlop.wire.create",
                         "shutil", "hashlib", "secrets", "typing", "urllib.parse",
                         "ipaddress"))


def test_exec_in_a_root_with_a_live_keeper(tmp_path: Path) -> None:
    """A root that has run bridge containers has ``run/netpool`` (a live namespace
    keeper holds its lock) and ``run/netns``: reconcile looks at both on every command,
    and only a dead keeper or an abandoned set-up needs the keeper's module (secrets,
    socket, threading: ~7 ms) or the network set-up's."""
    import fcntl

    pool = tmp_path / "run" / "netpool"
    pool.mkdir(parents=True)
    (tmp_path / "run" / "netns").mkdir()
    fd = os.open(pool / "keeper.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as the live keeper holds it
        code, modules = _probe(tmp_path, "exec", "nosuchcontainer", "true")
    finally:
        os.close(fd)
    assert code == 1
    # 59 plus the lock test, the netns scan and procio (whose lock test the scan uses)
    _check(modules, 62, ("orlop.engine.net.pool", "orlop.engine.net.setup",
                         "orlop.engine.net.poolwire", "secrets", "socket"))
    assert (pool / "keeper.lock").exists()  # a live keeper's files are left alone
