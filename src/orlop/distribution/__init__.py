"""The OCI distribution client (design.md): references, auth, manifests and blobs.

Everything here speaks to registries; what is pulled is handed to :mod:`orlop.images`
through the same safe extraction as ``load``.  Modules are imported lazily by the verbs
that need them (``pull``, ``push``, ``login``), never by ``orlop --help``.
"""
