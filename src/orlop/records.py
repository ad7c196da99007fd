"""Bases for small value classes that the start of ``run`` and ``exec`` builds.

A ``@dataclass`` is cheap to write and dear to import: ``dataclasses._process_class``
compiles an ``__init__``, ``__repr__`` and ``__eq__`` (a frozen one also ``__hash__``,
``__setattr__`` and ``__delattr__``) for each class at every start, 0.3 to 4 ms a class
on this machine (issue 17, docs/performance.md "Fourth pass").  The classes that are
imported on every ``run``/``exec`` write their ``__init__`` out instead (same parameters
and defaults as the dataclass had) and take the rest from here:

- ``_fields``: the field names in the ``__init__``'s order; the subclass's ``__slots__``.
- equality by the fields' values, only with the same class; ``repr`` as a dataclass's.
- ``replace(**changes)``: what ``dataclasses.replace`` made (the callers call this).
- :class:`Record` is unhashable (a mutable dataclass's ``__hash__ = None``);
  :class:`FrozenRecord` hashes its fields' values and refuses assignment and deletion
  with dataclasses' ``FrozenInstanceError`` (``dataclasses`` imported only then).

``dataclasses.fields``/``asdict`` do not apply to them; nothing calls those on them.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any, ClassVar, Self


class Record:
    """A mutable record over ``_fields`` (see the module's docstring)."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def replace(self, **changes: Any) -> Self:
        """A copy with ``changes`` (``TypeError`` for a name that is not a field)."""
        return self.__class__(**{**{n: getattr(self, n) for n in self._fields}, **changes})

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Record)
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]  # as a mutable dataclass: unhashable

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{self.__class__.__qualname__}({fields})"


class FrozenRecord(Record):
    """An immutable record: ``__init__`` sets the fields with :meth:`_set`."""

    __slots__ = ()

    def _set(self, **values: Any) -> None:
        """Set the fields (from ``__init__``: past the frozen ``__setattr__``)."""
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self._values())

    if not TYPE_CHECKING:  # a __setattr__ mypy saw would let any name be assigned

        def __setattr__(self, name: str, value: object) -> None:
            from dataclasses import FrozenInstanceError

            raise FrozenInstanceError(f"cannot assign to field {name!r}")

        def __delattr__(self, name: str) -> None:
            from dataclasses import FrozenInstanceError

            raise FrozenInstanceError(f"cannot delete field {name!r}")
