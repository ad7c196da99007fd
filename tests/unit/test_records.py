"""Every record class (orlop/records.py) keeps its three field lists in step: ``_fields``
(and so ``__slots__``), the class annotations, and the parameters of its hand-written
``__init__``, in one order; an instance made with the defaults has every field set.
A field added to one list and forgotten in another fails here, not at a user's run."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import orlop
from orlop.records import FrozenRecord, Record


def _record_classes() -> list[type[Record]]:
    for mod in pkgutil.walk_packages(orlop.__path__, "orlop."):
        if not mod.name.endswith("__main__"):  # `python -m` entry points run at import
            importlib.import_module(mod.name)
    out: list[type[Record]] = []
    todo = list(Record.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls is not FrozenRecord:
            out.append(cls)
    return out


def test_fields_slots_annotations_and_init_agree() -> None:
    classes = _record_classes()
    assert len(classes) >= 40
    for cls in classes:
        fields = cls._fields
        assert fields, cls
        assert cls.__dict__.get("__slots__") == fields, cls
        params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        assert params == list(fields), cls
        notes = [n for n in inspect.get_annotations(cls) if n in fields]
        assert sorted(notes) == sorted(fields), cls


def test_an_instance_has_every_field_set() -> None:
    for cls in _record_classes():
        sig = inspect.signature(cls.__init__)
        required = [p for n, p in sig.parameters.items() if n != "self"
                    and p.default is inspect.Parameter.empty]
        if required:
            continue  # needs values only its callers know
        obj = cls()
        for name in cls._fields:
            getattr(obj, name)  # AttributeError: a slot __init__ never set
        assert obj == obj.replace(), cls
