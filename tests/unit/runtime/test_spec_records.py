"""runtime/spec.py's classes keep what ``@dataclass`` gave them (orlop/records.py): the
same parameters and defaults, a new list, dict or object per default, equality by value,
no hash for the mutable ones, the same ``repr``; ``replace`` as ``dataclasses.replace``."""

from __future__ import annotations

import dataclasses

import pytest

from orlop.runtime.spec import Linux, Mount, Process, Seccomp, Spec, User, default_spec


def test_defaults_are_new_per_object() -> None:
    a, b = Spec(), Spec()
    assert a == b and a.process is not b.process and a.linux is not b.linux
    assert a.mounts is not b.mounts and a.annotations is not b.annotations
    assert a.process.env == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    assert a.process.env is not b.process.env and a.process.user == User(0, 0, [])
    assert Linux().namespaces == [] and Linux().seccomp is None


def test_value_semantics_and_repr() -> None:
    assert default_spec(["true"]) == default_spec(["true"])
    assert default_spec(["true"]) != default_spec(["false"])
    assert Mount("/x") != Spec()
    with pytest.raises(TypeError):
        hash(Process())
    assert hash(Seccomp("SCMP_ACT_ERRNO")) == hash(Seccomp("SCMP_ACT_ERRNO"))
    assert repr(Mount("/x", options=["ro"])) == (
        "Mount(destination='/x', type='bind', source='', options=['ro'])")
    with pytest.raises(dataclasses.FrozenInstanceError):
        Seccomp("SCMP_ACT_ERRNO").flags = ()


def test_replace_and_mutation() -> None:
    spec = default_spec(["sh"])
    other = spec.replace(process=spec.process.replace(args=["true"], terminal=True))
    assert other.process.args == ["true"] and other.process.terminal
    assert spec.process.args == ["sh"] and not spec.process.terminal
    assert other.linux is spec.linux  # shallow, as dataclasses.replace
    spec.hostname = "h"  # mutable, as before
    assert spec.hostname == "h"
    with pytest.raises(AttributeError):
        spec.nope = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        spec.replace(nope=1)
