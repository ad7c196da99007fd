"""A container's environment from its image's and the user's (``run``, ``exec``, links,
``commit``): a module of its own so that ``run`` and ``exec`` do not import the commit
code (``copy``, ``json``, the ``--change`` parser: ~1 ms of each; issue 17)."""

from __future__ import annotations

from collections.abc import Sequence


def config_env(image_env: Sequence[str], user_env: Sequence[str]) -> list[str]:
    """A container's ``Config.Env`` as dockerd records it (moby's ``merge`` in
    daemon/commit.go): the user's entries as given (a bare ``KEY`` too), then the image's
    entries whose key the user did not name.  dockerd keeps the order it is sent; the
    docker CLI 28 itself sends ``-e`` entries in a rotated order now and then (it walks a
    Go map), which is why ``docker create -e A -e B=1`` can show ``["B=1", "A"]``."""
    keys = {item.partition("=")[0] for item in user_env}
    return [*user_env, *(item for item in image_env if item.partition("=")[0] not in keys)]
