"""client/bodies.gzipped: ``build --compress``'s body is one gzip stream of the context."""

from __future__ import annotations

import gzip
import os

from orlop.client.bodies import gzipped


def test_the_parts_come_out_as_one_gzip_stream() -> None:
    parts = [os.urandom(70_000), b"", b"x" * 300_000, b"tail"]
    out = b"".join(gzipped(iter(parts)))
    assert out[:2] == b"\x1f\x8b"
    assert gzip.decompress(out) == b"".join(parts)
    assert gzip.decompress(b"".join(gzipped(iter([])))) == b""
