"""``typing.NamedTuple``'s class syntax, without importing ``typing``.

``typing`` costs ~2 ms of a short command's start here (issue 17: measured alone, with
what `volume create` imports before it), and the volume verbs' modules need nothing of
it at run time but this base for their record classes (``Volume``, ``VolumeUser``, the
filters, a discovered plugin).  mypy sees ``typing.NamedTuple`` itself (the
``TYPE_CHECKING`` branch); at run time :data:`NamedTuple` builds the same class as
``typing.NamedTuple`` does (``typing.NamedTupleMeta``, without ``Generic``): a
``collections.namedtuple`` of the annotated fields, in their order, with the defaults
given in the class body, its ``__annotations__`` (the strings of ``from __future__ import
annotations``, where typing wraps each in a ``ForwardRef``; ``typing.get_type_hints``
reads both alike), and the body's methods, properties and docstring.
``tests/unit/test_tuples.py`` compares the two.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    import collections

    # typing's _prohibited and _special (Python 3.11).
    _PROHIBITED = frozenset({"__new__", "__init__", "__slots__", "__getnewargs__", "_fields",
                             "_field_defaults", "_make", "_replace", "_asdict", "_source"})
    _SPECIAL = frozenset({"__module__", "__name__", "__annotations__"})

    class _NamedTupleMeta(type):
        def __new__(mcs, typename, bases, ns):
            if not bases:  # the base below itself
                return super().__new__(mcs, typename, bases, ns)
            if bases != (_Base,):
                raise TypeError("can only inherit from a NamedTuple type")
            types = ns.get("__annotations__", {})
            default_names = []
            for field in types:
                if field in ns:
                    default_names.append(field)
                elif default_names:
                    raise TypeError(f"Non-default namedtuple field {field} cannot follow "
                                    f"default field{'s' if len(default_names) > 1 else ''} "
                                    f"{', '.join(default_names)}")
            tpl = collections.namedtuple(typename, list(types),
                                         defaults=[ns[n] for n in default_names],
                                         module=ns["__module__"])
            tpl.__annotations__ = tpl.__new__.__annotations__ = dict(types)
            for key in ns:
                if key in _PROHIBITED:
                    raise AttributeError("Cannot overwrite NamedTuple attribute " + key)
                if key not in _SPECIAL and key not in tpl._fields:
                    setattr(tpl, key, ns[key])
            return tpl

    class _Base(metaclass=_NamedTupleMeta):
        pass

    NamedTuple = _Base

__all__ = ["NamedTuple"]
