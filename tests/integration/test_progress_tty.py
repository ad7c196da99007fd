"""Progress lines of the long archive commands (issue 15): shown when the stream they
go to is a terminal (a real pty here), never when it is a pipe, never with ``-q``.

``load`` and ``import`` draw on stdout (where the docker CLI renders the daemon's
``Loading layer`` / ``Importing`` messages), ``volume export|import`` on stderr (their
stdout may carry the archive / the name)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from harness import Orlop
from testsupport import run_on_pty

_BAR = b"\r\x1b[2K"


def _on_pty(o: Orlop, *args: str, timeout: float = 60) -> tuple[int, bytes]:
    env = {k: v for k, v in os.environ.items() if k != "ORLOP_ROOT"}
    return run_on_pty([sys.executable, "-m", "orlop", "--root", str(o.root), *args], env,
                      o.cwd, timeout)


def test_import_and_load_show_progress_on_a_terminal_only(orlop: Orlop,
                                                         busybox_tar: Path) -> None:
    code, out = _on_pty(orlop, "import", str(busybox_tar), "bb:tty")
    assert code == 0, out
    assert _BAR + b"Importing [" in out
    assert out.rstrip().splitlines()[-1].startswith(b"sha256:")
    piped = orlop("import", str(busybox_tar), "bb:pipe", check=True)
    assert piped.stdout.strip().startswith("sha256:") and "\n" not in piped.stdout.strip()
    assert "Importing" not in piped.stdout + piped.stderr

    orlop.ok("save", "-o", "bb.tar", "bb:tty")
    orlop.ok("rmi", "bb:tty", "bb:pipe")
    code, out = _on_pty(orlop, "load", "-i", "bb.tar")
    assert code == 0, out
    assert _BAR + b"Reading archive [" + b"=" * 50 + b"]" in out
    assert b": Loading layer [" + b"=" * 50 + b"]" in out  # the layer, stored again
    assert out.rstrip().splitlines()[-1] == b"Loaded image: bb:tty"
    code, out = _on_pty(orlop, "load", "-q", "-i", "bb.tar")
    assert code == 0 and b"Loading" not in out and b"Loaded image: bb:tty" in out
    piped = orlop("load", "-i", "bb.tar", check=True)
    assert piped.stdout == "Loaded image: bb:tty\n" and piped.stderr == ""


def test_volume_export_and_import_show_bytes_on_a_terminal_only(orlop: Orlop) -> None:
    orlop.ok("volume", "create", "data")
    orlop.ok("volume", "cp", str(Path(sys.executable).resolve()), "data:/blob")
    code, out = _on_pty(orlop, "volume", "export", "-o", "data.tar", "data")
    assert code == 0, out
    assert _BAR + b"Exported " in out
    code, out = _on_pty(orlop, "volume", "import", "copy", "data.tar")
    assert code == 0, out
    assert _BAR + b"Importing [" in out and _BAR + b"Imported " in out
    assert out.rstrip().splitlines()[-1] == b"copy"
    code, out = _on_pty(orlop, "volume", "import", "-q", "copy2", "data.tar")
    assert code == 0 and out.strip() == b"copy2"
    piped = orlop("volume", "import", "copy3", "data.tar", check=True)
    assert piped.stdout == "copy3\n" and piped.stderr == ""
    piped = orlop("volume", "export", "-o", "again.tar", "data", check=True)
    assert piped.stdout == "" and piped.stderr == ""


_CP_START = b"\x1b[sPreparing to copy...\x1b[?25l\x1b[u\x1b[2K"
_CP_END = b"\x1b[?25h\x1b[u\x1b[2KSuccessfully copied "


def test_cp_shows_dockers_copy_line_on_a_terminal_only(bb: Orlop) -> None:
    """docker/cli 24+'s ``cp`` on a terminal: the saved cursor, ``Preparing to copy...``,
    then ``Copying to|from container - SIZE`` with only the size rewritten, erased at the
    end for ``Successfully copied SIZE to TARGET`` (the local target absolute, as the
    docker CLI 28 printed it); nothing but the summary with stderr elsewhere, nothing at
    all when stdout is not a terminal or with ``-q``."""
    bb.ok("create", "--name", "cpc", "busybox", "true")
    blob = bb.cwd / "blob"
    blob.write_bytes(os.urandom(3 << 20))
    code, out = _on_pty(bb, "cp", "blob", "cpc:/blob")
    assert code == 0, out
    assert out.startswith(_CP_START + b"Copying to container - 0B"), out[:200]
    assert _CP_END in out and out.endswith(b" to cpc:/blob\r\n"), out[-200:]
    assert b"3.15MB to cpc:/blob" in out
    code, out = _on_pty(bb, "cp", "cpc:/blob", "back")
    assert code == 0, out
    assert out.startswith(_CP_START + b"Copying from container - 0B"), out[:200]
    assert out.endswith(_CP_END + b"3.15MB to " + str(bb.cwd / "back").encode() + b"\r\n")
    assert (bb.cwd / "back").read_bytes() == blob.read_bytes()
    code, out = _on_pty(bb, "cp", "-q", "cpc:/blob", "back2")
    assert code == 0 and out == b"", out
    piped = bb("cp", "cpc:/blob", "back3", check=True)
    assert piped.stdout == "" and piped.stderr == ""
    piped = bb("cp", "blob", "cpc:/blob2", check=True)
    assert piped.stdout == "" and piped.stderr == ""
