"""Python's SQLite binding, without what ``import sqlite3`` adds and Orlop never uses.

``sqlite3`` is a package over the C module ``_sqlite3``: ``sqlite3.dbapi2`` re-exports
the C module's names and registers default adapters for ``datetime`` objects, importing
``datetime`` and ``time`` for them (~2 ms of every command here, a ``volume create`` or
an ``exec`` included).  Orlop stores times as RFC 3339 text and never passes a date
object to SQL, so it takes the C module itself: the same ``connect``, ``Connection``,
``Row`` and exception classes (``sqlite3.Connection is _sqlite3.Connection``).  An
interpreter without the C module under that name gets the package.  Every module of
Orlop imports the binding from here (``from orlop.state.sqlite import sqlite3``).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
else:
    try:
        import _sqlite3 as sqlite3
    except ImportError:  # an interpreter that ships only the package
        import sqlite3

__all__ = ["sqlite3"]
