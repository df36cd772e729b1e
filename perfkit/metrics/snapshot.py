"""Read models of the registry: the snapshot sections and the windowed summary.

Everything returned here is plain JSON-serialisable data; durations are seconds.
"""

from __future__ import annotations

from typing import Any

from .._time import iso
from .registry import Registry
from .stats import DurationStats, EndpointStats, MinuteBucket

__all__ = [
    "endpoint_users",
    "iso",
    "performance_summary",
    "queries_section",
    "requests_section",
]

_TOP_N = 10


def endpoint_dict(method: str, route: str, stats: EndpointStats) -> dict[str, Any]:
    """One endpoint's row: identity, the statistics block, every declared field it shows
    (`EndpointStats.FIELDS`), status codes and the derived figures."""
    row: dict[str, Any] = {"key": f"{method} {route}", "method": method, "endpoint": route}
    row.update(stats.summary())
    row.update(stats.shown())
    row["statuses"] = {str(code): n for code, n in sorted(stats.statuses.items())}
    row["avg_ttfb"] = stats.ttfb_total / stats.count if stats.count else None
    row["avg_request_bytes"] = stats.bytes_received / stats.count if stats.count else None
    row["last_seen"] = iso(stats.last_seen) if stats.last_seen else None
    return row


def _trend_row(bucket: MinuteBucket) -> dict[str, Any]:
    row: dict[str, Any] = {"minute": iso(bucket.minute * 60), "timestamp": bucket.minute * 60}
    row.update(bucket.summary())
    row.update(bucket.shown())
    return row


def requests_section(registry: Registry, hours: float | None = None) -> dict[str, Any]:
    """Requests: totals, endpoints, users, organizations, slow list, errors and trends."""
    with registry.locked():
        window_hours = hours if hours is not None else registry.settings.retention_hours
        merged, client_errors, buckets = registry.window(registry.request_minutes, window_hours)
        endpoints = [endpoint_dict(m, r, s) for (m, r), s in registry.endpoints.items()]
        users = [t.to_dict(k) for k, t in registry.users.items()]
        orgs = [t.to_dict(k) for k, t in registry.organizations.items()]
        errors = {name: count.n for name, count in registry.error_types.items()}
        in_progress = registry.in_progress
        trends = [_trend_row(b) for b in buckets]
        now = registry.clock.time()
        elapsed = max(now - registry.started_at, 1.0)
        # the buckets cover whole minutes from the first one in the window up to now
        first_minute = int(now // 60) - int(window_hours * 60) + 1
        covered = max(now - first_minute * 60, 1.0)
        dropped = registry.dropped_endpoints
        websockets = registry.websocket_sessions
    slow = list(registry.slow_requests)
    summary = merged.summary()
    seconds = min(covered, elapsed)
    summary.update(
        client_errors=client_errors,
        slow=merged.slow,
        rate=merged.count / seconds,
        in_progress=in_progress,
        window_hours=window_hours,  # what the figures cover (the dashboard names it)
    )
    endpoints.sort(key=lambda row: row["count"], reverse=True)
    return {
        "summary": summary,
        "endpoints": endpoints,
        "slowest_endpoints": sorted(
            (e for e in endpoints if e["p95"] is not None), key=lambda e: e["p95"], reverse=True
        )[:_TOP_N],
        "users": sorted(users, key=lambda row: row["count"], reverse=True),
        "organizations": sorted(orgs, key=lambda row: row["count"], reverse=True),
        "errors": errors,
        "slow": [dict(item, timestamp=iso(item["timestamp"])) for item in slow],
        "trends": trends,
        "overflow": {"endpoints_dropped": dropped},
        "websocket_sessions": websockets,
    }


def endpoint_users(
    registry: Registry, method: str, route: str, limit: int = 10
) -> list[dict[str, Any]]:
    """The users of one endpoint, most requests first (its drill-down's top users)."""
    with registry.locked():
        rows = [
            tally.to_dict(user)
            for (m, r, user), tally in registry.endpoint_users.items()
            if m == method and r == route
        ]
    rows.sort(key=lambda row: (-row["count"], row["id"]))
    return rows[:limit]


def queries_section(registry: Registry, hours: float | None = None) -> dict[str, Any]:
    """Queries: totals, per fingerprint, per organization, slow list and trends."""
    with registry.locked():
        window_hours = hours if hours is not None else registry.settings.retention_hours
        merged, _, buckets = registry.window(registry.query_minutes, window_hours)
        rows = []
        for fingerprint, q in registry.queries.items():
            row: dict[str, Any] = {"fingerprint": fingerprint, "operation": q.operation}
            row.update(q.summary())
            row.update(q.shown())
            row["total_time"] = q.total
            rows.append(row)
        trends = [_trend_row(b) for b in buckets]
        calls = [_call_row(name, stats) for name, stats in registry.calls.items()]
        orgs = [t.to_dict(k) for k, t in registry.query_organizations.items()]
    summary = merged.summary()
    summary["slow"] = merged.slow
    summary["slow_rate"] = round(100.0 * merged.slow / merged.count, 4) if merged.count else 0.0
    rows.sort(key=lambda row: row["total_time"], reverse=True)
    return {
        "summary": summary,
        "fingerprints": rows,
        "slow": [dict(item, timestamp=iso(item["timestamp"])) for item in registry.slow_queries],
        "trends": trends,
        "calls": sorted(calls, key=lambda row: row["count"], reverse=True),
        "organizations": sorted(orgs, key=lambda row: row["total_time"], reverse=True),
    }


def _call_row(name: str, stats: DurationStats) -> dict[str, Any]:
    row: dict[str, Any] = {"name": name}
    row.update(stats.summary())
    return row


def performance_summary(registry: Registry, hours: float = 24) -> dict[str, Any]:
    """`kit.get_performance_summary(hours)`: window totals plus top tables."""
    requests = requests_section(registry, hours)
    queries = queries_section(registry, hours)
    return {
        "period_hours": hours,
        "generated_at": iso(registry.clock.time()),
        "requests": requests["summary"],
        "queries": queries["summary"],
        "top_endpoints": requests["endpoints"][:_TOP_N],
        "slowest_endpoints": requests["slowest_endpoints"],
        "top_queries": queries["fingerprints"][:_TOP_N],
        "users": requests["users"][:_TOP_N],
        "organizations": requests["organizations"][:_TOP_N],
        "errors": requests["errors"],
        "trends": {"requests": requests["trends"], "queries": queries["trends"]},
    }
