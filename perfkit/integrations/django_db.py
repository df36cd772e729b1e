"""Django: query timing through ``connection.execute_wrapper``.

>>> handle = instrument_django(kit)       # every connection, every thread, from now on
>>> handle.remove()
>>> with record_queries(kit):             # only this thread's connections, only inside
...     User.objects.count()

Each statement is recorded with ``kit.record_query_performance`` (fingerprint
only, never parameters); a statement that raises is counted as an error.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterable, Iterator
from time import perf_counter
from typing import Any

from ..errors import MissingDependencyError
from ..kit import Perfkit
from ._common import record_query

__all__ = ["DjangoInstrumentation", "QueryTimer", "instrument_django", "record_queries"]


def _django() -> Any:
    try:
        import django.db
    except ImportError:
        raise MissingDependencyError("django", "django") from None
    return django.db


class QueryTimer:
    """An execute wrapper (``wrapper(execute, sql, params, many, context)``) that records."""

    def __init__(self, kit: Perfkit | None) -> None:
        self.kit = kit  # None: the default kit, looked up at each query
        self.enabled = True

    def __call__(
        self, execute: Callable[..., Any], sql: Any, params: Any, many: bool, context: Any
    ) -> Any:
        if not self.enabled:
            return execute(sql, params, many, context)
        start = perf_counter()
        try:
            result = execute(sql, params, many, context)
        except BaseException:
            record_query(self.kit, sql, perf_counter() - start, True)
            raise
        record_query(self.kit, sql, perf_counter() - start, False)
        return result


class DjangoInstrumentation:
    """A `QueryTimer` added to every connection as it connects; `remove()` ends it.

    Django keeps one connection object per thread and alias, so the timer is
    added from the ``connection_created`` signal (each thread's connection, when
    it connects) and at once to this thread's connections that already exist.
    Also a context manager (removed on exit).
    """

    def __init__(self, kit: Perfkit | None) -> None:
        self.timer = QueryTimer(kit)
        self._removed = False
        self._attached: weakref.WeakSet[Any] = weakref.WeakSet()

    def _on_connect(self, sender: Any, connection: Any, **kwargs: Any) -> None:
        self.attach(connection)

    def attach(self, connection: Any) -> None:
        """Add the timer to one Django connection (a ``BaseDatabaseWrapper``) if not there."""
        if self.timer.enabled and self.timer not in connection.execute_wrappers:
            # first in the list: the outermost wrapper, so the time covers the others too
            connection.execute_wrappers.insert(0, self.timer)
            self._attached.add(connection)

    def remove(self) -> None:
        """Stop recording, and take the timer off every connection it was added to."""
        if self._removed:
            return
        self._removed = True
        self.timer.enabled = False
        db = _django()
        from django.db.backends.signals import connection_created

        connection_created.disconnect(self._on_connect)
        # the disabled timer passes straight through should another thread be using it now
        for connection in [*self._attached, *db.connections.all(initialized_only=True)]:
            with contextlib.suppress(ValueError):
                connection.execute_wrappers.remove(self.timer)

    def __enter__(self) -> DjangoInstrumentation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def instrument_django(kit: Perfkit | None = None) -> DjangoInstrumentation:
    """Record every query of every Django database connection in `kit`.

    Call it once at start-up (e.g. in ``AppConfig.ready()`` or ``wsgi.py``).

    Args:
        kit: where to record (default: `perfkit.get_kit()`, looked up at each query).
    """
    db = _django()
    from django.db.backends.signals import connection_created

    handle = DjangoInstrumentation(kit)
    # weak=False: the handle owns the receiver; remove() disconnects it
    connection_created.connect(handle._on_connect, weak=False)
    for connection in db.connections.all(initialized_only=True):
        handle.attach(connection)
    return handle


@contextlib.contextmanager
def record_queries(
    kit: Perfkit | None = None, using: str | Iterable[str] | None = None
) -> Iterator[QueryTimer]:
    """Record the queries this thread runs inside the block (``connection.execute_wrapper``).

    Args:
        kit: where to record (default: `perfkit.get_kit()`, looked up at each query).
        using: a database alias or aliases (default: every configured alias).
    """
    db = _django()
    aliases = [using] if isinstance(using, str) else list(using or db.connections)
    timer = QueryTimer(kit)
    with contextlib.ExitStack() as stack:
        for alias in aliases:
            stack.enter_context(db.connections[alias].execute_wrapper(timer))
        yield timer
