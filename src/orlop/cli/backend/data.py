"""Data calls of the backends: ``cp``, ``export`` and the volume archive verbs.

Local: the engine's calls (engine/files/cp.py, export, volumes/backup.py).  Remote: the
archive endpoints, with the host's half of ``cp`` done here as the docker CLI does it
(engine/files/hostcopy.py: Docker's renaming, and an extraction that trusts nothing the daemon
sends), and libpod's volume export/import; each raises the texts the local call does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from orlop.errors import NotFoundError

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import BinaryIO

    from orlop.client import APIClient
    from orlop.engine import Engine


class LocalData:
    engine: Engine

    def copy_out(self, ref: str, src: str, dest: str | None, *, out_fd: int = 1,
                 follow_link: bool = False,
                 progress: Callable[[int], None] | None = None) -> int:
        """``cp CTR:SRC DEST`` (``dest`` None: the tar on ``out_fd``); bytes of tar,
        ``progress`` told the count as it grows."""
        return int(self.engine.copy_out(ref, src, dest, out_fd=out_fd,
                                        follow_link=follow_link, progress=progress).size)

    def copy_in(self, ref: str, src: str | None, dest: str, *, in_fd: int = 0,
                archive: bool = False, follow_link: bool = False,
                progress: Callable[[int], None] | None = None) -> int:
        """``cp SRC CTR:DEST`` (``src`` None: a tar read from ``in_fd``); bytes of tar,
        ``progress`` told the count as it grows."""
        return int(self.engine.copy_in(ref, src, dest, in_fd=in_fd, archive=archive,
                                       follow_link=follow_link, progress=progress).size)

    def container_export(self, ref: str, out_fd: int) -> int:
        return self.engine.export_container(ref, out_fd)

    # (volume_export: cli/backend/volumes.py, whose lean verbs export without the facade)

    def volume_import(self, name: str, stream: BinaryIO, *, force: bool = False) -> str:
        return str(self.engine.volume_import(name, stream, force=force).volume.name)

    def volume_clone(self, src: str, dst: str) -> str:
        return str(self.engine.volume_clone(src, dst).name)

    def volume_cp(self, src_vol: str, src: str, dst_vol: str, dest: str, *,
                  archive: bool = False) -> int:
        """``volume cp``: one side a volume (or both); bytes of tar moved."""
        from orlop.engine.files import volumecp

        self.engine.reconcile()
        if src_vol and dst_vol:
            res = volumecp.copy_between(self.engine, src_vol, src, dst_vol, dest,
                                        archive=archive)
        elif src_vol:
            res = volumecp.copy_out(self.engine, src_vol, src, dest, archive=archive)
        else:
            res = volumecp.copy_in(self.engine, dst_vol, src, dest, archive=archive)
        return int(res.size)


class RemoteData:
    api: APIClient

    # --- cp out of the container -------------------------------------------------------

    def copy_out(self, ref: str, src: str, dest: str | None, *, out_fd: int = 1,
                 follow_link: bool = False, volume: bool = False,
                 keep_owner: bool = False,
                 progress: Callable[[int], None] | None = None) -> int:
        """``volume``: REF is a volume (``volume cp``, Orlop's volume archive route);
        ``progress``: told the bytes of tar received as they come."""
        from orlop.client.bodies import copy_body
        from orlop.engine.files import hostcopy as hc

        src = hc.clean(src)
        if dest is None:
            conn, resp, st = self.api.get_archive(ref, src)
            if not (follow_link and hc.stat_kind(st) == "symlink"):
                return copy_body(conn, resp, out_fd)
            conn.close()
            target = str(st.get("linkTarget") or "")
            conn, resp, _st = self.api.get_archive(ref, target)
            try:
                hc.write_rebased(resp, out_fd, hc.base(target),
                                 "" if hc.contents_only(src) else hc.base(src))
            finally:
                conn.close()
            return 0
        # The host's side first, with engine/files/cp.py's texts and in its order.
        hd = hc.host_destination(src, dest)
        target_dir, prefix = hd.target_dir, hd.prefix
        path = src
        conn, resp, st = self.api.get_archive(ref, path, volume=volume)
        try:
            if follow_link and hc.stat_kind(st) == "symlink":
                conn.close()
                path = str(st.get("linkTarget") or "")
                conn, resp, st = self.api.get_archive(ref, path, volume=volume)
            kind = hc.stat_kind(st)
            hc.check_source_kind(hd, src, kind)
            counted = hc.ReportingReader(resp, progress)
            dir_fd = os.open(target_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                from typing import IO, cast  # here: only a remote cp's download needs it

                hc.extract_rebased(cast(IO[bytes], counted), dir_fd,
                                   "" if hc.contents_only(path) else hc.base(path), prefix,
                                   keep_owner=keep_owner)
            finally:
                os.close(dir_fd)
            return counted.size
        finally:
            conn.close()

    # --- cp into the container ---------------------------------------------------------

    def _kind(self, ref: str, path: str, volume: bool = False) -> str:
        """What ``path`` is in the container, a symlink followed once (as the docker
        CLI); "missing" when there is nothing there."""
        from orlop.engine.files import hostcopy as hc

        st = self.api.stat_path(ref, path, volume=volume)
        if hc.stat_kind(st) == "symlink" and st is not None:
            st = self.api.stat_path(ref, str(st.get("linkTarget") or ""), volume=volume)
        return hc.stat_kind(st)

    def copy_in(self, ref: str, src: str | None, dest: str, *, in_fd: int = 0,
                archive: bool = False, follow_link: bool = False,
                volume: bool = False, progress: Callable[[int], None] | None = None) -> int:
        from orlop.client.bodies import chunks
        from orlop.engine.files import hostcopy as hc

        dest = hc.clean(dest)
        if src is None:
            stream = os.fdopen(in_fd, "rb", buffering=0, closefd=False)
            counted = hc.ReportingReader(stream)
            self.api.put_archive(ref, dest, chunks(counted))
            return counted.size
        src_abs, sst = hc.host_source(src, follow_link)
        # A HEAD answer has no body: a missing container is told apart by this call,
        # whose 404 carries Docker's "No such container" text.
        if volume:
            self.api.inspect_volume(ref)
        else:
            self.api.inspect_container(ref)
        kind = self._kind(ref, dest, volume)
        target_dir, prefix, include_root = hc.container_destination(src, src_abs, sst, dest,
                                                                    kind)
        if kind == "missing":
            parent = self._kind(ref, target_dir, volume)
            if parent == "missing" and not volume:  # as the daemon answers the PUT
                raise NotFoundError(f"Could not find the file {target_dir} in container {ref}")
            if parent != "dir":
                raise NotFoundError("no such directory")
        sizes: list[int] = []

        def produce(fd: int) -> None:
            sizes.append(hc.write_host_source(fd, src_abs, prefix, follow_link=follow_link,
                                              include_root=include_root, archive=archive))

        body = hc.pipe_chunks(produce)
        self.api.put_archive(ref, target_dir, body if progress is None
                             else _reported(body, progress), volume=volume)
        return sizes[0] if sizes else 0

    # --- export, volumes ---------------------------------------------------------------

    def container_export(self, ref: str, out_fd: int) -> int:
        return self.api.export_container(ref, out_fd)

    def volume_export(self, name: str, out_fd: int, *,
                      progress: Callable[[int], None] | None = None,
                      checksum: str = "crc32", consistent: bool = False,
                      snapshot: str | None = None, since: str | None = None,
                      writeback: bool = False) -> int:
        # (writeback: a hint for a local file, which the socket's bytes never are)
        return self.api.export_volume(name, out_fd, checksum, progress,
                                      consistent=consistent, snapshot=snapshot, since=since)

    def volume_import(self, name: str, stream: BinaryIO, *, force: bool = False) -> str:
        self.api.import_volume(name, stream, force=force)
        return name

    def volume_clone(self, src: str, dst: str) -> str:
        return str(self.api.clone_volume(src, dst)["Name"])

    def volume_cp(self, src_vol: str, src: str, dst_vol: str, dest: str, *,
                  archive: bool = False) -> int:
        """``volume cp`` through orlopd: the host's half here, as ``cp`` does it (the
        daemon's tar trusted in nothing); volume to volume on the server."""
        if src_vol and dst_vol:
            return self.api.copy_volume_path(src_vol, src, dst_vol, dest, archive)
        if src_vol:
            return self.copy_out(src_vol, src, dest, volume=True, keep_owner=archive)
        return self.copy_in(dst_vol, src, dest, archive=archive, volume=True)


def _reported(body: Iterator[bytes], progress: Callable[[int], None]) -> Iterator[bytes]:
    """``body``'s chunks as they go, their running total told to ``progress``."""
    total = 0
    for chunk in body:
        total += len(chunk)
        progress(total)
        yield chunk
