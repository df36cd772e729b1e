"""SQLAlchemy: query timing from engine events, and connection-pool figures.

>>> handle = instrument_engine(engine, kit)   # Engine or AsyncEngine
>>> handle.remove()                            # detach every listener

Each statement is recorded with ``kit.record_query_performance`` (only its
fingerprint is kept, never parameters); a statement that raises is counted as
an error. Pool figures (``size``, ``checked_out``, ``overflow``, ``idle``)
feed ``app_database_connections{pool,state}`` and the ``db.connections``
gauge read by the DB-connections alert rule.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from time import perf_counter
from typing import Any

from ..errors import MissingDependencyError
from ..kit import Perfkit, get_kit
from ._common import record_query
from ._pools import pools_of

__all__ = ["EngineInstrumentation", "instrument_engine"]

# pool method -> state label; a pool type without the method leaves the state out
_POOL_STATES = (("size", "size"), ("overflow", "overflow"), ("checkedin", "idle"))


class EngineInstrumentation:
    """The listeners attached to one engine; `remove()` detaches them all."""

    def __init__(self, engine: Any, kit: Perfkit, name: str) -> None:
        self.engine = engine
        self.kit = kit
        # the pending start time lives in the DB-API connection's info dict, under
        # a key of our own so that two instrumentations never see each other's
        self._key = ("perfkit.query_start", id(self))
        self._lock = threading.Lock()
        self._checked_out = _initial_checked_out(engine.pool)
        self._listeners: list[tuple[str, Callable[..., Any]]] = [
            ("before_cursor_execute", self._before),
            ("after_cursor_execute", self._after),
            ("handle_error", self._error),
            ("checkout", self._checkout),
            ("checkin", self._checkin),
        ]
        self._pools = pools_of(kit)
        self.pool_name = self._pools.add(name, self.pool_figures)
        self._removed = False

    # ------------------------------------------------------------ queries
    def _before(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        conn.info[self._key] = perf_counter()

    def _after(
        self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        start = conn.info.pop(self._key, None)
        if start is not None:
            record_query(self.kit, statement, perf_counter() - start, False)

    def _error(self, ctx: Any) -> None:
        try:
            conn = ctx.connection
            start = conn.info.pop(self._key, None) if conn is not None else None
        except Exception:
            start = None  # an invalidated connection has no info any more
        statement = ctx.statement
        if statement is None:
            return  # not a statement failure (e.g. connecting)
        duration = perf_counter() - start if start is not None else 0.0
        record_query(self.kit, statement, duration, True)

    # -------------------------------------------------------------- pool
    def _checkout(self, dbapi_conn: Any, record: Any, proxy: Any) -> None:
        with self._lock:
            self._checked_out += 1
        self._publish()

    def _checkin(self, dbapi_conn: Any, record: Any) -> None:
        with self._lock:
            self._checked_out = max(self._checked_out - 1, 0)
        self._publish()

    def _publish(self) -> None:
        try:
            self._pools.publish()
        except Exception as exc:
            self.kit.errors.report("db.connections gauge", exc)

    def pool_figures(self) -> dict[str, float]:
        """``{state: value}`` for this engine's pool, right now."""
        pool = self.engine.pool
        figures = {"checked_out": float(self._checked_out)}
        for method, state in _POOL_STATES:
            fn = getattr(pool, method, None)
            if callable(fn):
                # QueuePool.overflow() is negative while the pool has spare room
                figures[state] = max(float(fn()), 0.0)
        return figures

    def remove(self) -> None:
        """Detach every listener and stop reporting this pool; safe to call twice."""
        from sqlalchemy import event

        if self._removed:
            return
        self._removed = True
        for name, fn in self._listeners:
            if event.contains(self.engine, name, fn):
                event.remove(self.engine, name, fn)
        self._pools.discard(self.pool_name)


def _initial_checked_out(pool: Any) -> int:
    fn = getattr(pool, "checkedout", None)
    return int(fn()) if callable(fn) else 0


def instrument_engine(
    engine: Any, kit: Perfkit | None = None, *, name: str | None = None
) -> EngineInstrumentation:
    """Time every statement `engine` runs and report its pool figures to `kit`.

    Args:
        engine: a SQLAlchemy ``Engine`` or ``AsyncEngine``.
        kit: where to record (`perfkit.get_kit()` when omitted).
        name: the ``pool`` label (default: backend and database, e.g. ``sqlite:app.db``).
    """
    try:
        from sqlalchemy import event
    except ImportError:
        raise MissingDependencyError("sqlalchemy", "sqlalchemy") from None
    sync_engine = getattr(engine, "sync_engine", engine)  # AsyncEngine wraps an Engine
    url = getattr(sync_engine, "url", None)
    if url is None or not hasattr(sync_engine, "pool"):
        raise TypeError(f"expected a SQLAlchemy Engine or AsyncEngine, got {engine!r}")
    if name is None:
        name = f"{url.get_backend_name()}:{url.database or ''}"
    handle = EngineInstrumentation(sync_engine, kit if kit is not None else get_kit(), name)
    for event_name, fn in handle._listeners:
        event.listen(sync_engine, event_name, fn)
    handle._publish()
    return handle
