"""The steps that write files: COPY, ADD and WORKDIR.

No container: the layer's tar is written straight from the sources into the image store
(build/layer.py), or, where the image's own path resolution or a look-up in it is
needed (a destination through a symlink, ``--chmod``, ``--chown`` by name, an archive to
unpack), through a scratch overlay of the image in a forked child (build/fs.py).  The
cache key names a checksum of the sources (or the ``--from`` image's id), so changed
content misses.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
from typing import TYPE_CHECKING, Any

from orlop.build.base import StageState, StepBase
from orlop.build.download import download, is_url
from orlop.build.fs import CopyOp, Ownership
from orlop.build.layer import Fallback, ImageView, write_from_image, write_ops
from orlop.build.parser import Instruction
from orlop.errors import InvalidParameterError, UnsupportedError

if TYPE_CHECKING:
    from orlop.images.store import Image


class FileSteps(StepBase):
    def _do_workdir(self, state: StageState, ins: Instruction) -> None:
        import posixpath

        wd = self._word(state, ins.args[0] if ins.args else "")
        if not wd.startswith("/"):
            wd = posixpath.join(state.config.get("WorkingDir") or "/", wd)
        wd = posixpath.normpath(wd)
        state.config["WorkingDir"] = wd
        run_config = copy.deepcopy(state.config)
        # moby's withCmdCommentString: one word, one space after #(nop)
        run_config["Cmd"] = [*self._shell(state), f"#(nop) WORKDIR {wd}"]
        if self._probe(state, run_config):
            return
        self._layer_step(state, run_config, [], Ownership(), mkdir=wd)

    def _do_copy(self, state: StageState, ins: Instruction) -> None:
        self._copy(state, ins, "COPY")

    def _do_add(self, state: StageState, ins: Instruction) -> None:
        self._copy(state, ins, "ADD")

    def _copy(self, state: StageState, ins: Instruction, cmd: str) -> None:
        import posixpath

        args = [self._word(state, a) for a in ins.args]
        if len(args) < 2:
            raise InvalidParameterError(f"{cmd} requires at least two arguments, but only "
                                        f"one was provided. Destination could not be "
                                        "determined.")
        *srcs, dest = args
        if not dest.startswith("/"):
            dest = posixpath.join(state.config.get("WorkingDir") or "/", dest) + \
                ("/" if dest.endswith(("/", "/.")) or dest == "." else "")
        chown = self._word(state, ins.flag("chown") or "")
        chmod_text = ins.flag("chmod")
        chmod = None
        if chmod_text:
            try:
                chmod = int(chmod_text, 8)
            except ValueError:
                raise InvalidParameterError(f"invalid chmod parameter: {chmod_text}") \
                    from None
        src_from = ins.flag("from")
        for s in srcs:
            if cmd == "ADD" and s.startswith("git@"):
                raise UnsupportedError(f"ADD from a git repository ({s}) is not supported")
            if is_url(s) and (cmd == "COPY" or src_from):
                raise InvalidParameterError(f"source can't be a URL for {cmd}")
        downloaded: set[str] = set()  # ADD <url>: fetched files, never unpacked
        with contextlib.ExitStack() as stack:
            dir_dest = dest.endswith(("/", "/."))
            from_img = self._source_image(state, src_from) if src_from else None
            sources: list[tuple[str, str | None]] = []
            if from_img is not None:
                source_text = self._from_hash(from_img, srcs)
            else:
                for s in srcs:
                    if cmd == "ADD" and is_url(s):
                        work, path = download(s, self.engine.config.tmp_dir)
                        stack.callback(shutil.rmtree, work, True)
                        sources.append((str(path), None))
                        downloaded.add(str(path))
                        continue
                    sources.extend((h, rel) for h, rel in self.ctx.resolve(s, cmd))
                source_text = self.ctx.source_hash(sources)
            if (len(srcs) > 1 or len(sources) > 1) and not dir_dest:
                raise InvalidParameterError(
                    f"When using {cmd} with more than one source file, the destination "
                    "must be a directory and end with a /")
            # moby's performCopy: the flags run into the hash ("--chown=1:2file:...")
            flags = (f"--chown={chown}" if chown else "") + \
                (f"--chmod={chmod_text}" if chmod_text else "")
            comment = f"{cmd} {flags}{source_text} in {dest} "
            run_config = copy.deepcopy(state.config)
            run_config["Cmd"] = [*self._shell(state), f"#(nop) {comment}"]
            if self._probe(state, run_config):
                return
            dest_exists_dir = dir_dest or self._is_dir_in_image(state, dest)
            fast = chmod is None and all(p.isdigit() for p in chown.split(":") if chown)
            # A numeric --chown needs no look-up in the image: "1" is 1:1, as Docker's.
            owner = tuple(int(p) for p in (chown.split(":") + chown.split(":"))[:2]) \
                if fast and chown else (0, 0)
            if from_img is not None:
                if fast and self._fast_from(state, from_img, srcs, dest, dest_exists_dir,
                                            (owner[0], owner[1]), run_config):
                    return
                sources = self._export_from(stack, from_img, srcs)
            ops = []
            for host, rel in sources:
                if os.path.isdir(host):
                    ops.append(CopyOp(host, rel, dest.rstrip("/") or "/", ""))
                elif cmd == "ADD" and host not in downloaded and _is_archive(host):
                    ops.append(CopyOp(host, rel, dest.rstrip("/") or "/", "", archive=True))
                elif dest_exists_dir:
                    ops.append(CopyOp(host, rel, dest.rstrip("/") or "/",
                                      posixpath.basename(rel or host)))
                else:
                    parent, _, name = dest.rpartition("/")
                    ops.append(CopyOp(host, rel, parent or "/", name))
            if fast and not any(op.archive for op in ops) and \
                    self._fast_copy(state, ops, (owner[0], owner[1]), run_config):
                return
            self._layer_step(state, run_config, ops, Ownership(chown, chmod))

    def _from_hash(self, img: Image, srcs: list[str]) -> str:
        """moby's text for ``COPY --from`` sources (its cache key and history): the files
        of the stage or image hashed as COPY hashes the context's
        (build/context.image_source_hash), read in a child over the image's root."""
        from orlop.build import fs
        from orlop.build.context import image_source_hash

        with fs.scratch(self.engine, self.engine.images.layer_dirs(img)) as sc:
            res = fs.in_root(sc, lambda root: {"hash": image_source_hash(root, srcs)})
        return str(res["hash"])

    def _image_view(self, state: StageState) -> ImageView:
        return ImageView(self.engine.images.layer_dirs(self.engine.images.get(
            state.image_id)) if state.image_id else [])

    def _fast_copy(self, state: StageState, ops: list[CopyOp], owner: tuple[int, int],
                   run_config: dict[str, Any]) -> bool:
        """The layer written straight from the context (build/layer.py); False when
        the destination needs the overlay path."""
        from orlop.build.fs import piped

        view = self._image_view(state)
        ignore = self.ctx.ignore
        diff: list[str] = []
        try:
            piped(lambda w: write_ops(w, view, ops, owner, ignore),
                  lambda stream: diff.append(self.engine.images.add_layer(stream)))
        except Fallback:
            return False
        state.diff_ids = [*state.diff_ids, diff[0]]
        self._new_image(state, run_config, empty=False)
        return True

    def _fast_from(self, state: StageState, img: Image, srcs: list[str], dest: str,
                   dest_is_dir: bool, owner: tuple[int, int],
                   run_config: dict[str, Any]) -> bool:
        """``COPY --from``: the layer written by a child over the source image's view
        straight into the store."""
        from orlop.build import fs

        view = self._image_view(state)
        paths = [s if s.startswith("/") else "/" + s for s in srcs]
        target = dest.rstrip("/") or "/"
        try:
            # Fallback is raised here, before the child: the parents are checked first.
            for d in {target if dest_is_dir else target.rpartition("/")[0]}:
                if d.strip("/"):
                    for i in range(1, len(d.strip("/").split("/")) + 1):
                        st = view.lookup("/".join(d.strip("/").split("/")[:i]))
                        if st is not None and not _is_dir(st):
                            return False
        except Fallback:
            return False
        diff: list[str] = []
        with fs.scratch(self.engine, self.engine.images.layer_dirs(img)) as sc:
            rfd, wfd = os.pipe()

            def child(root: int) -> dict[str, Any]:
                try:
                    write_from_image(wfd, root, view, paths, target, dest_is_dir, owner)
                finally:
                    os.close(wfd)
                return {}

            def consume() -> None:
                with os.fdopen(rfd, "rb", buffering=1 << 20) as stream:
                    diff.append(self.engine.images.add_layer(stream))

            fs.in_root(sc, child, child_close=[rfd], parent_close=[wfd],
                       parent_work=consume)
        state.diff_ids = [*state.diff_ids, diff[0]]
        self._new_image(state, run_config, empty=False)
        return True

    def _export_from(self, stack: contextlib.ExitStack, img: Image,
                     srcs: list[str]) -> list[tuple[str, str | None]]:
        """``COPY --from``: the paths of a stage's or an image's filesystem, copied out to
        a host directory first."""
        from orlop.build import fs

        out = stack.enter_context(fs.scratch(self.engine, []))
        export_dir = out.base / "export"
        export_dir.mkdir(mode=0o700)
        with fs.scratch(self.engine, self.engine.images.layer_dirs(img)) as sc:
            paths = [s if s.startswith("/") else "/" + s for s in srcs]
            fs.in_root(sc, lambda root: fs.export_paths(root, paths, str(export_dir)))
        found: list[tuple[str, str | None]] = []
        for n, s in enumerate(srcs):
            base = s.rstrip("/").rpartition("/")[2] or "root"
            found.append((str(export_dir / str(n) / base), None))
        return found

    def _is_dir_in_image(self, state: StageState, path: str) -> bool:
        """Whether ``path`` is a directory in the current image (the top layer that has
        it decides; a whiteout in a higher layer hides it)."""
        import stat as st_mod

        rel = path.strip("/")
        if not rel:
            return True
        for d in reversed(self.engine.images.layer_dirs(self.engine.images.get(
                state.image_id)) if state.image_id else []):
            try:
                st = os.lstat(os.path.join(d, rel))
            except (FileNotFoundError, NotADirectoryError):
                continue
            if st_mod.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                return False
            if st_mod.S_ISLNK(st.st_mode):
                return os.path.isdir(os.path.join(d, rel))  # best effort
            return st_mod.S_ISDIR(st.st_mode)
        return False

    def _layer_step(self, state: StageState, run_config: dict[str, Any], ops: list[CopyOp],
                    own: Ownership, mkdir: str = "") -> None:
        from orlop.build import fs

        lowers = self.engine.images.layer_dirs(self.engine.images.get(state.image_id)) \
            if state.image_id else []
        ignore = self.ctx.ignore
        with fs.scratch(self.engine, lowers) as sc:
            fs.in_root(sc, lambda root: fs.copy_into(root, ops, own, ignore, mkdir))
            empty = not fs.has_content(sc.upper)
            if not empty:
                self._add_upper(state, sc.upper, [])
        self._new_image(state, run_config, empty=empty)

    def _add_upper(self, state: StageState, upper: Any, skip: list[str]) -> None:
        from orlop.engine.files.commit import layer_from_upper

        fd = os.open(upper, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            state.diff_ids = [*state.diff_ids, layer_from_upper(self.engine.images, fd, skip)]
        finally:
            os.close(fd)


def _is_dir(st: os.stat_result) -> bool:
    import stat

    return stat.S_ISDIR(st.st_mode)


def _is_archive(path: str) -> bool:
    from orlop.build.fs import is_archive

    return is_archive(path)
