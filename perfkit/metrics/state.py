"""The registry as plain data: serialise, rebuild and merge.

One JSON-friendly shape serves the file store (saved across restarts), the
Redis store (flattened into hashes) and the fleet view (merged registries).
Counts and sums merge exactly; sketches merge by adding bins.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Collection
from typing import Any

from ..clock import Clock
from ..config import PerfkitSettings
from .registry import MinuteBucket, QueryStats, Registry, _Tally, capped
from .routes import OTHER
from .sketch import QuantileSketch
from .stats import DurationStats, EndpointStats

__all__ = [
    "STATE_VERSION",
    "fold_into_other",
    "from_state",
    "merge_endpoint",
    "merge_into",
    "to_state",
]

STATE_VERSION = 1


def _stats_to(stats: DurationStats) -> dict[str, Any]:
    return {
        "errors": stats.errors,
        "slow": stats.slow,
        "total": stats.total,
        "sketch": stats.sketch.to_dict(),
    }


def _stats_from(target: DurationStats, data: dict[str, Any]) -> None:
    target.errors = int(data["errors"])
    target.slow = int(data["slow"])
    target.total = float(data["total"])
    target.sketch = QuantileSketch.from_dict(data["sketch"])


def _endpoint_to(stats: EndpointStats) -> dict[str, Any]:
    out = _stats_to(stats)
    out.update(
        client_errors=stats.client_errors,
        bytes_sent=stats.bytes_sent,
        ttfb_total=stats.ttfb_total,
        last_seen=stats.last_seen,
        statuses={str(k): v for k, v in stats.statuses.items()},
        buckets=list(stats.buckets),
    )
    return out


def _endpoint_from(data: dict[str, Any], bucket_count: int) -> EndpointStats:
    stats = EndpointStats(bucket_count)
    _stats_from(stats, data)
    stats.client_errors = int(data["client_errors"])
    stats.bytes_sent = int(data["bytes_sent"])
    stats.ttfb_total = float(data["ttfb_total"])
    stats.last_seen = float(data["last_seen"])
    stats.statuses = {int(k): int(v) for k, v in data["statuses"].items()}
    buckets = [int(n) for n in data["buckets"]]
    if len(buckets) != bucket_count + 1:
        raise ValueError("histogram buckets differ from the configured ones")
    stats.buckets = buckets
    return stats


def _minute_to(bucket: MinuteBucket) -> dict[str, Any]:
    out = _stats_to(bucket)
    out["client_errors"] = bucket.client_errors
    return out


def _minute_from(minute: int, data: dict[str, Any]) -> MinuteBucket:
    bucket = MinuteBucket(minute)
    _stats_from(bucket, data)
    bucket.client_errors = int(data.get("client_errors", 0))
    return bucket


def to_state(registry: Registry) -> dict[str, Any]:
    """Everything the registry aggregated, as JSON-serialisable data."""
    with registry.locked():
        return {
            "version": STATE_VERSION,
            "started_at": registry.started_at,
            "buckets": list(registry.bucket_bounds),
            "endpoints": {
                f"{m} {r}": dict(_endpoint_to(s), method=m, route=r)
                for (m, r), s in registry.endpoints.items()
            },
            "users": {k: [t.count, t.errors, t.total, t.max] for k, t in registry.users.items()},
            "organizations": {
                k: [t.count, t.errors, t.total, t.max] for k, t in registry.organizations.items()
            },
            "error_types": dict(registry.error_types),
            "slow_requests": list(registry.slow_requests),
            "request_minutes": {str(m): _minute_to(b) for m, b in registry.request_minutes.items()},
            "queries": {
                fp: dict(_stats_to(q.stats), operation=q.operation)
                for fp, q in registry.queries.items()
            },
            "query_operations": {op: list(b) for op, b in registry.query_operations.items()},
            "query_operation_sums": dict(registry.query_operation_sums),
            "slow_queries": list(registry.slow_queries),
            "query_minutes": {str(m): _minute_to(b) for m, b in registry.query_minutes.items()},
            "calls": {name: _stats_to(s) for name, s in registry.calls.items()},
            "gauges": dict(registry.gauges),
            "websocket_sessions": registry.websocket_sessions,
            "dropped_endpoints": registry.dropped_endpoints,
        }


def from_state(
    state: dict[str, Any], settings: PerfkitSettings | None = None, clock: Clock | None = None
) -> Registry:
    """A registry holding `state` (raises ValueError/KeyError/TypeError when it is malformed)."""
    if state.get("version") != STATE_VERSION:
        raise ValueError(f"unknown state version {state.get('version')!r}")
    registry = Registry(settings, clock)
    bucket_count = len(registry.bucket_bounds)
    if [float(b) for b in state["buckets"]] != list(registry.bucket_bounds):
        raise ValueError("the saved histogram buckets differ from the configured ones")
    registry.started_at = float(state["started_at"])
    for data in state["endpoints"].values():
        registry.endpoints[(str(data["method"]), str(data["route"]))] = _endpoint_from(
            data, bucket_count
        )
    for table, key in ((registry.users, "users"), (registry.organizations, "organizations")):
        for ident, (count, errors, total, high) in state[key].items():
            tally = _Tally()
            tally.count, tally.errors, tally.total, tally.max = (
                int(count),
                int(errors),
                float(total),
                float(high),
            )
            table[str(ident)] = tally
    registry.error_types = {str(k): int(v) for k, v in state["error_types"].items()}
    registry.slow_requests.extend(state["slow_requests"])
    registry.request_minutes = {
        int(m): _minute_from(int(m), d) for m, d in state["request_minutes"].items()
    }
    for fp, data in state["queries"].items():
        stats = DurationStats()
        _stats_from(stats, data)
        registry.queries[str(fp)] = QueryStats(str(fp), str(data["operation"]), stats)
    registry.query_operations = {
        str(op): [int(n) for n in b] for op, b in state["query_operations"].items()
    }
    registry.query_operation_sums = {
        str(op): float(v) for op, v in state["query_operation_sums"].items()
    }
    registry.slow_queries.extend(state["slow_queries"])
    registry.query_minutes = {
        int(m): _minute_from(int(m), d) for m, d in state["query_minutes"].items()
    }
    for name, data in state["calls"].items():
        stats = DurationStats()
        _stats_from(stats, data)
        registry.calls[str(name)] = stats
    registry.gauges = {str(k): float(v) for k, v in state["gauges"].items()}
    registry.websocket_sessions = int(state.get("websocket_sessions", 0))
    registry.dropped_endpoints = int(state.get("dropped_endpoints", 0))
    return registry


def merge_into(target: Registry, source: Registry) -> None:
    """Add `source`'s figures to `target` (exact for counts and sums; caps still apply)."""
    source.drain()
    target.drain()
    with source.locked():
        endpoints = list(source.endpoints.items())
        users = list(source.users.items())
        orgs = list(source.organizations.items())
        errors = dict(source.error_types)
        slow = list(source.slow_requests)
        request_minutes = list(source.request_minutes.items())
        queries = list(source.queries.items())
        operations = {op: list(b) for op, b in source.query_operations.items()}
        operation_sums = dict(source.query_operation_sums)
        slow_queries = list(source.slow_queries)
        query_minutes = list(source.query_minutes.items())
        calls = list(source.calls.items())
        gauges = dict(source.gauges)
        websockets = source.websocket_sessions
        dropped = source.dropped_endpoints
        started = source.started_at
    with target.locked():
        for key, stats in endpoints:
            mine = target.endpoints.get(key) or target._new_endpoint(key)
            merge_endpoint(mine, stats)
        for table, cap, items in (
            (target.users, target.settings.max_users, users),
            (target.organizations, target.settings.max_organizations, orgs),
        ):
            for ident, tally in items:
                _merge_tally(table, cap, ident, tally)
        for error_type, n in errors.items():
            if error_type not in target.error_types and len(target.error_types) >= 100:
                error_type = OTHER
            target.error_types[error_type] = target.error_types.get(error_type, 0) + n
        _merge_recent(target.slow_requests, slow)
        _merge_minutes(target.request_minutes, request_minutes)
        for fp, q in queries:
            mine_q = target.queries.get(fp)
            if mine_q is None:
                target.queries[fp] = mine_q = QueryStats(fp, q.operation, DurationStats())
            mine_q.stats.merge(q.stats)
        for op, buckets in operations.items():
            mine_b = target.query_operations.setdefault(op, [0] * len(buckets))
            for i, n in enumerate(buckets):
                mine_b[i] += n
        for op, total in operation_sums.items():
            target.query_operation_sums[op] = target.query_operation_sums.get(op, 0.0) + total
        _merge_recent(target.slow_queries, slow_queries)
        _merge_minutes(target.query_minutes, query_minutes)
        for name, call_stats in calls:
            target.calls.setdefault(name, DurationStats()).merge(call_stats)
        target.gauges.update(gauges)
        target.websocket_sessions += websockets
        target.dropped_endpoints += dropped
        target.started_at = min(target.started_at, started)


def fold_into_other(
    registry: Registry,
    endpoints: Collection[str] = (),
    queries: Collection[str] = (),
    users: Collection[str] = (),
    organizations: Collection[str] = (),
) -> None:
    """Move the named series into the ``__other__`` series of their table (exact sums)."""
    with registry.locked():
        for key in [k for k in registry.endpoints if f"{k[0]} {k[1]}" in endpoints]:
            stats = registry.endpoints.pop(key)
            other = registry.endpoints.get((key[0], OTHER))
            if other is None:
                registry.endpoints[(key[0], OTHER)] = stats
            else:
                merge_endpoint(other, stats)
        for fingerprint in [f for f in registry.queries if f in queries]:
            query = registry.queries.pop(fingerprint)
            other_q = registry.queries.get(OTHER)
            if other_q is None:
                registry.queries[OTHER] = QueryStats(OTHER, query.operation, query.stats)
            else:
                other_q.stats.merge(query.stats)
        for table, names in ((registry.users, users), (registry.organizations, organizations)):
            for ident in [i for i in table if i in names]:
                tally = table.pop(ident)
                _merge_tally(table, len(table) + 1, OTHER, tally)


def merge_endpoint(target: EndpointStats, source: EndpointStats) -> None:
    """Add one endpoint's figures to another's."""
    target.merge(source)
    target.client_errors += source.client_errors
    target.bytes_sent += source.bytes_sent
    target.ttfb_total += source.ttfb_total
    target.last_seen = max(target.last_seen, source.last_seen)
    for code, n in source.statuses.items():
        target.statuses[code] = target.statuses.get(code, 0) + n
    for i, n in enumerate(source.buckets):
        target.buckets[i] += n


def _merge_tally(table: dict[str, _Tally], cap: int, ident: str, tally: _Tally) -> None:
    mine = capped(table, ident, cap, lambda _: _Tally())
    mine.count += tally.count
    mine.errors += tally.errors
    mine.total += tally.total
    mine.max = max(mine.max, tally.max)


def _merge_minutes(target: dict[int, MinuteBucket], items: list[tuple[int, MinuteBucket]]) -> None:
    for minute, bucket in items:
        mine = target.get(minute)
        if mine is None:
            target[minute] = mine = MinuteBucket(minute)
        mine.merge(bucket)
        mine.client_errors += bucket.client_errors


def _merge_recent(target: deque[dict[str, Any]], items: list[dict[str, Any]]) -> None:
    """Keep the most recent entries of both lists, in time order, within the bound."""
    merged = sorted([*target, *items], key=lambda item: _ts(item.get("timestamp")))
    target.clear()
    target.extend(merged)  # the deque's maxlen keeps the newest


def _ts(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else 0.0
