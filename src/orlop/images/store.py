"""The image store: content-addressed layers, image configs, tags.

Layers are keyed by their diff_id (``sha256:`` of the uncompressed tar), extracted
once into ``<root>/layers/<hex>`` and shared read-only by every image and
container that uses them (as overlay lower directories).  For each one,
``<root>/tarsplit/<hex>`` records what the directory does not hold of the tar
(headers, padding, order: orlop.images.tarsplit), so ``save`` writes the very bytes the
diff_id was computed from and an image keeps its id across ``save | load`` whether it
came from ``import``, ``commit`` or ``load``.  The diff_id stays Docker's, the digest of
the stream as it came in, with two fallbacks when a split cannot be recorded (the
archive removed a file it had itself written): ``load`` keeps the whole layer tar in the
split (its config fixes the diff_ids), ``import``/``commit`` record the digest of the
canonical serialisation (orlop.images.archive.write_layer), which ``save`` writes
when there is no split.  Layers of older roots have no split: ``save`` serialises them
canonically, and rewrites the config if that changes a diff_id (a loadable archive,
under another id, as before).

Crash safety (security-principles.md R9, b.4: "directory is the truth, the DB is
the index"): a layer is extracted into a staging directory under ``<root>/tmp``,
flushed, renamed into place, and only then registered in the database, so a row
never points at a missing or half-written directory.  A crash leaves at worst a
staging directory or an unregistered layer directory, which :meth:`reconcile`
removes.  Layer directories are created, adopted and deleted only while holding
an exclusive ``flock`` on ``layers/.lock`` *and* inside one database write
transaction, so a racing ``rmi`` and ``import`` of the same layer in two
processes cannot leave a row without its directory.
"""

from __future__ import annotations

import builtins
import fcntl
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from orlop.config import EngineConfig
from orlop.errors import (
    ConflictError,
    ImageNotFoundError,
    InvalidArchiveError,
    InvalidParameterError,
)
from orlop.images.reference import (
    InvalidReferenceError,
    parse_reference,
    parse_tag_target,
    split_tagged,
)
from orlop.kernel.process import abandoned_entries
from orlop.records import FrozenRecord
from orlop.state import Database
from orlop.state.sqlite import sqlite3
from orlop.timestamps import now_rfc3339

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any, BinaryIO

    # The extractor (tarfile, hashlib, zstd) is loaded only by the verbs that read
    # archives, not by every `run`.
    from orlop.archive.extract import ExtractStats

ZERO_TIME = "0001-01-01T00:00:00Z"
_HEX64 = re.compile(r"[a-f0-9]{64}\Z")


def _token() -> str:
    """``secrets.token_hex(8)`` (which is ``os.urandom(8).hex()``), without importing
    secrets (random, base64, hmac: ~2 ms of every command that opens the image store)."""
    return os.urandom(8).hex()
_ID_PREFIX = re.compile(r"(?:sha256:)?([a-f0-9]{1,64})\Z")
_STAGING = re.compile(r"(layer|trash|save|load)-(\d+)-[0-9a-f]+\Z")
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
         "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def short_id(image_id: str) -> str:
    """The 12-hex form Docker prints (``sha256:`` dropped)."""
    return image_id.removeprefix("sha256:")[:12]


class Image(FrozenRecord):
    """One image as stored; ``config`` is the whole image config JSON (with ``config``,
    ``rootfs``, ``history`` ...), not only the container config inside it."""

    _fields = ("id", "repo_tags", "config", "diff_ids", "created", "size", "last_tag_time",
               "repo_digests")
    __slots__ = _fields
    id: str  # "sha256:<hex>" of the config JSON
    repo_tags: tuple[str, ...]  # "repository:tag", sorted
    config: dict[str, Any]  # neither compared nor hashed (the id is its digest)
    diff_ids: tuple[str, ...]  # bottom layer first
    created: str
    size: int  # bytes of content of all layers (Docker's Size)
    last_tag_time: str
    repo_digests: tuple[str, ...]  # "repository@sha256:<manifest>", sorted

    def __init__(self, id: str, repo_tags: tuple[str, ...], config: dict[str, Any],
                 diff_ids: tuple[str, ...] = (), created: str = ZERO_TIME, size: int = 0,
                 last_tag_time: str = ZERO_TIME, repo_digests: tuple[str, ...] = ()) -> None:
        self._set(id=id, repo_tags=repo_tags, config=config, diff_ids=diff_ids,
                  created=created, size=size, last_tag_time=last_tag_time,
                  repo_digests=repo_digests)

    def _values(self) -> tuple[Any, ...]:
        """Compared and hashed: every field but ``config`` (the dataclass's compare=False)."""
        return (self.id, self.repo_tags, self.diff_ids, self.created, self.size,
                self.last_tag_time, self.repo_digests)

    @property
    def short_id(self) -> str:
        return short_id(self.id)

    @property
    def container_config(self) -> dict[str, Any]:
        """The ``config`` part (Cmd, Env, Volumes ...), never None."""
        inner = self.config.get("config")
        return inner if isinstance(inner, dict) else {}


class _Staged(FrozenRecord):
    _fields = ("path", "stats", "diff_id", "split", "tar_size")
    __slots__ = _fields
    path: Path
    stats: ExtractStats
    diff_id: str  # stats.diff_id, or the canonical digest when no split reproduces it
    split: Path | None  # the recorded tar-split, published beside the layer
    tar_size: int

    def __init__(self, path: Path, stats: ExtractStats, diff_id: str, split: Path | None,
                 tar_size: int) -> None:
        self._set(path=path, stats=stats, diff_id=diff_id, split=split, tar_size=tar_size)


class ImageStore:
    """Layers, images and tags of one engine root."""

    def __init__(self, config: EngineConfig, db: Database) -> None:
        self.config = config
        self.db = db
        # (image id, action, name): the engine records Docker's image events with it
        # (import, tag, untag, delete); this package may not import the engine.
        self.on_event: Callable[[str, str, str], None] | None = None

    def _notify(self, image_id: str, action: str, name: str) -> None:
        if self.on_event is not None:
            self.on_event(image_id, action, name)

    # --- paths and locks ---------------------------------------------------------

    def _ensure_dirs(self) -> None:
        # 0700: layer contents keep their setuid binaries and device nodes; only root
        # may reach them, as Docker's /var/lib/docker/overlay2 (0710).
        for d in (self.config.layers_dir, self.splits_dir, self.config.tmp_dir):
            os.makedirs(d, mode=0o700, exist_ok=True)

    @contextmanager
    def _layer_lock(self) -> Iterator[None]:
        """The cross-process lock around every creation or deletion of a layer dir."""
        self._ensure_dirs()
        fd = os.open(self.config.layers_dir / ".lock",
                     os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def layer_dir(self, diff_id: str) -> Path:
        """Where the layer ``sha256:<hex>`` is extracted."""
        hexd = diff_id.removeprefix("sha256:")
        if not _HEX64.match(hexd):
            raise InvalidParameterError(f"invalid layer digest: {diff_id}")
        return self.config.layers_dir / hexd

    @property
    def splits_dir(self) -> Path:
        """Tar-splits, by layer hex; not in layers/, whose entries are all layers."""
        return self.config.root / "tarsplit"

    def split_path(self, diff_id: str) -> Path:
        """The tar-split of the layer ``sha256:<hex>`` (it may not exist)."""
        return self.splits_dir / self.layer_dir(diff_id).name

    def layer_dirs(self, image: Image) -> list[Path]:
        """The image's layer directories, bottom first (overlay wants them reversed)."""
        return [self.layer_dir(d) for d in image.diff_ids]

    # --- layers ------------------------------------------------------------------

    def layer_sizes(self, diff_ids: Sequence[str]) -> builtins.list[int]:
        """The content size of each layer (Docker's per-layer ``Size`` in ``history``
        and ``system df``), 0 for one not registered."""
        with self.db.read() as conn:
            out = []
            for diff_id in diff_ids:
                row = conn.execute("SELECT content_size FROM layers WHERE diff_id = ?",
                                   (diff_id,)).fetchone()
                out.append(int(row["content_size"]) if row is not None else 0)
            return out

    def _stage(self, stream: BinaryIO,
                reopen: Callable[[], BinaryIO] | None = None) -> _Staged:
        """Extract into a fresh staging dir, recording the tar-split beside it, flushed
        to disk; both removed on any error.

        ``reopen`` gives the same tar again from its start (``load``: a file): when the
        split cannot be recorded, the whole tar is kept in it instead, so the diff_id
        the archive's config names is still reproduced.  Without it (a one-pass stream)
        the layer is registered under the digest of its canonical serialisation.
        An empty stream or a tar without entries is an empty layer, as dockerd 20.10
        imports and loads them (diff_id: the digest of the bytes read, ``e3b0c442...``
        for no bytes at all).
        """
        from orlop.archive.extract import extract_tar
        from orlop.images.tarsplit import SplitRecorder

        self._ensure_dirs()
        path = self.config.tmp_dir / f"layer-{os.getpid()}-{_token()}"
        split_file = self.config.tmp_dir / f"layer-{os.getpid()}-{_token()}"
        split: Path | None = split_file
        os.mkdir(path, 0o700)
        try:
            os.chmod(path, 0o755)  # a layer root without a "./" entry is 0755, as Docker's
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                sfd = os.open(split_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                              | os.O_CLOEXEC, 0o600)
                try:
                    recorder = SplitRecorder(sfd)
                    stats = extract_tar(stream, fd, keep_owner=True, allow_devices=True,
                                        whiteouts="overlay", split=recorder,
                                        empty_ok=True)
                    if recorder.valid:
                        recorder.finish()
                finally:
                    os.close(sfd)
                diff_id, tar_size = stats.diff_id, stats.tar_size
                if not recorder.valid and reopen is not None:
                    _whole_tar_split(reopen(), split_file, diff_id)
                elif not recorder.valid:
                    _rmtree(split_file)
                    split = None
                    diff_id, tar_size = _canonical_digest(fd)
            finally:
                os.close(fd)
            # The rename below publishes the layer: its contents must be on disk first,
            # or a power cut could leave a registered layer full of empty files.
            os.sync()
        except BaseException:
            _rmtree(path)
            _rmtree(split_file)
            raise
        return _Staged(path, stats, diff_id, split, tar_size)

    def _register(self, conn: sqlite3.Connection, staged: _Staged, moved: list[Path],
                  added: builtins.list[str] | None = None) -> str:
        """Publish a staged layer (rename, or adopt an existing complete dir) and record it.

        Called with the layer lock held and inside a write transaction.  A directory
        named after a digest is always complete (it only ever appears by rename), so
        an unregistered one left by a crash is adopted rather than replaced.
        """
        diff_id = staged.diff_id
        final = self.layer_dir(diff_id)
        changed = False
        if not os.path.lexists(final):
            os.rename(staged.path, final)
            moved.append(final)
            changed = True
        split = self.split_path(diff_id)
        # Same diff_id, same tar, same extraction: a split recorded now also fits a layer
        # directory adopted from earlier (one from an older root, which had none).
        if staged.split is not None and not os.path.lexists(split):
            os.rename(staged.split, split)
            moved.append(split)
            changed = True
        if changed:
            _fsync_dir(self.config.layers_dir)
            _fsync_dir(self.splits_dir)
        cur = conn.execute(
            "INSERT OR IGNORE INTO layers (diff_id, size, content_size, created) "
            "VALUES (?, ?, ?, ?)",
            (diff_id, staged.tar_size, staged.stats.content_size, now_rfc3339()))
        if added is not None and cur.rowcount == 1:
            added.append(diff_id)
        return diff_id

    @contextmanager
    def _publishing(self, staged: _Staged) -> Iterator[tuple[sqlite3.Connection, list[Path]]]:
        """Lock + transaction; if the transaction fails, a dir we renamed in is removed
        again, and the staging copy is always discarded."""
        moved: list[Path] = []
        try:
            with self._layer_lock():
                try:
                    with self.db.write() as conn:
                        yield conn, moved
                except BaseException:
                    for path in moved:
                        _rmtree(path)
                    raise
        finally:
            _rmtree(staged.path)
            if staged.split is not None:
                _rmtree(staged.split)

    def add_layer(self, stream: BinaryIO,
                  reopen: Callable[[], BinaryIO] | None = None,
                  added: builtins.list[str] | None = None,
                  expected: str | None = None) -> str:
        """Extract a layer tar (plain or compressed) once; return its diff_id.

        If the same content is already stored the new copy is discarded.  A layer not
        yet used by an image may be removed by :meth:`reconcile`'s callers only through
        :meth:`create_image` failing; use :meth:`import_tar` for the atomic path.
        ``reopen``: see :meth:`_stage` (the diff_id is then always the stream's).
        ``added`` gets the diff_id when this call registered it (it was not stored), for
        :meth:`discard_unused_layers` if the caller fails later.
        ``expected`` (``pull``): the diff_id the image config names; a layer whose
        content differs is discarded before it is published, in the same single pass.
        """
        staged = self._stage(stream, reopen)
        if expected is not None and staged.diff_id != expected:
            _rmtree(staged.path)
            if staged.split is not None:
                _rmtree(staged.split)
            raise InvalidArchiveError(
                f"invalid layer: its content is {staged.diff_id}, the image config says "
                f"{expected}")
        with self._publishing(staged) as (conn, moved):
            return self._register(conn, staged, moved, added)

    def discard_unused_layers(self, diff_ids: Sequence[str]) -> None:
        """Unregister and delete those of ``diff_ids`` that no image uses: the rollback
        of a multi-layer ``load`` that failed after storing some of its layers."""
        if not diff_ids:
            return
        with self._layer_lock():
            with self.db.write() as conn:
                orphans = [d for d in diff_ids if conn.execute(
                    "SELECT 1 FROM image_layers WHERE diff_id = ?", (d,)).fetchone() is None]
                conn.executemany("DELETE FROM layers WHERE diff_id = ?",
                                 [(d,) for d in orphans])
            trash = self._trash_layers(orphans)
        for path in trash:
            _rmtree(path)

    def _trash_layers(self, diff_ids: Sequence[str]) -> builtins.list[Path]:
        """Move unregistered layer dirs (and their splits) out of ``layers/``, under the
        layer lock; the caller deletes the returned trash after releasing it."""
        trash: builtins.list[Path] = []
        for diff_id in diff_ids:
            with suppress(FileNotFoundError):
                os.unlink(self.split_path(diff_id))
            src = self.layer_dir(diff_id)
            dst = self.config.tmp_dir / f"trash-{os.getpid()}-{_token()}"
            with suppress(FileNotFoundError):
                os.rename(src, dst)
                trash.append(dst)
        return trash

    def has_layer(self, diff_id: str) -> bool:
        """Is the layer stored (row and directory)?  A pull skips such layers."""
        with self.db.read() as conn:
            row = conn.execute("SELECT 1 FROM layers WHERE diff_id = ?", (diff_id,)).fetchone()
        return row is not None and self.layer_dir(diff_id).is_dir()

    # --- images ------------------------------------------------------------------

    def import_tar(self, stream: BinaryIO, reference: str | None,
                   changes: Sequence[str] = (), message: str = "") -> Image:
        """``docker import``: one layer from a tarball, an image around it, a tag.

        The reference and the changes are checked before the stream is read.  The
        layer and the image are recorded in one transaction.
        """
        from orlop.images.changes import apply_changes, empty_container_config

        ref = parse_tag_target(reference).tagged if reference else None
        container_config = apply_changes(empty_container_config(), changes)
        self.reconcile()
        staged = self._stage(stream)
        created = now_rfc3339()
        # Docker records "Imported from -" when no message is given (the CLI always
        # streams the file, so the source is "-").
        comment = message or "Imported from -"
        config: dict[str, Any] = {
            "architecture": _ARCH.get(os.uname().machine, os.uname().machine),
            "comment": comment,
            "config": container_config,
            "created": created,
            "history": [{"created": created, "comment": comment}],
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [staged.diff_id]},
        }
        with self._publishing(staged) as (conn, moved):
            diff_id = self._register(conn, staged, moved)
            image_id = self._insert_image(conn, [diff_id], config, ref)
        if ref is not None:
            self._notify(image_id, "tag", ref)
        self._notify(image_id, "import", image_id)
        return self.get(image_id)

    def create_image(self, diff_ids: list[str], config: dict[str, Any],
                     reference: str | None, raw: bytes | None = None) -> Image:
        """Record an image over already stored layers (for ``commit`` and ``load``).

        ``config`` is an image config; its ``rootfs`` is set from ``diff_ids`` and
        missing ``architecture``/``os``/``created`` are filled in.  ``raw`` (``load``):
        the config's bytes as the archive holds them, stored verbatim so the image id is
        their digest, as Docker's, when they are UTF-8 and name exactly ``diff_ids``.
        """
        ref = parse_tag_target(reference).tagged if reference else None
        blob: str | None = None
        if raw is not None and \
                (config.get("rootfs") or {}).get("diff_ids") == list(diff_ids):
            with suppress(UnicodeDecodeError):
                blob = raw.decode("utf-8")
        full = dict(config)
        if blob is None:
            full.setdefault("architecture", _ARCH.get(os.uname().machine, os.uname().machine))
            full.setdefault("os", "linux")
            full.setdefault("created", now_rfc3339())
            full["rootfs"] = {"type": "layers", "diff_ids": list(diff_ids)}
        with self._layer_lock(), self.db.write() as conn:
            image_id = self._insert_image(conn, list(diff_ids), full, ref, blob)
        if ref is not None:
            self._notify(image_id, "tag", ref)
        return self.get(image_id)

    def _insert_image(self, conn: sqlite3.Connection, diff_ids: list[str],
                      config: dict[str, Any], ref: str | None,
                      blob: str | None = None) -> str:
        sizes = []
        for diff_id in diff_ids:
            row = conn.execute("SELECT content_size FROM layers WHERE diff_id = ?",
                               (diff_id,)).fetchone()
            if row is None or not self.layer_dir(diff_id).is_dir():
                raise InvalidParameterError(f"layer {diff_id} does not exist")
            sizes.append(int(row["content_size"]))
        # The id is the digest of the exact bytes stored, so it can be re-verified.
        if blob is None:
            blob = json.dumps(config, separators=(",", ":"), ensure_ascii=False)
        import hashlib  # here: exec, ps, inspect, run read images and never hash one

        image_id = "sha256:" + hashlib.sha256(blob.encode()).hexdigest()
        conn.execute(
            "INSERT OR IGNORE INTO images (id, config, created, size) VALUES (?, ?, ?, ?)",
            (image_id, blob, config.get("created", ZERO_TIME), sum(sizes)))
        conn.executemany(
            "INSERT OR IGNORE INTO image_layers (image_id, position, diff_id) VALUES (?, ?, ?)",
            [(image_id, i, d) for i, d in enumerate(diff_ids)])
        if ref is not None:
            self._set_tag(conn, ref, image_id)
        return image_id

    def _set_tag(self, conn: sqlite3.Connection, ref: str, image_id: str) -> None:
        conn.execute("INSERT OR REPLACE INTO image_tags (ref, image_id) VALUES (?, ?)",
                     (ref, image_id))
        conn.execute("UPDATE images SET last_tag_time = ? WHERE id = ?",
                     (now_rfc3339(), image_id))

    def add_repo_digest(self, image_id: str, ref: str) -> None:
        """Record ``repository@sha256:...`` (RepoDigests) for a pulled or pushed image; a
        digest names one manifest, so an older image under the same ref loses it."""
        with self.db.write() as conn:
            conn.execute("INSERT OR REPLACE INTO image_digests (ref, image_id) VALUES (?, ?)",
                         (ref, image_id))

    # --- lookup ------------------------------------------------------------------

    def _resolve(self, conn: sqlite3.Connection, ref: str) -> tuple[str, str | None]:
        """(image id, the tag it was found by or None when found by id)."""
        try:
            parsed = parse_reference(ref)
        except InvalidReferenceError:
            parsed = None
        if parsed is not None and parsed.digest:  # busybox@sha256:... (RepoDigests)
            row = conn.execute("SELECT image_id FROM image_digests WHERE ref = ?",
                               (f"{parsed.repository}@{parsed.digest}",)).fetchone()
            if row is not None:
                return str(row["image_id"]), None
        if parsed is not None and not parsed.digest and not ref.startswith("sha256:"):
            row = conn.execute("SELECT image_id FROM image_tags WHERE ref = ?",
                               (parsed.tagged,)).fetchone()
            if row is not None:
                return str(row["image_id"]), parsed.tagged
        m = _ID_PREFIX.match(ref)
        if m is not None:
            rows = conn.execute("SELECT id FROM images WHERE id LIKE ?",
                                (f"sha256:{m.group(1)}%",)).fetchall()
            if len(rows) == 1:
                return str(rows[0]["id"]), None
            if len(rows) > 1:
                raise InvalidParameterError(
                    f"multiple IDs found with provided prefix: {m.group(1)}")
        raise ImageNotFoundError(ref)

    def _load(self, conn: sqlite3.Connection, image_id: str) -> Image:
        row = conn.execute("SELECT * FROM images WHERE id = ?", (image_id,)).fetchone()
        if row is None:
            raise ImageNotFoundError(image_id)
        tags = tuple(sorted(r["ref"] for r in conn.execute(
            "SELECT ref FROM image_tags WHERE image_id = ?", (image_id,))))
        layers = tuple(r["diff_id"] for r in conn.execute(
            "SELECT diff_id FROM image_layers WHERE image_id = ? ORDER BY position",
            (image_id,)))
        digests = tuple(sorted(r["ref"] for r in conn.execute(
            "SELECT ref FROM image_digests WHERE image_id = ?", (image_id,))))
        return Image(id=image_id, repo_tags=tags, config=json.loads(row["config"]),
                     diff_ids=layers, created=row["created"], size=int(row["size"]),
                     last_tag_time=row["last_tag_time"], repo_digests=digests)

    def get(self, ref: str) -> Image:
        """Find an image by ``name[:tag]`` (default tag ``latest``), ``sha256:<hex>``, the
        hex id, or a unique prefix of it; :class:`ImageNotFoundError` otherwise."""
        if not ref:
            raise ImageNotFoundError(ref)
        with self.db.read() as conn:
            image_id, _ = self._resolve(conn, ref)
            return self._load(conn, image_id)

    def config_bytes(self, image_id: str) -> bytes:
        """The image config exactly as stored: its sha256 is the image id."""
        with self.db.read() as conn:
            row = conn.execute("SELECT config FROM images WHERE id = ?",
                               (image_id,)).fetchone()
        if row is None:
            raise ImageNotFoundError(image_id)
        return str(row["config"]).encode("utf-8")

    # --- tag / remove ------------------------------------------------------------

    def tag(self, src_ref: str, new_ref: str) -> None:
        """Point ``new_ref`` at the image ``src_ref`` names (moving it if it existed)."""
        ref = parse_tag_target(new_ref).tagged
        with self.db.write() as conn:
            image_id, _ = self._resolve(conn, src_ref)
            self._set_tag(conn, ref, image_id)
        self._notify(image_id, "tag", ref)

    def remove(self, ref: str, force: bool = False) -> list[str]:
        """``docker rmi``: untag, and delete the image when nothing refers to it any more.

        Returns Docker's lines (``Untagged: busybox:latest``, ``Deleted: sha256:...``).
        An image used by a container is refused with Docker's conflict texts; with
        ``force`` its tags are removed but, unlike Docker, the image itself is kept
        while a container uses it (its layers are that container's lower dirs, and
        the containers table references it).  Layers that no image uses any more are
        deleted from the database and the disk.
        """
        with self._layer_lock():
            with self.db.write() as conn:
                image_id = self._resolve(conn, ref)[0]
                records, orphans = self._remove_in_tx(conn, ref, force)
            # After the commit: a crash here leaves unregistered dirs, which reconcile()
            # removes; the reverse order could leave rows without their directory.
            trash = self._trash_layers(orphans)
        for path in trash:
            _rmtree(path)
        for record in records:  # "Untagged: ref" / "Deleted: id" (moby: name = the id)
            kind = record.partition(": ")[0]
            self._notify(image_id, "untag" if kind == "Untagged" else "delete", image_id)
        return records

    def _remove_in_tx(self, conn: sqlite3.Connection, ref: str,
                      force: bool) -> tuple[list[str], list[str]]:
        image_id, via_tag = self._resolve(conn, ref)
        image = self._load(conn, image_id)
        users = conn.execute(
            "SELECT id, status FROM containers WHERE image_id = ? "
            "ORDER BY status = 'running' DESC, created", (image_id,)).fetchall()
        records: list[str] = []

        def untag(tagged: str) -> None:
            conn.execute("DELETE FROM image_tags WHERE ref = ?", (tagged,))
            records.append(f"Untagged: {tagged}")

        if via_tag is not None:
            if users and len(image.repo_tags) == 1:
                if not force:
                    raise ConflictError(
                        f'conflict: unable to remove repository reference "{ref}" (must '
                        f"force) - container {users[0]['id'][:12]} is using its referenced "
                        f"image {image.short_id}")
                untag(via_tag)
                return records, []
            untag(via_tag)
            if len(image.repo_tags) > 1:
                return records, []
        else:
            repos = {split_tagged(t)[0] for t in image.repo_tags}
            if len(repos) > 1 and not force:
                raise ConflictError(
                    f"conflict: unable to delete {image.short_id} (must be forced) - image is "
                    "referenced in multiple repositories")
            running = [u for u in users if u["status"] == "running"]
            if running:
                raise ConflictError(
                    f"conflict: unable to delete {image.short_id} (cannot be forced) - image "
                    f"is being used by running container {running[0]['id'][:12]}")
            if users and not force:
                raise ConflictError(
                    f"conflict: unable to delete {image.short_id} (must be forced) - image is "
                    f"being used by stopped container {users[0]['id'][:12]}")
            for tagged in image.repo_tags:
                untag(tagged)
        if users:
            return records, []  # forced: untagged, kept for the containers that use it
        conn.execute("DELETE FROM images WHERE id = ?", (image_id,))
        records.append(f"Deleted: {image_id}")
        orphans = [r["diff_id"] for r in conn.execute(
            "SELECT l.diff_id FROM layers l WHERE l.diff_id IN ("
            + ",".join("?" * len(image.diff_ids)) + ") AND NOT EXISTS "
            "(SELECT 1 FROM image_layers il WHERE il.diff_id = l.diff_id)",
            image.diff_ids)] if image.diff_ids else []
        conn.executemany("DELETE FROM layers WHERE diff_id = ?", [(d,) for d in orphans])
        return records, orphans

    def containers_using(self, ref: str) -> list[str]:
        """Ids of the containers (any state) created from the image ``ref`` names."""
        with self.db.read() as conn:
            image_id, _ = self._resolve(conn, ref)
            return [r["id"] for r in conn.execute(
                "SELECT id FROM containers WHERE image_id = ? ORDER BY created", (image_id,))]

    # --- inspect -----------------------------------------------------------------

    # --- reconcile ---------------------------------------------------------------

    def reconcile(self) -> list[Path]:
        """Remove what a crash left: staging/trash dirs of dead processes under tmp/ and
        layer dirs that no database row names.  Returns what was removed.

        Only names the image code creates (``layer-``, ``trash-``, ``save-`` and
        ``load-<pid>-*``) are touched in tmp/, which other parts of the engine share; a
        name whose process still runs (and started before the entry was last written) is
        someone's work in progress.
        """
        removed: list[Path] = []
        if not self.config.layers_dir.is_dir():
            return removed
        for path in abandoned_entries(self.config.tmp_dir, _STAGING, 2):
            _rmtree(path)
            removed.append(path)
        with self._layer_lock():
            with self.db.read() as conn:
                known = {r["diff_id"].removeprefix("sha256:")
                         for r in conn.execute("SELECT diff_id FROM layers")}
            for where in (self.config.layers_dir, self.splits_dir):
                with suppress(FileNotFoundError):  # tarsplit/ is newer than old roots
                    for name in os.listdir(where):
                        if _HEX64.match(name) and name not in known:
                            _rmtree(where / name)
                            removed.append(where / name)
        return removed

    # Last in the class: the method's name would shadow the builtin in annotations below it.
    def list(self) -> builtins.list[Image]:
        """Every image, newest first."""
        with self.db.read() as conn:
            ids = [r["id"] for r in conn.execute(
                "SELECT id FROM images ORDER BY created DESC, id")]
            return [self._load(conn, i) for i in ids]


def _rmtree(path: Path) -> None:
    """Remove a tree without following symlinks (rmtree's fd-based walk on Linux)."""
    with suppress(FileNotFoundError):
        if path.is_symlink() or not path.is_dir():
            path.unlink()
        else:
            import shutil  # here: with zlib, bz2, lzma (~3 ms) that exec never needs

            shutil.rmtree(path)


def _canonical_digest(layer_fd: int) -> tuple[str, int]:
    """diff_id and size of the canonical serialisation of a layer directory."""
    import hashlib

    from orlop.images.archive import write_layer

    hasher = hashlib.sha256()
    null = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    try:
        size = write_layer(null, layer_fd, hasher)
    finally:
        os.close(null)
    return "sha256:" + hasher.hexdigest(), size


def _whole_tar_split(stream: BinaryIO, split: Path, diff_id: str) -> None:
    """Rewrite ``split`` to hold the whole uncompressed tar (no file references), checked
    against ``diff_id`` as it is copied."""
    import hashlib

    from orlop.archive.extract import open_decompressed
    from orlop.images.tarsplit import SplitRecorder

    with stream:
        raw, _ = open_decompressed(stream)
        hasher = hashlib.sha256()
        fd = os.open(split, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            recorder = SplitRecorder(fd)
            while data := raw.read(1 << 20):
                hasher.update(data)
                recorder.feed(data)
            recorder.finish()
        finally:
            os.close(fd)
    if "sha256:" + hasher.hexdigest() != diff_id:
        raise InvalidArchiveError(f"invalid image archive: layer {diff_id} changed while read")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
