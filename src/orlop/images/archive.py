"""What only image layers need of tars: their checks before ``load`` stores anything,
their diff id without an extraction, and the canonical serialisation of a stored layer.

The tar reader and writer themselves are shared with volumes and ``cp`` and live below
both, in orlop.archive (extract.py, tarwriter.py); whiteout names in
orlop.archive.whiteout, since the reader and writer convert them.
"""

from __future__ import annotations

import tarfile
from typing import BinaryIO

from orlop.archive.extract import HashingReader, clean_name, iter_members, open_decompressed
from orlop.archive.streams import Hasher, Readable
from orlop.archive.tarwriter import TarWriter, TreeOptions
from orlop.archive.whiteout import whiteout_problem
from orlop.errors import InvalidArchiveError


def check_layer_member(member: tarfile.TarInfo) -> str | None:
    """The checks on one layer entry that need no filesystem (its name, its whiteout,
    a hard link's target): why it is refused, or None.  ``load`` runs them over every
    layer before it stores the first one, so a hostile layer leaves nothing behind;
    the extractor applies the same rules again as it writes."""
    if clean_name(member.name) is None:
        return "the path is outside of the destination"
    problem = whiteout_problem(member.name)
    if problem is not None:
        return problem
    if member.islnk() and not clean_name(member.linkname):
        return f'hard link to "{member.linkname}": the target is outside of the destination'
    if member.issym() and not member.linkname:
        return "symlink with an empty target"
    return None


def digest_stream(stream: BinaryIO | Readable) -> tuple[str, int]:
    """The diff_id and uncompressed size of a tar stream, without extracting it."""
    raw, compression = open_decompressed(stream)
    reader = HashingReader(raw, compression)
    reader.drain()
    return "sha256:" + reader.hasher.hexdigest(), reader.size


def scan_layer(stream: BinaryIO | Readable) -> tuple[str, int]:
    """:func:`digest_stream` of a layer that also parses it and applies
    :func:`check_layer_member` to every entry, without extracting anything: a layer
    refused here has not touched the store (``load`` checks every layer first)."""
    raw, compression = open_decompressed(stream)
    reader = HashingReader(raw, compression)
    # an empty layer blob is an empty layer (dockerd saves and loads one so)
    for _tf, member in iter_members(reader, empty_ok=True):
        problem = check_layer_member(member)
        if problem is not None:
            raise InvalidArchiveError(f'invalid tar entry "{member.name}": {problem}')
    reader.drain()
    return "sha256:" + reader.hasher.hexdigest(), reader.size


def write_layer(out_fd: int, layer_fd: int, hasher: Hasher | None = None) -> int:
    """The canonical serialisation of a stored (overlay-form) layer directory: sorted
    names, whole-second times, overlay whiteouts as OCI ``.wh.`` entries.  What ``save``
    writes for a layer that has no tar-split (orlop.images.tarsplit), and the diff_id
    ``import``/``commit`` fall back to when the split cannot reproduce their stream.
    Whole seconds, as it always was: layers registered under this digest by older
    versions keep their diff_id (a layer with a split, every commit's, keeps its
    nanoseconds through ``save``).  Returns the bytes written."""
    w = TarWriter(out_fd, hasher=hasher)
    w.add_tree(layer_fd, "", TreeOptions(overlay_whiteouts=True, whole_seconds=True),
               include_root=False)
    w.close()
    return w.size


__all__ = ["check_layer_member", "digest_stream", "scan_layer", "write_layer"]
