"""A timing proxy for any DB-API 2 (PEP 249) connection: sqlite3, psycopg, PyMySQL...

>>> conn = instrument_connection(sqlite3.connect("app.db"), kit)
>>> conn.execute("SELECT * FROM users WHERE id = ?", (1,))   # recorded

``cursor.execute``, ``executemany`` and ``callproc`` (and the connection-level
``execute``/``executemany`` shortcuts of sqlite3 and psycopg) are timed; a call
that raises is counted as an error and the exception propagates unchanged.
Everything else is passed straight to the driver's object.
"""

from __future__ import annotations

from time import perf_counter
from typing import TYPE_CHECKING, Any

import wrapt

from ..kit import Perfkit
from ._common import record_query

__all__ = ["InstrumentedConnection", "InstrumentedCursor", "instrument_connection"]

if TYPE_CHECKING:
    _Proxy = wrapt.ObjectProxy[Any]
else:
    _Proxy = wrapt.ObjectProxy  # not subscriptable at run time


def _timed(
    kit: Perfkit | None, context: Any, statement: Any, call: Any, *args: Any, **kw: Any
) -> Any:
    start = perf_counter()
    try:
        result = call(*args, **kw)
    except BaseException:
        record_query(kit, statement, perf_counter() - start, True, context)
        raise
    record_query(kit, statement, perf_counter() - start, False, context)
    return result


def _enter(proxy: Any, raw: Any) -> Any:
    enter = getattr(raw, "__enter__", None)
    if enter is None:  # e.g. sqlite3 cursors: fail as `with raw:` would
        raise TypeError(
            f"{type(raw).__name__!r} object does not support the context manager protocol"
        )
    entered = enter()
    return proxy if entered is raw else entered  # keep the caller on the proxy


class InstrumentedCursor(_Proxy):
    """A driver cursor whose statements are timed."""

    def __init__(self, cursor: Any, kit: Perfkit | None) -> None:
        super().__init__(cursor)
        self._self_kit = kit

    def execute(self, operation: Any, *args: Any, **kwargs: Any) -> Any:
        raw = self.__wrapped__
        result = _timed(self._self_kit, raw, operation, raw.execute, operation, *args, **kwargs)
        return self if result is raw else result  # keep chaining on the proxy

    def executemany(self, operation: Any, *args: Any, **kwargs: Any) -> Any:
        raw = self.__wrapped__
        result = _timed(self._self_kit, raw, operation, raw.executemany, operation, *args, **kwargs)
        return self if result is raw else result

    def callproc(self, procname: str, *args: Any, **kwargs: Any) -> Any:
        raw = self.__wrapped__
        statement = f"CALL {procname}"
        return _timed(self._self_kit, None, statement, raw.callproc, procname, *args, **kwargs)

    def __enter__(self) -> Any:
        return _enter(self, self.__wrapped__)

    def __exit__(self, *exc: Any) -> Any:
        return self.__wrapped__.__exit__(*exc)

    def __iter__(self) -> Any:
        return iter(self.__wrapped__)


class InstrumentedConnection(_Proxy):
    """A driver connection whose cursors (and execute shortcuts) are timed."""

    def __init__(self, connection: Any, kit: Perfkit | None) -> None:
        super().__init__(connection)
        self._self_kit = kit

    def cursor(self, *args: Any, **kwargs: Any) -> InstrumentedCursor:
        return InstrumentedCursor(self.__wrapped__.cursor(*args, **kwargs), self._self_kit)

    def execute(self, operation: Any, *args: Any, **kwargs: Any) -> Any:
        raw = self.__wrapped__
        result = _timed(self._self_kit, raw, operation, raw.execute, operation, *args, **kwargs)
        return self._wrap_cursor(result)

    def executemany(self, operation: Any, *args: Any, **kwargs: Any) -> Any:
        raw = self.__wrapped__
        result = _timed(self._self_kit, raw, operation, raw.executemany, operation, *args, **kwargs)
        return self._wrap_cursor(result)

    def _wrap_cursor(self, result: Any) -> Any:
        # sqlite3 and psycopg return a cursor from connection.execute(): time its later use too
        if result is not None and callable(getattr(result, "execute", None)):
            return InstrumentedCursor(result, self._self_kit)
        return result

    def __enter__(self) -> Any:
        return _enter(self, self.__wrapped__)

    def __exit__(self, *exc: Any) -> Any:
        return self.__wrapped__.__exit__(*exc)


def instrument_connection(connection: Any, kit: Perfkit | None = None) -> InstrumentedConnection:
    """Wrap a DB-API 2 connection so that its statements are recorded in `kit`.

    Args:
        connection: an open driver connection (``sqlite3.connect(...)``,
            ``psycopg.connect(...)``, ``pymysql.connect(...)``...).
        kit: where to record (default: `perfkit.get_kit()`, looked up at each statement).
    """
    if not callable(getattr(connection, "cursor", None)):
        raise TypeError(f"expected a DB-API 2 connection (with .cursor()), got {connection!r}")
    if isinstance(connection, InstrumentedConnection):
        return connection
    return InstrumentedConnection(connection, kit)
