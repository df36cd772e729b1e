"""The metrics registry: thread-safe, bounded aggregation of requests, queries and calls."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import logging
import threading
from bisect import bisect_left
from collections import deque
from typing import Any

from .._forks import after_fork_in_child
from ..clock import Clock, SystemClock
from ..config import PerfkitSettings
from .batch import aggregate, new_known
from .record import RequestRecord
from .routes import OTHER, RouteTemplater
from .sketch import QuantileSketch
from .sql import fingerprint_sql
from .stats import (
    Count,
    DurationStats,
    EndpointStats,
    MinuteBucket,
    OperationStats,
    QueryStats,
    QueryTally,
    Tally,
)
from .tables import SCALARS, TABLES, CappedTable

__all__ = ["MinuteBucket", "QueryStats", "Registry"]

_log = logging.getLogger("perfkit.requests")

_INF = float("inf")


def _sane(duration: float) -> float:
    """A duration fit to aggregate: negative (clock steps), NaN and infinite become 0."""
    return duration if 0.0 <= duration < _INF else 0.0


class Registry:
    """Aggregates everything the middleware and decorators record.

    Every collection is bounded: endpoints (`max_endpoints`), users and
    organizations, query fingerprints, error types and the slow lists overflow
    into one ``__other__`` entry or drop their oldest item; per-minute trend
    buckets are kept for `retention_hours`.
    """

    def __init__(self, settings: PerfkitSettings | None = None, clock: Clock | None = None) -> None:
        self.settings = settings or PerfkitSettings()
        self.clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._hash_cache: dict[str, str] = {}
        self._pending: deque[RequestRecord] = deque()
        self.drain_at = 512
        self.templater = RouteTemplater(self.settings.max_path_length)
        self.series_of_raw = new_known()  # raw (method, route, path) -> series, for the drain
        self._multiplier = QuantileSketch()._multiplier  # every sketch here has this accuracy
        self.drained = 0
        self._begun = itertools.count()
        self._ended = itertools.count()
        # the counters' own C methods: no Python frame on the request path (twice a request)
        self.begin_request = self._begun.__next__  # type: ignore[method-assign,assignment]
        self.end_request = self._ended.__next__  # type: ignore[method-assign,assignment]
        self._reads = 0
        self._counter_lock = threading.Lock()
        self.in_progress_override: int | None = None
        self.reset()
        after_fork_in_child(self, "_after_fork")

    def _after_fork(self) -> None:
        """A forked child: new locks (a parent thread may have held them while forking)."""
        self._lock = threading.Lock()
        self._counter_lock = threading.Lock()
        self.templater._lock = threading.Lock()

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Forget every figure (counters start from zero again)."""
        self._pending.clear()
        with self._lock:
            self.started_at = self.clock.time()
            self.gauges: dict[str, float] = {}
            self._new_tables()

    def _new_tables(self) -> None:
        """Fresh aggregation tables, as `TABLES` declares them (the caller holds the lock)."""
        self.bucket_bounds: tuple[float, ...] = self.settings.histogram_buckets
        for declared in TABLES:
            setattr(self, declared.name, declared.empty(self))
        for field in SCALARS:
            if field.kind == "sum":
                setattr(self, field.attr, field.type())

    # the tables (built by `_new_tables` from `TABLES`)
    endpoints: CappedTable[tuple[str, str], EndpointStats]
    users: CappedTable[str, Tally]
    endpoint_users: CappedTable[tuple[str, str, str], Tally]
    organizations: CappedTable[str, Tally]
    error_types: CappedTable[str, Count]
    slow_requests: deque[dict[str, Any]]
    request_minutes: dict[int, MinuteBucket]
    queries: CappedTable[str, QueryStats]
    query_organizations: CappedTable[str, QueryTally]
    query_operations: dict[str, OperationStats]
    slow_queries: deque[dict[str, Any]]
    query_minutes: dict[int, MinuteBucket]
    calls: CappedTable[str, DurationStats]
    websocket_sessions: int
    dropped_endpoints: int

    def take_delta(self) -> Registry:
        """Hand over everything aggregated so far and start the tables afresh.

        Used by stores that ship deltas: the returned registry holds the
        tables, this one continues empty. Gauges are values, not deltas, so
        they stay (and are copied).
        """
        self.drain()
        delta = Registry(self.settings, self.clock)
        with self._lock:
            for declared in TABLES:
                setattr(delta, declared.name, getattr(self, declared.name))
            for field in SCALARS:
                setattr(delta, field.attr, getattr(self, field.attr))
            delta.gauges = dict(self.gauges)
            self._new_tables()
        return delta

    def is_empty(self) -> bool:
        """Nothing aggregated (gauges aside: they are values, not deltas)."""
        self.drain()
        with self._lock:
            return not any(getattr(self, t.name) for t in TABLES) and not any(
                getattr(self, f.attr) for f in SCALARS if f.kind == "sum"
            )

    # ------------------------------------------------------------- requests
    def begin_request(self) -> None:
        next(self._begun)  # next() on itertools.count is atomic: no lock on the request path

    def end_request(self) -> None:
        next(self._ended)

    @property
    def in_progress(self) -> int:
        """Requests begun and not yet ended (for a fleet view: summed over live workers)."""
        if self.in_progress_override is not None:
            return self.in_progress_override
        with self._counter_lock:
            # each read consumes one step of both counters; `_reads` corrects for it
            begun = next(self._begun) - self._reads
            ended = next(self._ended) - self._reads
            self._reads += 1
        return max(begun - ended, 0)

    def record_request(self, record: RequestRecord) -> None:
        """Queue one finished request (stamped now when it has no timestamp).

        The request path only queues the record (a deque append); aggregation
        happens in batches in `drain()`, which readers call first and which
        runs inline only when the queue is full.
        """
        if record.timestamp is None:
            record.timestamp = self.clock.time()
        pending = self._pending
        pending.append(record)
        if len(pending) >= self.drain_at:
            self.drain()

    def drain(self) -> int:
        """Aggregate every queued request record; returns how many it took.

        The batch is aggregated column by column (see `perfkit.metrics.batch`).
        """
        pending = self._pending
        if not pending:
            return 0
        with self._lock:
            popleft = pending.popleft
            # only a drain pops (under the lock), so these records are all there;
            # whatever the request path appends meanwhile waits for the next drain
            batch = [popleft() for _ in range(len(pending))]
            if not batch:
                return 0
            slow_found = aggregate(self, batch)
            self.drained += len(batch)
        for record, method, route, duration, user in slow_found:
            self._keep_slow_request(record, method, route, duration, user)
        return len(batch)

    def _new_endpoint(self, key: tuple[str, str]) -> EndpointStats:
        if self.endpoints.full_for(key):
            self.dropped_endpoints += 1  # counted per record that found no room
        return self.endpoints.entry(key)

    def _new_minute(self, minutes: dict[int, MinuteBucket], minute: int) -> MinuteBucket:
        horizon = minute - self.settings.retention_hours * 60
        for old in [m for m in minutes if m <= horizon]:
            del minutes[old]
        bucket = MinuteBucket(minute)
        minutes[minute] = bucket
        return bucket

    def _keep_slow_request(
        self, record: RequestRecord, method: str, route: str, duration: float, user: str | None
    ) -> None:
        """Keep a slow request (method normalised, route templated, user pseudonymised)."""
        path = record.path if record.path is not None else route
        entry = {
            "timestamp": record.timestamp,
            "method": method,
            "endpoint": route,
            "path": path,
            "status": record.status,
            "duration": duration,
            "user_id": user,
            "organization_id": record.organization,
            "request_id": record.request_id,
            "error_type": record.error_type,
            "bytes_sent": record.size,
        }
        self.slow_requests.append(entry)  # deque.append is atomic; maxlen bounds it
        _log.warning(
            "slow request: %s %s took %.3f s (status %d)",
            method,
            path,
            duration,
            record.status,
            extra={"perfkit_slow_request": entry},
        )

    def _pseudonymise(self, user: str) -> str:
        key = self.settings.user_id_hash_key
        if key is None:
            return user
        cached = self._hash_cache.get(user)
        if cached is None:
            digest = hmac.new(key.encode(), user.encode(), hashlib.sha256).hexdigest()
            cached = "u_" + digest[:16]
            if len(self._hash_cache) >= 10_000:
                self._hash_cache.clear()
            self._hash_cache[user] = cached
        return cached

    # -------------------------------------------------------------- queries
    def record_query(
        self,
        query: str,
        duration: float,
        error: bool = False,
        organization: str | None = None,
        labels: dict[str, Any] | None = None,
        slow_threshold: float | None = None,
    ) -> None:
        """Record one query; only its fingerprint is kept, never parameter values."""
        now = self.clock.time()
        duration = _sane(duration)
        fingerprint, operation = fingerprint_sql(query)
        threshold = self.settings.slow_query_threshold if slow_threshold is None else slow_threshold
        slow = duration > threshold
        with self._lock:
            if self.queries.full_for(fingerprint):
                fingerprint = OTHER
            entry = self.queries.entry(fingerprint)
            if not entry.operation:
                entry.operation = operation
            entry.add(duration, error, slow)
            ops = self.query_operations.get(operation)
            if ops is None:
                ops = self.query_operations[operation] = OperationStats(len(self.bucket_bounds))
            ops.buckets[bisect_left(self.bucket_bounds, duration)] += 1
            ops.total += duration
            minute = int(now // 60)
            bucket = self.query_minutes.get(minute)
            if bucket is None:
                bucket = self._new_minute(self.query_minutes, minute)
            bucket.add(duration, error, slow)
            if organization is not None:
                self.query_organizations.entry(organization).add(duration, error, slow)
        if slow:
            self.slow_queries.append(
                {
                    "timestamp": now,
                    "fingerprint": fingerprint,
                    "operation": operation,
                    "duration": duration,
                    "organization_id": organization,
                    "labels": _plain(labels) if labels else {},
                }
            )

    # ---------------------------------------------------------------- calls
    def record_call(
        self, name: str, duration: float, error: bool = False, slow_threshold: float | None = None
    ) -> None:
        """Record one call of a monitored function (outbound API calls and the like)."""
        duration = _sane(duration)
        with self._lock:
            stats = self.calls.entry(name)
            threshold = (
                self.settings.slow_request_threshold if slow_threshold is None else slow_threshold
            )
            stats.add(duration, error, duration > threshold)

    def set_gauge(self, name: str, value: float) -> None:
        with self._lock:
            self.gauges[name] = float(value)

    # ------------------------------------------------------------- reading
    def locked(self) -> _Locked:
        """Drain queued records, then hold the lock while reading several tables."""
        self.drain()
        return _Locked(self._lock)

    def prune(self) -> dict[str, int]:
        """Drop minute buckets past retention now; returns how many went."""
        horizon = int(self.clock.time() // 60) - self.settings.retention_hours * 60
        dropped = 0
        with self._lock:
            for minutes in (self.request_minutes, self.query_minutes):
                for old in [m for m in minutes if m <= horizon]:
                    del minutes[old]
                    dropped += 1
        return {"minute_buckets_dropped": dropped}

    def window(
        self, minutes: dict[int, MinuteBucket], hours: float
    ) -> tuple[DurationStats, int, list[MinuteBucket]]:
        """Merge the minute buckets of the last `hours`; caller holds the lock."""
        now_minute = int(self.clock.time() // 60)
        first = now_minute - int(hours * 60) + 1
        merged = DurationStats()
        client_errors = 0
        kept = []
        for minute in sorted(minutes):
            if minute >= first:
                bucket = minutes[minute]
                merged.merge(bucket)
                client_errors += bucket.client_errors
                kept.append(bucket)
        return merged, client_errors, kept


def _plain(labels: dict[str, Any]) -> dict[str, Any]:
    """Labels as JSON-safe values: anything else is kept as its text."""
    safe = (str, int, float, bool, type(None))
    return {str(k): v if isinstance(v, safe) else str(v) for k, v in labels.items()}


def _extend(
    table: dict[DurationStats, tuple[list[int], list[float]]],
    target: DurationStats,
    indices: list[int],
    values: list[float],
) -> None:
    pair = table.get(target)
    if pair is None:
        table[target] = (indices, values)
    else:
        pair[0].extend(indices)
        pair[1].extend(values)


class _Locked:
    __slots__ = ("_lock",)

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
