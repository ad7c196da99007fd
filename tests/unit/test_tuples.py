"""orlop.tuples.NamedTuple builds what typing.NamedTuple builds (the volume verbs' record
classes use it so that they do not import typing: issue 17)."""

from __future__ import annotations

import pickle
import typing

import pytest

from orlop import tuples


def _pair(base: typing.Any) -> type:
    class Rec(base):  # type: ignore[misc, valid-type]
        """A record."""

        name: str
        size: int = 0
        tags: tuple[str, ...] = ()

        @property
        def big(self) -> bool:
            return self.size > 10

        def label(self) -> str:
            return f"{self.name}:{self.size}"

    return Rec


def test_namedtuple_same_class_as_typing() -> None:
    ours, theirs = _pair(tuples.NamedTuple), _pair(typing.NamedTuple)
    for attr in ("_fields", "_field_defaults", "__doc__", "__module__", "__qualname__"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    assert [c.__name__ for c in ours.__mro__] == [c.__name__ for c in theirs.__mro__]
    # The annotations stay the strings the class body gave; typing wraps them in
    # ForwardRef.  get_type_hints resolves both alike.
    assert ours.__annotations__ == {
        k: v.__forward_arg__ for k, v in theirs.__annotations__.items()}
    assert typing.get_type_hints(ours) == typing.get_type_hints(theirs)
    a, b = ours("x", 20), theirs("x", 20)
    assert tuple(a) == tuple(b) == ("x", 20, ())
    assert repr(a) == repr(b) == "Rec(name='x', size=20, tags=())"
    assert a.big and a.label() == b.label() == "x:20"
    assert a._replace(size=1) == ours("x", 1)
    assert a._asdict() == b._asdict()
    assert hash(a) == hash(b)
    with pytest.raises(AttributeError):
        a.name = "y"  # type: ignore[misc]


def test_namedtuple_pickles_by_module_and_name() -> None:
    vol = _Module("v", 3)
    assert pickle.loads(pickle.dumps(vol)) == vol


def test_namedtuple_refuses_what_typing_refuses() -> None:
    with pytest.raises(TypeError, match="Non-default namedtuple field b"):
        class Bad(tuples.NamedTuple):
            a: int = 0
            b: int
    with pytest.raises(AttributeError, match="Cannot overwrite NamedTuple attribute _make"):
        class Bad2(tuples.NamedTuple):
            a: int

            def _make(self) -> None: ...


class _Module(tuples.NamedTuple):
    name: str
    size: int
