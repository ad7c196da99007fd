"""OCI whiteouts (image-spec layer.md): how a layer tar says "this name is deleted".

A layer marks a deleted NAME with an empty entry ``.wh.NAME`` in the same directory, and
a directory whose lower content is hidden with ``.wh..wh..opq``; overlayfs, where the
layers are stored, says the same with a 0/0 character device NAME and the xattr
``trusted.overlay.opaque=y``.  The tar reader converts the first form to the second
(``whiteouts="overlay"``) and the writer the second to the first (``overlay_whiteouts``),
so the names live here, beside both.  Archives that are not layers (``cp``, volumes)
keep ``.wh.`` names as ordinary names.
"""

from __future__ import annotations

WHITEOUT_PREFIX = ".wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"


def whiteout_problem(name: str) -> str | None:
    """Why the layer entry ``name`` is an invalid whiteout, or None (not a whiteout, or a
    valid one).

    containerd's rule (archive: "check whiteout path before removal", containerd PR #2001,
    its TestBreakouts ``Whiteout*`` cases; OCI image-spec: a ``.wh.`` prefix is followed
    by the non-empty basename of an entry *of the same directory*): a whiteout hides a
    sibling, nothing else.  So the name is judged as written, before any cleaning:
    ``d/../.wh.etc`` cleans to ``.wh.etc`` and would hide ``/etc`` of every lower layer
    although it claims to live in ``d``; ``.wh..``/``.wh...`` name the directory itself
    or its parent; ``.wh.`` names nothing.  The opaque marker ``.wh..wh..opq`` must sit in
    the directory it empties, so it may not climb either.
    """
    raw = [p for p in name.split("/") if p not in ("", ".")]
    if not raw or not raw[-1].startswith(WHITEOUT_PREFIX):
        return None
    if ".." in raw[:-1]:
        return "a whiteout must stay in its own directory (the name climbs with \"..\")"
    base = raw[-1]
    if base == WHITEOUT_OPAQUE or base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
        return None  # the opaque marker; aufs metadata (skipped)
    if base[len(WHITEOUT_PREFIX):] in ("", ".", ".."):
        return "invalid whiteout name: it must name an entry of its own directory"
    return None


__all__ = ["OVERLAY_OPAQUE_XATTR", "WHITEOUT_OPAQUE", "WHITEOUT_PREFIX", "whiteout_problem"]
