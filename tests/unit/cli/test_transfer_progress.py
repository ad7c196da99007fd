"""The byte-count progress line of load / import / volume import / volume export
(orlop.cli.transfer): what it writes to a terminal, and that it is never made for a
stream that is not one."""

from __future__ import annotations

import io
import os
import pty
from pathlib import Path

from orlop.cli.transfer import CountingReader, TransferLine, for_terminal, size_of


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_line_is_rewritten_in_place_with_bar_and_rate() -> None:
    out, clock = io.StringIO(), _Clock()
    line = TransferLine(out, "Loading", total=2000, clock=clock)
    line.update(500)                      # first update: drawn at once
    clock.now += 0.05
    line.update(800)                      # within 0.1 s: not redrawn
    clock.now += 0.45
    line.update(2000)
    text = out.getvalue()
    draws = text.split("\r\x1b[2K")[1:]
    assert len(draws) == 2
    assert draws[0].startswith("Loading [============>") and "     500B/2kB" in draws[0]
    assert draws[1].startswith("Loading [" + "=" * 50 + "]") and "2kB/2kB" in draws[1]
    assert draws[1].endswith("  4kB/s")      # 2000 bytes in 0.5 s
    assert "\n" not in text


def test_unknown_total_shows_the_count_alone_and_finish_text_replaces_the_line() -> None:
    out, clock = io.StringIO(), _Clock()
    line = TransferLine(out, "Exporting", clock=clock)
    line.update(1_500_000)
    assert out.getvalue() == "\r\x1b[2KExporting    1.5MB"
    line.finish("Exported 1.5MB")
    assert out.getvalue().endswith("\r\x1b[2KExported 1.5MB\n")


def test_counting_reader_counts_reads_and_finishes_once_at_eof() -> None:
    out = io.StringIO()
    line = TransferLine(out, "Importing", total=10, clock=_Clock())
    reader = CountingReader(io.BytesIO(b"0123456789"), line,  # type: ignore[arg-type]
                            finish_at_eof=True)
    assert reader.read(4) == b"0123"
    buf = bytearray(16)
    assert reader.readinto(buf) == 6
    assert line.done == 10
    assert reader.read(4) == b"" and reader.read() == b""
    assert out.getvalue().count("\n") == 1
    assert out.getvalue().endswith("10B/10B\n")


def test_size_of_a_file_is_what_is_left_and_a_pipe_is_unknown(tmp_path: Path) -> None:
    f = tmp_path / "a.tar"
    f.write_bytes(b"x" * 1000)
    with open(f, "rb") as fh:
        fh.read(100)
        assert size_of(fh) == 900
    r, w = os.pipe()
    with os.fdopen(r, "rb") as rh, os.fdopen(w, "wb"):
        assert size_of(rh) == 0


def test_only_a_terminal_gets_a_line() -> None:
    assert for_terminal(io.StringIO(), "Loading") is None
    r, w = os.pipe()
    with os.fdopen(r), os.fdopen(w, "w") as wh:
        assert for_terminal(wh, "Loading") is None
    master, slave = pty.openpty()
    try:
        with os.fdopen(slave, "w", closefd=False) as tty:
            assert isinstance(for_terminal(tty, "Loading"), TransferLine)
    finally:
        os.close(master)
        os.close(slave)


def test_copy_line_is_docker_clis_byte_for_byte() -> None:
    """docker/cli's copyProgress: save, "Preparing to copy...", hide, restore, erase,
    header + 0B; then only the size, at the header's end column, every 75 ms at most and
    only when it changed; show, restore, erase at the end."""
    from orlop.cli.transfer import CopyLine

    out = io.StringIO()
    now = [0.0]
    line = CopyLine(out, "Copying to container - ", clock=lambda: now[0])
    assert out.getvalue() == ("\x1b[sPreparing to copy...\x1b[?25l\x1b[u\x1b[2K"
                              "Copying to container - 0B")
    out.truncate(0)
    out.seek(0)
    line.update(5000)  # too soon
    now[0] = 0.08
    line.update(12345)
    line.update(20000)  # too soon again
    now[0] = 0.2
    line.update(12345)  # unchanged: nothing
    assert out.getvalue() == "\x1b[24G\x1b[0K12.3kB"
    line.finish()
    assert out.getvalue().endswith("\x1b[?25h\x1b[u\x1b[2K")
