"""The build cache: the untagged images of build steps, and ``builder prune``.

The classic builder keeps no cache of its own: a step's image (parent + run config) is
the cache entry (build/builder.py).  Pruning the cache removes those step images that
no tag, no container and no other image's tag chain needs any more; the final images
keep their layers (an image owns its whole layer list), so only the steps' own layers
that nothing else uses are freed.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from orlop.errors import ConflictError, ImageNotFoundError

if TYPE_CHECKING:
    from orlop.engine.engine import Engine


def is_step_image(config: dict[str, Any]) -> bool:
    """An image a build step made: it names its parent and the run config it was made
    with (``commit`` records a parent too, but those images are dangling, not cache)."""
    return bool(config.get("parent")) and isinstance(config.get("container_config"), dict)


def prune(engine: Engine, *, all_: bool = False) -> tuple[list[str], int]:
    """Remove the unused step images: (their ids, bytes reclaimed); ``POST /build/prune``'s
    answer is built from them in wire/prune.py.  ``all_`` changes nothing: every step
    image is unused cache."""
    store = engine.images
    images = store.list()
    sizes = {img.id: img.size for img in images}
    deleted: list[str] = []
    reclaimed = 0
    # Children first: newest first is the order the steps were made in, reversed.
    for img in images:
        if img.repo_tags or not is_step_image(img.config):
            continue
        if store.containers_using(img.id):
            continue
        try:
            lines = store.remove(img.id)
        except (ConflictError, ImageNotFoundError):
            continue
        if any(line.startswith("Deleted:") for line in lines):
            deleted.append(img.id)
            parent = str(img.config.get("parent") or "")
            with contextlib.suppress(KeyError):
                reclaimed += max(0, img.size - sizes.get(parent, img.size))
    return deleted, reclaimed


__all__ = ["is_step_image", "prune"]
