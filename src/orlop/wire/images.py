"""The image verbs as the Docker Engine API answers them: list (with its filters),
inspect, history, remove and prune, each returning Docker's wire dicts.

orlopd's ``/images`` routes and the CLI's local backend call these same functions, so
``orlop images`` prints the same rows in-process and through ``-H``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orlop.errors import ConflictError, InvalidParameterError, NotFoundError
from orlop.wire.summary import epoch, image_summary

if TYPE_CHECKING:
    from orlop.engine.engine import Engine
    from orlop.images.store import Image, ImageStore

LIST_FILTERS = frozenset({"reference", "dangling", "label", "before", "since"})


def _bool_filter(key: str, values: list[str]) -> bool:
    value = values[-1] if values else ""
    if value.lower() not in ("true", "false", "1", "0"):
        raise InvalidParameterError(f"Invalid filter '{key}=[{value}]'")
    return value.lower() in ("true", "1")


def reference_match(pattern: str, tagged: str) -> bool:
    """``images REPOSITORY[:TAG]`` and the ``reference=`` filter: a glob on the
    repository, and on the tag when the pattern has one (moby's FamiliarMatch)."""
    from orlop.images.reference import split_tagged

    repo, tag = split_tagged(tagged)
    prepo, ptag = split_tagged(pattern)
    if not fnmatch.fnmatchcase(repo, prepo):
        return False
    return not ptag or fnmatch.fnmatchcase(tag, ptag)


def _label_match(spec: str, labels: Mapping[str, str]) -> bool:
    k, eq, v = spec.partition("=")
    return k in labels and (not eq or labels[k] == v)


def list_images(engine: Engine, filters: Mapping[str, list[str]] | None = None,
                all_images: bool = False) -> list[dict[str, Any]]:
    """``GET /images/json``.  With a ``reference`` filter an image lists only the tags
    that match (as dockerd), and an image none of whose tags match is left out;
    ``all_images`` (``?all=1``, ``images -a``) lists the intermediate images too."""
    filters = dict(filters or {})
    unknown = set(filters) - LIST_FILTERS
    if unknown:
        raise InvalidParameterError(f"Invalid filter '{sorted(unknown)[0]}'")
    dangling = _bool_filter("dangling", filters["dangling"]) if "dangling" in filters \
        else None
    bounds: dict[str, int] = {}
    for key in ("before", "since"):
        for ref in filters.get(key, []):
            bounds[key] = epoch(engine.images.get(ref).created)
    out = []
    images = engine.images.list()
    # Untagged parents of other images are build steps (orlop/build): hidden as Docker
    # hides its "intermediate" images.
    parents = {str(i.config.get("parent")) for i in images if i.config.get("parent")}
    for image in images:
        if not all_images and not image.repo_tags and image.id in parents:
            continue
        if dangling is not None and dangling != (not image.repo_tags):
            continue
        created = epoch(image.created)
        if "before" in bounds and created >= bounds["before"]:
            continue
        if "since" in bounds and created <= bounds["since"]:
            continue
        labels = image.container_config.get("Labels") or {}
        if not all(_label_match(spec, labels) for spec in filters.get("label", [])):
            continue
        item = image_summary(image)
        patterns = filters.get("reference")
        if patterns:
            item["RepoTags"] = [t for t in image.repo_tags
                                if any(reference_match(p, t) for p in patterns)]
            if not item["RepoTags"]:
                continue
        out.append(item)
    return out


def inspect_image(engine: Engine, ref: str) -> dict[str, Any]:
    """``GET /images/{name}/json``."""
    return image_json(engine.images, engine.images.get(ref))


def image_json(store: ImageStore, image: Image) -> dict[str, Any]:
    """Docker's ``image inspect`` JSON (API 1.41 shape)."""
    from orlop.images.changes import empty_container_config

    cfg = image.config
    container_config = {**empty_container_config(), **image.container_config}
    dirs = [str(p) for p in store.layer_dirs(image)]
    data: dict[str, str] = {}
    if len(dirs) > 1:
        data["LowerDir"] = ":".join(reversed(dirs[:-1]))  # overlay order: top first
    if dirs:
        data["UpperDir"] = dirs[-1]
    return {
        "Id": image.id,
        "RepoTags": list(image.repo_tags),
        "RepoDigests": list(image.repo_digests),
        "Parent": cfg.get("parent", ""),
        "Comment": cfg.get("comment", ""),
        "Created": cfg.get("created", image.created),
        "Container": cfg.get("container", ""),
        "ContainerConfig": {**empty_container_config(),
                            **(cfg.get("container_config") or {})},
        "DockerVersion": cfg.get("docker_version", ""),
        "Author": cfg.get("author", ""),
        "Config": container_config,
        "Architecture": cfg.get("architecture", ""),
        "Os": cfg.get("os", "linux"),
        "Size": image.size,
        "VirtualSize": image.size,
        "GraphDriver": {"Data": data, "Name": "overlay2"},
        "RootFS": {"Type": "layers", "Layers": list(image.diff_ids)},
        "Metadata": {"LastTagTime": image.last_tag_time},
    }


def image_history(engine: Engine, ref: str) -> list[dict[str, Any]]:
    """``GET /images/{name}/history``: newest first, as ``docker history``."""
    image = engine.images.get(ref)
    history = image.config.get("history") or []
    sizes = engine.images.layer_sizes(image.diff_ids)
    # moby's ImageHistory: oldest first, each entry that is not an ``empty_layer`` takes
    # the next layer and shows that layer's size; the list is then reversed.
    rows: list[dict[str, Any]] = []
    layer = 0
    for h in history:
        size = 0
        if not h.get("empty_layer"):
            size = sizes[layer] if layer < len(sizes) else 0
            layer += 1
        rows.append({"Id": "<missing>", "Created": epoch(h.get("created", "")),
                     "CreatedBy": h.get("created_by", ""), "Tags": None, "Size": size,
                     "Comment": h.get("comment", "")})
    rows.reverse()
    # moby: the ids follow the ``parent`` chain (a commit's or a build step's), one per
    # row from the newest, while those images are here; the rest stay <missing>.
    current: Image | None = image
    for row in rows:
        if current is None:
            break
        row["Id"] = current.id
        row["Tags"] = list(current.repo_tags) or None  # moby: a nil slice, null
        parent = str(current.config.get("parent") or "")
        try:
            current = engine.images.get(parent) if parent else None
        except NotFoundError:
            current = None
    return rows


def _records(lines: list[str]) -> list[dict[str, str]]:
    """``Untagged: x`` / ``Deleted: sha256:...`` -> Docker's ``[{"Untagged": x}, ...]``."""
    out = []
    for line in lines:
        key, _, value = line.partition(": ")
        out.append({key: value})
    return out


def remove_image(engine: Engine, ref: str, *, force: bool = False,
                 noprune: bool = False) -> list[dict[str, str]]:
    """``DELETE /images/{name}``; unless ``noprune``, also the untagged parents nothing
    else needs (a build's step images), as Docker deletes them."""
    parent = str(engine.images.get(ref).config.get("parent") or "")
    lines = engine.images.remove(ref, force=force)
    if not noprune and any(line.startswith("Deleted:") for line in lines):
        lines += _untagged_parents(engine, parent)
    return _records(lines)


def _untagged_parents(engine: Engine, parent: str) -> list[str]:
    """Delete the chain of untagged parents that no container and no other image uses
    (moby's ImageDelete with prune): ``Deleted:`` lines."""
    from orlop.errors import ImageNotFoundError

    store = engine.images
    lines: list[str] = []
    children: dict[str, int] = {}
    if parent:
        for img in store.list():
            p = str(img.config.get("parent") or "")
            children[p] = children.get(p, 0) + 1
    while parent:
        try:
            img = store.get(parent)
        except ImageNotFoundError:
            break
        if img.repo_tags or children.get(img.id) or store.containers_using(img.id):
            break
        try:
            lines += store.remove(img.id)
        except ConflictError:
            break
        parent = str(img.config.get("parent") or "")
        children[parent] = children.get(parent, 1) - 1
    return lines


def prune_images(engine: Engine, filters: Mapping[str, list[str]] | None = None
                 ) -> dict[str, Any]:
    """``POST /images/prune``: dangling images, or (``dangling=false``) every image no
    container uses, under Docker's ``label``/``label!``/``until`` filters too; an image a
    container starts using meanwhile is kept."""
    from orlop.engine.prune import check_filters, passes

    filters = dict(filters or {})
    check_filters(filters, extra=("dangling",))
    only_dangling = _bool_filter("dangling", filters["dangling"]) \
        if "dangling" in filters else True
    store = engine.images
    deleted: list[dict[str, str]] = []
    reclaimed = 0
    images = store.list()
    parents = {str(i.config.get("parent")) for i in images if i.config.get("parent")}
    gone: set[str] = set()  # deleted with a child, as its untagged parent
    for image in images:
        if image.id in gone or (image.repo_tags and only_dangling):
            continue
        if only_dangling and image.id in parents:
            continue  # an intermediate build step: not dangling (Docker's rule)
        if store.containers_using(image.id):
            continue  # used by a container: not "unused"
        labels = image.container_config.get("Labels") or {}
        if not passes(filters, labels, image.created):
            continue
        parent = str(image.config.get("parent") or "")
        try:
            lines = store.remove(image.id, force=True)
        except ConflictError:
            continue
        if any(line.startswith("Deleted:") for line in lines):
            lines += _untagged_parents(engine, parent)
            gone.update(line.partition(": ")[2] for line in lines
                        if line.startswith("Deleted:"))
            reclaimed += image.size
            deleted += _records(lines)
    return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}


__all__ = ["image_history", "image_json", "inspect_image", "list_images", "prune_images",
           "reference_match", "remove_image"]
