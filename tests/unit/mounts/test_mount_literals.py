"""mounts/spec.py keeps its Literal types for the type checker only (no typing at run
time) and the run-time tuples beside them: the two must list the same values."""

from __future__ import annotations

import ast
from pathlib import Path

from orlop.mounts import spec

SPEC = Path(spec.__file__)


def _literals() -> dict[str, tuple[str, ...]]:
    """The ``X = Literal[...]`` assignments of spec.py's TYPE_CHECKING branch."""
    out: dict[str, tuple[str, ...]] = {}
    for node in ast.walk(ast.parse(SPEC.read_text())):
        if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Subscript)
                and isinstance(node.value.value, ast.Name)
                and node.value.value.id == "Literal"):
            elts = node.value.slice.elts if isinstance(node.value.slice, ast.Tuple) else [
                node.value.slice]
            out[node.targets[0].id] = tuple(  # type: ignore[attr-defined]
                e.value for e in elts if isinstance(e, ast.Constant))
    return out


def test_the_tuples_are_the_literals() -> None:
    lits = _literals()
    assert set(lits) == {"MountType", "MountOrigin", "BindRecursive"}
    assert lits["MountType"] == spec.MOUNT_TYPES
    assert lits["BindRecursive"] == spec.BIND_RECURSIVE_VALUES


def test_the_names_exist_at_run_time() -> None:
    """``orlop.mounts`` exports MountType lazily: the name still resolves."""
    import orlop.mounts

    assert orlop.mounts.MountType is str
