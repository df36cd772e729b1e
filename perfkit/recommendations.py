"""Actionable advice from current figures: `get_recommendations(snapshot)` -> sentences."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

__all__ = ["get_recommendations"]


def _get(data: Mapping[str, Any], *path: str) -> Any:
    node: Any = data
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _first(data: Mapping[str, Any], *paths: tuple[str, ...]) -> float | None:
    for path in paths:
        value = _num(_get(data, *path))
        if value is not None:
            return value
    return None


def _epoch(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return _num(value)


def get_recommendations(
    snapshot: Mapping[str, Any],
    *,
    now: float | None = None,
    slow_endpoint_seconds: float = 1.0,
    slow_query_seconds: float = 0.5,
) -> list[str]:
    """Turn a kit snapshot (or the flat alert-metrics dict) into actionable sentences.

    Looks at CPU, memory and disk, the error rate, the slowest endpoints (by
    name), the slowest query fingerprints, the cache hit rate and the age of
    the newest backup (`now` is the current epoch time for that comparison).
    """
    tips: list[str] = []
    cpu = _first(snapshot, ("system", "current", "cpu_percent"), ("system.cpu_percent",))
    ram = _first(snapshot, ("system", "current", "ram_percent"), ("system.memory_percent",))
    disk = _first(snapshot, ("system", "current", "disk_percent"), ("system.disk_percent",))
    if cpu is not None and cpu >= 80:
        tips.append(
            f"CPU usage is {cpu:.0f}%: profile the hottest endpoints, move heavy work to "
            "background jobs, or add CPU capacity."
        )
    if ram is not None and ram >= 80:
        tips.append(
            f"Memory usage is {ram:.0f}%: look for unbounded caches or leaks, lower worker "
            "counts, or add memory."
        )
    if disk is not None and disk >= 85:
        tips.append(
            f"Disk usage is {disk:.0f}%: rotate logs, prune old backups, or grow the volume."
        )
    errors = _first(snapshot, ("requests", "summary", "error_rate"), ("requests.error_rate",))
    if errors is not None and errors >= 5:
        tips.append(
            f"{errors:.1f}% of requests fail: check the error log and the most failing endpoints."
        )
    slowest = _get(snapshot, "requests", "slowest_endpoints") or []
    slow = [e for e in slowest if (_num(e.get("p95")) or 0) >= slow_endpoint_seconds][:3]
    if slow:
        names = ", ".join(f"{e.get('key', e.get('endpoint'))} (p95 {e['p95']:.2f} s)" for e in slow)
        tips.append(f"Slow endpoints: {names}; add caching or optimise their queries.")
    fingerprints = _get(snapshot, "queries", "fingerprints") or []
    slow_q = [q for q in fingerprints if (_num(q.get("p95")) or 0) >= slow_query_seconds][:3]
    for q in slow_q:
        tips.append(
            f"Slow query (p95 {q['p95']:.2f} s, {q.get('count', 0)} calls): "
            f"{str(q.get('fingerprint'))[:120]}; add an index or cache its result."
        )
    slow_rate = _first(snapshot, ("queries", "summary", "slow_rate"), ("queries.slow_rate",))
    if slow_rate is not None and slow_rate >= 15 and not slow_q:
        tips.append(f"{slow_rate:.0f}% of queries are slow: review indexes on the busiest tables.")
    hit = _first(
        snapshot, ("cache", "hit_rate"), ("cache", "stats", "hit_rate"), ("cache.hit_rate",)
    )
    requests = _first(snapshot, ("cache", "total_requests"), ("cache", "stats", "total_requests"))
    if hit is not None and hit < 70 and (requests is None or requests >= 20):
        tips.append(
            f"Cache hit rate is {hit:.0f}%: cache longer (raise TTLs) or cache the most "
            "requested keys."
        )
    backups = _get(snapshot, "backups")
    if isinstance(backups, Mapping):
        newest = _epoch(_get(backups, "newest_backup") or _get(backups, "stats", "newest_backup"))
        current = now if now is not None else _epoch(snapshot.get("generated_at"))
        if newest is None:
            tips.append("No database backup exists: schedule daily backups.")
        elif current is not None and current - newest > 24 * 3600:
            hours = (current - newest) / 3600
            tips.append(f"The newest backup is {hours:.0f} h old: check the backup schedule.")
    from .guards import guard_recommendations  # "N clients hit the limit on /x"

    tips += guard_recommendations(dict(snapshot))
    return tips
