"""The host store's encoding: the Redis store's delta operations, and its file read back.

Batches are the very operations the Redis store sends (`delta_ops`), so both
stores ship one protocol; `registry_from` turns what the SQLite file holds back
into a registry, table by table, with the Redis codec's field readers.
"""

from __future__ import annotations

from ...clock import Clock
from ...config import PerfkitSettings
from ..registry import Registry
from ..routes import OTHER
from ..state import fold_into_other, merge_endpoint
from ..stats import DurationStats, EndpointStats
from .codec import (
    Keys,
    fill_endpoint,
    fill_minute,
    fill_query_operations,
    fill_stats,
    fill_tallies,
    query_from,
    recent,
)
from .host_db import HostDb, Snapshot

__all__ = ["KEYS", "cap_new_names", "registry_from"]

KEYS = Keys("host")  # one host file holds one service: the prefix only keeps the Redis layout


def registry_from(snap: Snapshot, settings: PerfkitSettings, clock: Clock) -> Registry:
    """The host's figures as a registry (the reading side of `delta_ops`)."""
    k = KEYS
    now = clock.time()
    first_minute = int(now // 60) - settings.retention_hours * 60
    host = Registry(settings, clock)
    for name in sorted(snap.members.get(k.endpoints, ())):
        fields = snap.cells.get(k.endpoint(name))
        if fields:
            method, _, route = name.partition(" ")
            stats = host._new_endpoint((method, route))  # the host view caps too
            loaded = EndpointStats(len(host.bucket_bounds))
            fill_endpoint(loaded, fields)
            merge_endpoint(stats, loaded)
    for fingerprint in sorted(snap.members.get(k.queries, ())):
        fields = snap.cells.get(k.query(fingerprint))
        if fields:
            host.queries[fingerprint] = query_from(fingerprint, fields)
    for name in sorted(snap.members.get(k.calls, ())):
        fields = snap.cells.get(k.call(name))
        if fields:
            call_stats = DurationStats()
            fill_stats(call_stats, fields)
            host.calls[name] = call_stats
    for table, index, key_of in (
        (host.request_minutes, k.request_minutes, k.request_minute),
        (host.query_minutes, k.query_minutes, k.query_minute),
    ):
        for minute in sorted(int(m) for m in snap.members.get(index, ())):
            fields = snap.cells.get(key_of(minute))
            if minute >= first_minute and fields:
                table[minute] = fill_minute(minute, fields)
    fill_tallies(host.users, snap.cells.get(k.users, {}))
    fill_tallies(host.organizations, snap.cells.get(k.organizations, {}))
    host.error_types = {name: int(n) for name, n in snap.cells.get(k.errors, {}).items()}
    fill_query_operations(host, snap.cells.get(k.query_operations, {}))
    host.gauges = {name: float(v) for name, v in snap.cells.get(k.gauges, {}).items()}
    meta = snap.cells.get(k.meta, {})
    host.websocket_sessions = int(meta.get("ws", 0))
    host.dropped_endpoints = int(meta.get("dropped", 0))
    host.started_at = float(meta.get("started", now))
    # the slow lists are pushed newest first in Redis; `recent` expects that order
    host.slow_requests.extend(recent(reversed(snap.recent.get(k.slow, []))))
    host.slow_queries.extend(recent(reversed(snap.recent.get(k.slow_queries, []))))
    return host


def cap_new_names(delta: Registry, db: HostDb) -> None:
    """Hold the caps host-wide: names past a cap that the host has not seen go to ``__other__``.

    Two workers admitting new names at the same moment can overshoot a cap by
    what they admit together (as in the Redis store); it cannot grow past that.
    """
    settings = delta.settings
    groups = [
        (KEYS.endpoints, [f"{m} {r}" for m, r in delta.endpoints], settings.max_endpoints),
        (KEYS.queries, list(delta.queries), settings.max_queries),
        (KEYS.user_ids, list(delta.users), settings.max_users),
        (KEYS.organization_ids, list(delta.organizations), settings.max_organizations),
    ]
    over: list[set[str]] = []
    for key, names, cap in groups:
        if not names:
            over.append(set())
            continue
        count, known = db.names_known(key, names)
        room = max(cap - count, 0)
        rejected: set[str] = set()
        for name in names:
            if name not in known and name != OTHER:
                if room > 0:
                    room -= 1
                else:
                    rejected.add(name)
        over.append(rejected)
    if any(over):
        fold_into_other(delta, *over)
