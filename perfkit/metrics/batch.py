"""Aggregating a batch of queued request records: the registry's drain, column by column.

The drain is part of every request's cost, wherever it runs, so it does as
little Python work per record as it can:

1. one pass groups the records by series: each raw ``(method, route, path)`` is
   resolved once (method normalised, path templated, the endpoint cap applied)
   and remembered for later batches, so a record costs one dict lookup;
3. each series then adds its records column by column with C-level builtins
   (``sum``, ``min``/``max``, ``Counter``, ``map`` of ``bisect``), and the sketch
   bins are counted by ``add_indexed``;
4. the minute bucket of the batch (records of one batch nearly always share a
   minute) gets the same columns summed; batches that straddle minutes fall back
   to one pass per record for the buckets only.

The result is exactly what adding the records one by one gives (same sketch
bins, counts, status and histogram counts); only float sums may differ in the
last bits, as any change of summation order would.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from .record import RequestRecord
from .routes import normalize_method
from .sketch import ZERO_INDEX
from .stats import EndpointStats, MinuteBucket
from .tables import CappedTable

if TYPE_CHECKING:
    from .registry import Registry

__all__ = ["SlowFound", "aggregate", "new_known"]

_INF = float("inf")
_MAX_KNOWN = 8192  # raw keys remembered (cleared whole when full)
_MIN_POSITIVE = 1e-9  # QuantileSketch's: at or below it a value counts as zero

# a slow record, with its normalised method, templated route and (pseudonymised) user
SlowFound = tuple[RequestRecord, str, str, float, "str | None"]

RawKey = tuple[str, "str | None", "str | None"]


def aggregate(registry: Registry, batch: list[RequestRecord]) -> list[SlowFound]:
    """Add `batch` to the registry's tables (the caller holds its lock); returns the slow ones."""
    series: dict[EndpointStats, list[RequestRecord]] = {}
    known = registry.series_of_raw
    endpoints = registry.endpoints
    if not known.fits(endpoints):
        known = registry.series_of_raw = _Known(endpoints)
    for record in batch:
        route = record.route
        key = (record.method, route, None if route is not None else record.path)
        stats = known.get(key)
        if stats is None:
            stats = _resolve(registry, known, key)
        group = series.get(stats)
        if group is None:
            series[stats] = [record]
        else:
            group.append(record)

    threshold = registry.settings.slow_request_threshold
    columns = _Columns(registry._multiplier, registry.bucket_bounds, threshold)
    for stats, records in series.items():
        columns.add_endpoint(stats, records)
    _add_minutes(registry, batch, columns)
    _add_tallies(registry, batch)
    return _slow(registry, batch, threshold)


class _Known(dict[RawKey, EndpointStats]):
    """Raw ``(method, route, path)`` -> its series, for one endpoints table (bounded)."""

    __slots__ = ("folds", "table")

    def __init__(self, table: CappedTable[tuple[str, str], EndpointStats] | None) -> None:
        super().__init__()
        self.table = table
        self.folds = -1 if table is None else table.folds

    def fits(self, table: CappedTable[tuple[str, str], EndpointStats]) -> bool:
        """Whether these entries are still `table`'s (not replaced, folded or emptied)."""
        return (
            table is self.table
            and table.folds == self.folds
            and len(self) < _MAX_KNOWN
            and (bool(table) or not self)
        )


def new_known() -> _Known:
    """An empty map of raw keys to series (the registry keeps one)."""
    return _Known(None)


def _name(raw: RawKey, template: Callable[[str], str]) -> tuple[str, str]:
    method = normalize_method(raw[0])  # bounded: unknown methods become OTHER
    return method, (raw[1] if raw[1] is not None else template(raw[2] or "/"))


def _resolve(registry: Registry, known: _Known, raw: RawKey) -> EndpointStats:
    """The series of a raw key not seen yet: templated once, then remembered, except
    an overflowing key, so each of its records counts as dropped."""
    name = _name(raw, registry.templater.template)
    endpoints = registry.endpoints
    stats = endpoints.get(name)
    if stats is None and endpoints.full_for(name):
        registry.dropped_endpoints += 1  # counted per record that found no room
        return endpoints.entry(name)  # the shared overflow series
    if stats is None:
        stats = endpoints.entry(name)
    known[raw] = stats
    return stats


class _Columns:
    """Per-series column sums, with what the batch's minute bucket needs kept aside."""

    __slots__ = (
        "bin_of", "bucket_of", "client_errors", "durations", "errors", "indices", "multiplier",
        "slow", "threshold", "total",
    )  # fmt: skip

    def __init__(self, multiplier: float, bounds: tuple[float, ...], threshold: float) -> None:
        log, ceil = math.log, math.ceil
        self.multiplier = multiplier
        self.bin_of: Callable[[float], int] = lambda d: (
            ceil(log(d) * multiplier) if d > _MIN_POSITIVE else ZERO_INDEX
        )
        self.bucket_of = partial(bisect_left, bounds)
        self.threshold = threshold
        self.indices: list[int] = []
        self.durations: list[float] = []
        self.total = 0.0
        self.errors = 0
        self.client_errors = 0
        self.slow = 0

    def add_endpoint(self, stats: EndpointStats, records: list[RequestRecord]) -> None:
        durations = [r.duration for r in records]
        total = sum(durations)
        if not (total < _INF and min(durations) >= 0.0):  # NaN fails both tests
            # negative (a clock step), NaN or infinite: count it as 0, never poison the sums
            durations = [d if 0.0 <= d < _INF else 0.0 for d in durations]
            total = sum(durations)
        log, ceil, multiplier = math.log, math.ceil, self.multiplier
        zero, least = ZERO_INDEX, _MIN_POSITIVE
        indices = [ceil(log(d) * multiplier) if d > least else zero for d in durations]
        stats.sketch.add_indexed(indices, durations)
        stats.total += total
        buckets = stats.buckets
        for index, n in Counter(map(self.bucket_of, durations)).items():
            buckets[index] += n
        statuses = stats.statuses
        errors = client_errors = 0
        for status, n in Counter([r.status for r in records]).items():
            statuses[status] = statuses.get(status, 0) + n
            if status >= 500:
                errors += n
            elif status >= 400:
                client_errors += n
        stats.errors += errors
        stats.client_errors += client_errors
        threshold = self.threshold
        slow = len([d for d in durations if d > threshold])
        stats.slow += slow
        stats.bytes_sent += sum([r.size for r in records])
        stats.bytes_received += sum([r.request_size for r in records])
        last = max([r.timestamp or 0.0 for r in records])
        if last > stats.last_seen:
            stats.last_seen = last  # declared "max": records may come out of order
        ttfbs = [t for r in records if (t := r.ttfb) is not None]
        if ttfbs:
            ttfb_total = sum(ttfbs)
            if not (ttfb_total < _INF and min(ttfbs) >= 0.0):
                ttfb_total = sum([t for t in ttfbs if 0.0 <= t < _INF])
            stats.ttfb_total += ttfb_total
        # kept for the minute bucket
        self.indices += indices
        self.durations += durations
        self.total += total
        self.errors += errors
        self.client_errors += client_errors
        self.slow += slow


def _add_minutes(registry: Registry, batch: list[RequestRecord], columns: _Columns) -> None:
    minutes = registry.request_minutes
    stamps = [r.timestamp or 0.0 for r in batch]
    first, last = int(min(stamps) // 60), int(max(stamps) // 60)
    if first == last:
        bucket = minutes.get(first)
        if bucket is None:
            bucket = registry._new_minute(minutes, first)
        bucket.sketch.add_indexed(columns.indices, columns.durations)
        bucket.total += columns.total
        bucket.errors += columns.errors
        bucket.client_errors += columns.client_errors
        bucket.slow += columns.slow
        return
    # the batch straddles minutes (rare): bucket by bucket, in arrival order
    per_minute: dict[int, list[float]] = {}
    errors: Counter[int] = Counter()
    client_errors: Counter[int] = Counter()
    for record, stamp in zip(batch, stamps, strict=True):
        minute = int(stamp // 60)
        duration = record.duration
        per_minute.setdefault(minute, []).append(duration if 0.0 <= duration < _INF else 0.0)
        if record.status >= 500:
            errors[minute] += 1
        elif record.status >= 400:
            client_errors[minute] += 1
    threshold = columns.threshold
    for minute, durations in per_minute.items():
        bucket = minutes.get(minute)
        if bucket is None:
            bucket = registry._new_minute(minutes, minute)
        _add_to_bucket(bucket, durations, columns.bin_of)
        bucket.errors += errors[minute]
        bucket.client_errors += client_errors[minute]
        bucket.slow += len([d for d in durations if d > threshold])


def _add_to_bucket(
    bucket: MinuteBucket, durations: list[float], bin_of: Callable[[float], int]
) -> None:
    bucket.sketch.add_indexed(list(map(bin_of, durations)), durations)
    bucket.total += sum(durations)


def _add_tallies(registry: Registry, batch: list[RequestRecord]) -> None:
    """Users, organizations and error types: only the records that carry one are visited."""
    tagged = [
        r
        for r in batch
        if r.user is not None or r.organization is not None or r.error_type is not None
    ]
    if not tagged:
        return
    pseudonymise = registry._pseudonymise if registry.settings.user_id_hash_key else None
    users, organizations = registry.users, registry.organizations
    endpoint_users, template = registry.endpoint_users, registry.templater.template
    for record in tagged:
        duration = record.duration
        if not 0.0 <= duration < _INF:
            duration = 0.0
        failed = record.status >= 500
        user = record.user
        if user is not None:
            if pseudonymise is not None:
                user = pseudonymise(user)
            users.entry(user).add(duration, failed)
            route = record.route  # the endpoint's name, as its series and the slow list have it
            method, name = _name(
                (record.method, route, None if route is not None else record.path), template
            )
            endpoint_users.entry((method, name, user)).add(duration, failed)
        if record.organization is not None:
            organizations.entry(record.organization).add(duration, failed)
        if record.error_type is not None:
            registry.error_types.entry(record.error_type).n += 1


def _slow(registry: Registry, batch: list[RequestRecord], threshold: float) -> list[SlowFound]:
    """The slow records in arrival order, named as their series (users pseudonymised)."""
    slow = [r for r in batch if threshold < r.duration < _INF]
    if not slow:
        return []
    pseudonymise = registry._pseudonymise if registry.settings.user_id_hash_key else None
    template = registry.templater.template
    found: list[SlowFound] = []
    for record in slow:
        route = record.route
        method, name = _name(
            (record.method, route, None if route is not None else record.path), template
        )
        user = record.user
        if user is not None and pseudonymise is not None:
            user = pseudonymise(user)  # before anything keeps it (the slow list, logs)
        found.append((record, method, name, record.duration, user))
    return found
