"""Images calls of the backends: ``GET /images/json`` entries, Docker's ``Untagged:`` /
``Deleted:`` records, image ids; the local side calls the engine functions orlopd's
``/images`` routes call (wire/images.py), the remote side those routes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any, BinaryIO

    from orlop.build.options import BuildOptions, Emit
    from orlop.client import APIClient
    from orlop.distribution.progress import Progress
    from orlop.engine import Engine


class LocalImages:
    engine: Engine

    def image_list(self, filters: Mapping[str, list[str]] | None) -> list[dict[str, Any]]:
        from orlop.wire.images import list_images

        return list_images(self.engine, filters)

    def image_inspect(self, ref: str) -> dict[str, Any]:
        from orlop.wire.images import inspect_image

        return inspect_image(self.engine, ref)

    def image_history(self, ref: str) -> list[dict[str, Any]]:
        from orlop.wire.images import image_history

        return image_history(self.engine, ref)

    def image_remove(self, ref: str, force: bool, noprune: bool = False
                     ) -> list[dict[str, str]]:
        from orlop.wire.images import remove_image

        return remove_image(self.engine, ref, force=force, noprune=noprune)

    def image_tag(self, ref: str, target: str) -> None:
        self.engine.images.tag(ref, target)

    def image_prune(self, filters: Mapping[str, list[str]] | None) -> dict[str, Any]:
        from orlop.wire.images import prune_images

        return prune_images(self.engine, filters)

    def image_import(self, stream: BinaryIO, reference: str | None, changes: Sequence[str],
                     message: str) -> str:
        image = self.engine.images.import_tar(stream, reference, list(changes), message)
        return str(image.id)

    def image_save(self, refs: list[str], out_fd: int) -> int:
        return self.engine.save_images(refs, out_fd)

    def image_load(self, stream: BinaryIO,
                   progress: Callable[[str, int, int], None] | None = None) -> list[str]:
        return self.engine.load_images(stream, progress)

    def commit(self, ref: str, reference: str | None, *, changes: Sequence[str],
               author: str, message: str, pause: bool = True) -> str:
        image = self.engine.commit(ref, reference, changes=list(changes), author=author,
                                   message=message)
        return str(image.id)

    def image_build(self, path: str | None, stream: BinaryIO | None,
                    dockerfile_text: str | None, opts: BuildOptions, emit: Emit) -> str:
        """``build``: a context directory or a tar (or Dockerfile) stream.  A directory is
        taken as the docker CLI sends it, a tar made by walking it by descriptor without
        following symlinks, and the build reads the engine's private copy of that: a
        concurrent writer of the directory (its owner need not be root) cannot swap a
        path the build has resolved for a link out of the context."""
        from orlop.build.builder import build
        from orlop.build.context import check_local, context_tar, from_tar

        if path is not None:
            check_local(path, None if dockerfile_text is not None else opts.dockerfile)
            with context_tar(path, opts, dockerfile_text) as (body, name, _size), \
                    from_tar(self.engine, body, name) as ctx:
                return build(self.engine, ctx, opts, emit)
        assert stream is not None
        with from_tar(self.engine, stream, opts.dockerfile or "Dockerfile") as ctx:
            return build(self.engine, ctx, opts, emit)

    def build_prune(self, all_: bool = False) -> dict[str, Any]:
        from orlop.build.cache import prune
        from orlop.wire.prune import build_cache_report

        return build_cache_report(*prune(self.engine, all_=all_))


    def image_pull(self, ref: str, platform: str, progress: Progress) -> dict[str, Any]:
        from orlop.engine.registry import pull

        return pull(self.engine, ref, platform=platform, progress=progress)

    def image_push(self, ref: str, progress: Progress) -> dict[str, Any]:
        from orlop.engine.registry import push

        return push(self.engine, ref, progress=progress)

    def registry_login(self, server: str, username: str, password: str) -> str:
        from orlop.engine.registry import login

        return login(server, username, password)

    def volume_push(self, name: str, ref: str, progress: Progress) -> dict[str, Any]:
        from orlop.engine.registry import volume_push

        return volume_push(self.engine, name, ref, progress=progress)

    def volume_pull(self, ref: str, name: str, force: bool,
                    progress: Progress) -> dict[str, Any]:
        from orlop.engine.registry import volume_pull

        return volume_pull(self.engine, ref, name, force=force, progress=progress)


class RemoteImages:
    api: APIClient

    def image_list(self, filters: Mapping[str, list[str]] | None) -> list[dict[str, Any]]:
        return self.api.images(filters)

    def image_inspect(self, ref: str) -> dict[str, Any]:
        return self.api.inspect_image(ref)

    def image_present(self, ref: str) -> bool:
        """Whether orlopd has ``ref`` (``GET /images/{name}/json``, as the docker CLI)."""
        from orlop.errors import NotFoundError

        try:
            self.api.inspect_image(ref)
        except NotFoundError:
            return False
        return True

    def image_history(self, ref: str) -> list[dict[str, Any]]:
        return self.api.image_history(ref)

    def image_remove(self, ref: str, force: bool, noprune: bool = False
                     ) -> list[dict[str, str]]:
        return self.api.remove_image(ref, force=force, noprune=noprune)

    def image_tag(self, ref: str, target: str) -> None:
        self.api.tag_image(ref, target)

    def image_prune(self, filters: Mapping[str, list[str]] | None) -> dict[str, Any]:
        return self.api.prune_images(filters)

    def image_import(self, stream: BinaryIO, reference: str | None, changes: Sequence[str],
                     message: str) -> str:
        return self.api.import_image(stream, reference, changes, message)

    def image_save(self, refs: list[str], out_fd: int) -> int:
        return self.api.save_images(refs, out_fd)

    def image_load(self, stream: BinaryIO,
                   progress: Callable[[str, int, int], None] | None = None) -> list[str]:
        """Without ``progress``, ``quiet`` (as the docker CLI off a terminal): orlopd
        then sends no ``Loading layer`` messages."""
        return self.api.load_images(stream, quiet=progress is None, progress=progress)

    def commit(self, ref: str, reference: str | None, *, changes: Sequence[str],
               author: str, message: str, pause: bool = True) -> str:
        return self.api.commit(ref, reference, changes=changes, author=author,
                               message=message, pause=pause)

    def image_build(self, path: str | None, stream: BinaryIO | None,
                    dockerfile_text: str | None, opts: BuildOptions, emit: Emit) -> str:
        """``POST /build`` with the context as a tar (.dockerignore applied, as the
        docker CLI sends it)."""
        from orlop.build.context import context_tar

        if path is not None:
            with context_tar(path, opts, dockerfile_text) as (body, name, size):
                from orlop.cli.units import human_size

                emit({"stream": "Sending build context to Docker daemon  "
                                f"{human_size(size, 4)}\n"})
                return self.api.build(body, opts, name, emit)
        assert stream is not None
        return self.api.build(stream, opts, opts.dockerfile or "Dockerfile", emit)

    def build_prune(self, all_: bool = False) -> dict[str, Any]:
        return self.api.build_prune(all_)


    def image_pull(self, ref: str, platform: str, progress: Progress) -> dict[str, Any]:
        """Through orlopd, with this CLI's config.json credentials in X-Registry-Auth
        (as the docker CLI sends them)."""
        from orlop.distribution.reference import parse_remote

        parsed = parse_remote(ref).with_tag_default()
        self.api.pull_image(ref, platform, _auth_header(parsed.auth_key),
                            lambda m: _render(progress, m))
        name = f"{parsed.full_name}:{parsed.tag}" if not parsed.digest else \
            f"{parsed.full_name}@{parsed.digest}"
        return {"Name": name}

    def image_push(self, ref: str, progress: Progress) -> dict[str, Any]:
        from orlop.distribution.reference import parse_remote

        parsed = parse_remote(ref).with_tag_default()
        return self.api.push_image(parsed.familiar, parsed.tag,
                                   _auth_header(parsed.auth_key),
                                   lambda m: _render(progress, m))

    def registry_login(self, server: str, username: str, password: str) -> str:
        from orlop.distribution.reference import registry_key

        self.api.login(server, username, password)
        return registry_key(server)

    def volume_push(self, name: str, ref: str, progress: Progress) -> dict[str, Any]:
        from orlop.distribution.reference import parse_remote

        key = parse_remote(ref).auth_key
        return self.api.push_volume(name, ref, _auth_header(key),
                                    lambda m: _render(progress, m))

    def volume_pull(self, ref: str, name: str, force: bool,
                    progress: Progress) -> dict[str, Any]:
        from orlop.distribution.reference import parse_remote

        key = parse_remote(ref).auth_key
        return self.api.pull_volume(ref, name, force, _auth_header(key),
                                    lambda m: _render(progress, m))


def _auth_header(key: str) -> str:
    import base64
    import json

    from orlop.distribution import credentials

    creds = credentials.get(key)
    if creds.empty:
        return ""
    doc = {"username": creds.username, "password": creds.password, "serveraddress": key}
    if creds.identity_token:
        doc["identitytoken"] = creds.identity_token
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


def _render(progress: Progress, msg: dict[str, Any]) -> None:
    """One of Docker's JSON messages as a progress call."""
    status = str(msg.get("status", ""))
    layer_id = str(msg.get("id", ""))
    detail = msg.get("progressDetail") or {}
    if layer_id and ("progressDetail" in msg):
        progress.layer(layer_id, status, int(detail.get("current") or 0),
                       int(detail.get("total") or 0))
    elif status:
        progress.message(status, layer_id)
