"""Actionable advice from current figures: `get_recommendations(snapshot)` -> sentences."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

__all__ = ["get_recommendations", "guard_recommendations"]


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


_DEFAULT_LEVELS = {  # warning levels when the snapshot carries no thresholds
    "system.cpu_percent": 80.0, "system.memory_percent": 80.0, "system.disk_percent": 90.0,
    "requests.error_rate": 10.0, "queries.slow_rate": 15.0, "cache.hit_rate": 70.0,
}  # fmt: skip


def _level(snapshot: Mapping[str, Any], metric: str) -> float:
    """The warning level of `metric` from the snapshot's ``thresholds`` (the alert rules)."""
    rule = _get(snapshot, "thresholds", metric)
    if isinstance(rule, Mapping):
        for key in ("warning", "critical"):
            value = _num(rule.get(key))
            if value is not None:
                return value
    return _DEFAULT_LEVELS[metric]


def get_recommendations(
    snapshot: Mapping[str, Any],
    *,
    now: float | None = None,
    slow_endpoint_seconds: float = 1.0,
    slow_query_seconds: float = 0.5,
) -> list[str]:
    """Turn a kit snapshot (or the flat alert-metrics dict) into actionable sentences.

    Looks at CPU, memory and disk, the error rate, the slowest endpoints (by
    name), the slowest query fingerprints, the cache hit rate, the backups
    (none, stale, or the last run failed; `now` is the current epoch time) and
    the request guards. Levels are the alert rules' warning thresholds, as the
    snapshot's ``thresholds`` states them.
    """
    tips: list[str] = []
    cpu = _first(snapshot, ("system", "current", "cpu_percent"), ("system.cpu_percent",))
    ram = _first(snapshot, ("system", "current", "ram_percent"), ("system.memory_percent",))
    disk = _first(snapshot, ("system", "current", "disk_percent"), ("system.disk_percent",))
    if cpu is not None and cpu >= _level(snapshot, "system.cpu_percent"):
        tips.append(
            f"CPU usage is {cpu:.0f}%: profile the hottest endpoints, move heavy work to "
            "background jobs, or add CPU capacity."
        )
    if ram is not None and ram >= _level(snapshot, "system.memory_percent"):
        tips.append(
            f"Memory usage is {ram:.0f}%: look for unbounded caches or leaks, lower worker "
            "counts, or add memory."
        )
    if disk is not None and disk >= _level(snapshot, "system.disk_percent"):
        tips.append(
            f"Disk usage is {disk:.0f}%: rotate logs, prune old backups, or grow the volume."
        )
    errors = _first(snapshot, ("requests", "summary", "error_rate"), ("requests.error_rate",))
    if errors is not None and errors >= _level(snapshot, "requests.error_rate"):
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
    if slow_rate is not None and slow_rate >= _level(snapshot, "queries.slow_rate") and not slow_q:
        tips.append(f"{slow_rate:.0f}% of queries are slow: review indexes on the busiest tables.")
    hit = _first(
        snapshot, ("cache", "hit_rate"), ("cache", "stats", "hit_rate"), ("cache.hit_rate",)
    )
    requests = _first(snapshot, ("cache", "total_requests"), ("cache", "stats", "total_requests"))
    low = _level(snapshot, "cache.hit_rate")
    if hit is not None and hit < low and (requests is None or requests >= 20):
        tips.append(
            f"Cache hit rate is {hit:.0f}%: cache longer (raise TTLs) or cache the most "
            "requested keys."
        )
    backups = _get(snapshot, "backups")
    if isinstance(backups, Mapping) and "error" not in backups:
        current = now if now is not None else _epoch(snapshot.get("generated_at"))
        tips += _backup_tips(backups, current)
    tips += guard_recommendations(snapshot)
    return tips


def guard_recommendations(snapshot: Mapping[str, Any]) -> list[str]:
    """Sentences from the snapshot's ``guards`` section ("N clients hit the limit on /x")."""
    section = snapshot.get("guards")
    if not isinstance(section, Mapping):
        return []
    tips: list[str] = []
    by_endpoint = section.get("limited_clients_by_endpoint") or {}
    limited = section.get("rate_limited") or {}
    for endpoint, clients in sorted(by_endpoint.items(), key=lambda kv: -kv[1])[:3]:
        tips.append(
            f"{clients} client{'s' if clients != 1 else ''} hit the rate limit on {endpoint} "
            f"({limited.get(endpoint, 0)} requests refused): raise the limit if they are "
            "legitimate, or look for abusive clients."
        )
    too_large = section.get("too_large") or 0
    if too_large:
        tips.append(
            f"{too_large} request{'s' if too_large != 1 else ''} refused for a body above "
            f"{section.get('max_content_length')} bytes: raise max_content_length if uploads "
            "are legitimate."
        )
    return tips


def _newest_backup(backups: Mapping[str, Any]) -> tuple[bool, float | None]:
    """(whether any backup exists, epoch of the newest) from the backups section.

    ``newest_backup`` is the newest file's *name*; its time is in ``newest``
    (``timestamp``) and ``last_success``. Older callers passed a time there.
    """
    newest = backups.get("newest")
    when = _epoch(newest.get("timestamp")) if isinstance(newest, Mapping) else None
    if when is None:
        when = _epoch(backups.get("last_success"))
    named = backups.get("newest_backup")
    if when is None and named is not None and not isinstance(named, str):
        when = _epoch(named)  # a time given directly (the flat form)
    count = _num(backups.get("total_backups"))
    exists = bool(count) if count is not None else bool(named) or when is not None
    return exists or when is not None, when


def _backup_tips(backups: Mapping[str, Any], now: float | None) -> list[str]:
    exists, newest = _newest_backup(backups)
    failed = _epoch(backups.get("last_failure"))
    tips: list[str] = []
    if failed is not None and (newest is None or failed > newest):  # the news that matters
        error = str(backups.get("last_error") or "no error recorded")[:200]
        tips.append(f"The last backup failed ({error}): fix it and run one now.")
    elif not exists:
        tips.append("No database backup exists: schedule daily backups.")
    elif newest is not None and now is not None and now - newest > 24 * 3600:
        hours = (now - newest) / 3600
        tips.append(f"The newest backup is {hours:.0f} h old: check the backup schedule.")
    return tips
