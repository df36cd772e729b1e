"""Registry deltas as Redis operations, and Redis hashes back into a registry.

Every key lives under ``{namespace}:`` — the braces make the namespace a hash
tag, so all of perfkit's keys share one Redis Cluster slot and one Lua script
can touch them all. Numbers travel as strings so no precision is lost.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..registry import MinuteBucket, QueryStats, Registry, _Tally
from ..sketch import QuantileSketch
from ..stats import DurationStats, EndpointStats

__all__ = ["Keys", "delta_ops", "fill_stats", "text", "texts"]

SEP = "\x1f"  # separates an id from a field name inside one hash


class Keys:
    """The key names of one namespace."""

    def __init__(self, namespace: str) -> None:
        self.prefix = "{" + namespace + "}:"
        p = self.prefix
        self.seq = p + "seq"
        self.meta = p + "meta"
        self.endpoints = p + "endpoints"
        self.queries = p + "queries"
        self.calls = p + "calls"
        self.users = p + "users"
        self.organizations = p + "orgs"
        self.errors = p + "errors"
        self.query_operations = p + "qop"
        self.gauges = p + "gauges"
        self.slow = p + "slow"
        self.slow_queries = p + "slowq"
        self.request_minutes = p + "rminutes"
        self.query_minutes = p + "qminutes"
        self.user_ids = p + "userids"
        self.organization_ids = p + "orgids"

    def endpoint(self, key: str) -> str:
        return self.prefix + "ep:" + key

    def query(self, fingerprint: str) -> str:
        return self.prefix + "q:" + fingerprint

    def call(self, name: str) -> str:
        return self.prefix + "call:" + name

    def request_minute(self, minute: int) -> str:
        return f"{self.prefix}rm:{minute}"

    def query_minute(self, minute: int) -> str:
        return f"{self.prefix}qm:{minute}"


def _num(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(int(value))


class _Ops:
    """Collects operations for the flush script: (op, key, field, value[, extra])."""

    def __init__(self) -> None:
        self.items: list[list[str]] = []

    def incr(self, key: str, field: str, value: float) -> None:
        if value:
            op = "f" if isinstance(value, float) else "i"
            self.items.append([op, key, field, _num(value)])

    def high(self, key: str, field: str, value: float) -> None:
        self.items.append(["mx", key, field, _num(value)])

    def low(self, key: str, field: str, value: float) -> None:
        self.items.append(["mn", key, field, _num(value)])

    def put(self, key: str, field: str, value: str) -> None:
        self.items.append(["s", key, field, value])

    def add_member(self, key: str, member: str) -> None:
        self.items.append(["sa", key, member])

    def push(self, key: str, value: str, keep: int) -> None:
        self.items.append(["lp", key, value, str(keep)])

    def index(self, key: str, member: int) -> None:
        self.items.append(["z", key, str(member), str(member)])

    def expire(self, key: str, seconds: int) -> None:
        self.items.append(["ex", key, str(seconds)])

    def stats(self, key: str, stats: DurationStats) -> None:
        sketch = stats.sketch
        if sketch.count == 0:
            return
        self.incr(key, "c", sketch.count)
        self.incr(key, "e", stats.errors)
        self.incr(key, "sl", stats.slow)
        self.incr(key, "t", float(stats.total))
        self.incr(key, "z", sketch.zero_count)
        self.low(key, "mn", sketch.min)
        self.high(key, "mx", sketch.max)
        for index, n in sketch.bins().items():
            self.incr(key, f"k{index}", n)


def delta_ops(delta: Registry, keys: Keys, retention_seconds: int) -> list[list[str]]:
    """The operations that add `delta` to the fleet's figures in Redis."""
    ops = _Ops()
    for (method, route), stats in delta.endpoints.items():
        name = f"{method} {route}"
        key = keys.endpoint(name)
        ops.add_member(keys.endpoints, name)
        ops.stats(key, stats)
        ops.incr(key, "ce", stats.client_errors)
        ops.incr(key, "by", int(stats.bytes_sent))
        ops.incr(key, "tt", float(stats.ttfb_total))
        ops.high(key, "ls", stats.last_seen)
        for code, n in stats.statuses.items():
            ops.incr(key, f"s{code}", n)
        for i, n in enumerate(stats.buckets):
            ops.incr(key, f"h{i}", n)
    for table_key, ids_key, table in (
        (keys.users, keys.user_ids, delta.users),
        (keys.organizations, keys.organization_ids, delta.organizations),
    ):
        for ident, tally in table.items():
            ops.add_member(ids_key, ident)
            ops.incr(table_key, ident + SEP + "c", tally.count)
            ops.incr(table_key, ident + SEP + "e", tally.errors)
            ops.incr(table_key, ident + SEP + "t", float(tally.total))
            ops.high(table_key, ident + SEP + "m", tally.max)
    for error_type, n in delta.error_types.items():
        ops.incr(keys.errors, error_type, n)
    keep = delta.settings.slow_requests_kept
    for item in delta.slow_requests:
        ops.push(keys.slow, json.dumps(item, default=str), keep)
    for item in delta.slow_queries:
        ops.push(keys.slow_queries, json.dumps(item, default=str), keep)
    for index_key, key_of, minutes in (
        (keys.request_minutes, keys.request_minute, delta.request_minutes),
        (keys.query_minutes, keys.query_minute, delta.query_minutes),
    ):
        for minute, bucket in minutes.items():
            key = key_of(minute)
            ops.stats(key, bucket)
            ops.incr(key, "ce", bucket.client_errors)
            ops.index(index_key, minute)
            ops.expire(key, retention_seconds)
    for fingerprint, query in delta.queries.items():
        key = keys.query(fingerprint)
        ops.add_member(keys.queries, fingerprint)
        ops.put(key, "op", query.operation)
        ops.stats(key, query.stats)
    for operation, buckets in delta.query_operations.items():
        for i, n in enumerate(buckets):
            ops.incr(keys.query_operations, operation + SEP + f"h{i}", n)
        ops.incr(
            keys.query_operations,
            operation + SEP + "sum",
            float(delta.query_operation_sums.get(operation, 0.0)),
        )
    for name, call_stats in delta.calls.items():
        ops.add_member(keys.calls, name)
        ops.stats(keys.call(name), call_stats)
    for name, value in delta.gauges.items():
        ops.put(keys.gauges, name, _num(float(value)))
    ops.incr(keys.meta, "ws", delta.websocket_sessions)
    ops.incr(keys.meta, "dropped", delta.dropped_endpoints)
    ops.low(keys.meta, "started", delta.started_at)
    return ops.items


# ------------------------------------------------------------------ reading
def text(value: Any) -> str:
    """A Redis reply (bytes or str) as str."""
    return value.decode() if isinstance(value, bytes) else str(value)


def texts(values: Iterable[Any]) -> list[str]:
    """Several Redis replies as str."""
    return [text(v) for v in values]


def decode(raw: Mapping[Any, Any]) -> dict[str, str]:
    return {text(k): text(v) for k, v in raw.items()}


def fill_stats(target: DurationStats, fields: Mapping[str, str]) -> None:
    """Load count/errors/slow/total/min/max and the sketch bins from a hash."""
    bins = {
        int(f[1:]): int(v)
        for f, v in fields.items()
        if f[:1] == "k" and f[1:].lstrip("-").isdigit()
    }
    zero = int(fields.get("z", 0))
    target.errors = int(fields.get("e", 0))
    target.slow = int(fields.get("sl", 0))
    target.total = float(fields.get("t", 0.0))
    target.sketch = QuantileSketch.from_bins(
        bins, zero, float(fields.get("mn", 0.0)), float(fields.get("mx", 0.0))
    )


def fill_endpoint(target: EndpointStats, fields: Mapping[str, str]) -> None:
    fill_stats(target, fields)
    target.client_errors = int(fields.get("ce", 0))
    target.bytes_sent = int(float(fields.get("by", 0)))
    target.ttfb_total = float(fields.get("tt", 0.0))
    target.last_seen = float(fields.get("ls", 0.0))
    target.statuses = {
        int(f[1:]): int(v) for f, v in fields.items() if f[:1] == "s" and f[1:].isdigit()
    }
    for i in range(len(target.buckets)):
        target.buckets[i] = int(fields.get(f"h{i}", 0))


def fill_minute(minute: int, fields: Mapping[str, str]) -> MinuteBucket:
    bucket = MinuteBucket(minute)
    fill_stats(bucket, fields)
    bucket.client_errors = int(fields.get("ce", 0))
    return bucket


def fill_tallies(table: dict[str, _Tally], fields: Mapping[str, str]) -> None:
    for field, value in fields.items():
        ident, _, part = field.rpartition(SEP)
        tally = table.get(ident)
        if tally is None:
            tally = table[ident] = _Tally()
        if part == "c":
            tally.count = int(value)
        elif part == "e":
            tally.errors = int(value)
        elif part == "t":
            tally.total = float(value)
        elif part == "m":
            tally.max = float(value)


def fill_query_operations(registry: Registry, fields: Mapping[str, str]) -> None:
    size = len(registry.bucket_bounds) + 1
    for field, value in fields.items():
        operation, _, part = field.rpartition(SEP)
        if part == "sum":
            registry.query_operation_sums[operation] = float(value)
        elif part.startswith("h") and part[1:].isdigit() and int(part[1:]) < size:
            buckets = registry.query_operations.setdefault(operation, [0] * size)
            buckets[int(part[1:])] = int(value)


def recent(items: Iterable[Any]) -> list[dict[str, Any]]:
    """Slow-list entries (newest first in Redis) as dicts in time order."""
    out = []
    for raw in items:
        try:
            out.append(json.loads(text(raw)))
        except ValueError:
            continue  # a foreign value in our list: skip it, never fail the read
    out.reverse()
    return out


def query_from(fingerprint: str, fields: Mapping[str, str]) -> QueryStats:
    stats = DurationStats()
    fill_stats(stats, fields)
    return QueryStats(fingerprint, fields.get("op", "OTHER"), stats)
