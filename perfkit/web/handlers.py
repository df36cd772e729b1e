"""Handlers for the kit's own data: health, metrics, snapshot, requests, queries, config."""

from __future__ import annotations

from typing import Any

from .._version import __version__
from ..errors import ConfigError
from ..metrics.snapshot import (
    endpoint_users,
    iso,
    performance_summary,
    queries_section,
    requests_section,
)
from .context import ApiResponse, Ctx, json_response
from .router import ApiError, Param

__all__ = ["HOURS", "LIMIT", "RUNTIME_SETTINGS", "window_hours"]

HOURS = Param("hours", "int", 24, 1, 720, description="window in hours")
LIMIT = Param("limit", "int", 50, 1, 1000, description="how many items")

# settings that may change while the service runs (POST /api/config)
RUNTIME_SETTINGS = (
    "slow_request_threshold",
    "slow_query_threshold",
    "alert_cpu_threshold",
    "alert_memory_threshold",
    "alert_disk_threshold",
    "alert_cpu_critical",
    "alert_memory_critical",
    "alert_disk_critical",
    "alert_request_seconds",
    "max_alerts_per_hour",
    "monitoring_interval",
    "metrics_public",
    "api_rate_limit",
    "log_requests",
    "log_request_sample_rate",
)


def health(ctx: Ctx) -> ApiResponse:
    report = ctx.kit.health()
    return json_response(503 if report.get("status") == "critical" else 200, report)


def live(ctx: Ctx) -> dict[str, Any]:
    return {"status": "healthy", "timestamp": iso(ctx.kit.clock.time()), "version": __version__}


def ready(ctx: Ctx) -> ApiResponse:
    report = ctx.kit.ready()
    return json_response(503 if report.get("status") == "critical" else 200, report)


def metrics(ctx: Ctx) -> ApiResponse:
    content_type, body = ctx.kit.render_metrics(ctx.request.headers.get("accept"))
    return ApiResponse(200, content_type, body)


def access(ctx: Ctx) -> dict[str, Any]:
    """The caller's role, so the dashboard shows admin controls only to who may use them."""
    from .auth import check_access

    grant = ctx.grant
    may_change = grant is not None and grant.role == "admin"
    if not may_change:
        try:
            check_access(ctx.request, "admin", ctx.kit.settings, ctx.kit.authorize)
            may_change = True
        except ApiError:
            may_change = False
    return {
        "role": "admin" if may_change else "read",
        "via": grant.via if grant is not None else None,
        "admin": may_change,
    }


def snapshot(ctx: Ctx) -> dict[str, Any]:
    return ctx.kit.snapshot()


def window_hours(ctx: Ctx) -> int:
    hours: int = ctx.query["hours"]
    limit = ctx.kit.settings.retention_hours
    if hours > limit:
        raise ApiError(
            400,
            "bad_parameter",
            f"hours={hours}: expected an integer in 1..{limit} (retention_hours)",
        )
    return hours


def requests_summary(ctx: Ctx) -> dict[str, Any]:
    return performance_summary(ctx.kit.view(), window_hours(ctx))


def requests_endpoints(ctx: Ctx) -> dict[str, Any]:
    rows = requests_section(ctx.kit.view())["endpoints"]
    sort = ctx.query["sort"]
    rows.sort(key=lambda row: row[sort] if row[sort] is not None else -1, reverse=True)
    return {"endpoints": rows[: ctx.query["limit"]], "total": len(rows)}


def requests_endpoint(ctx: Ctx) -> dict[str, Any]:
    key = ctx.args["key"]
    view = ctx.kit.view()
    for row in requests_section(view)["endpoints"]:
        if row["key"] == key:
            # its top users (pseudonymised when user_id_hash_key is set), as the drill-down shows
            return dict(row, users=endpoint_users(view, row["method"], row["endpoint"]))
    raise ApiError(404, "not_found", f"no endpoint {key!r} (keys look like 'GET /users/{{id}}')")


def requests_slow(ctx: Ctx) -> dict[str, Any]:
    slow = requests_section(ctx.kit.view())["slow"]
    return {"slow_requests": slow[-ctx.query["limit"] :][::-1]}


def requests_trends(ctx: Ctx) -> dict[str, Any]:
    return {"trends": requests_section(ctx.kit.view(), window_hours(ctx))["trends"]}


def queries_summary(ctx: Ctx) -> dict[str, Any]:
    section = queries_section(ctx.kit.view(), window_hours(ctx))
    return {
        "summary": section["summary"],
        "fingerprints": section["fingerprints"][:50],
        "calls": section["calls"][:50],
        "organizations": section["organizations"][:50],
    }


def queries_slow(ctx: Ctx) -> dict[str, Any]:
    slow = queries_section(ctx.kit.view())["slow"]
    return {"slow_queries": slow[-ctx.query["limit"] :][::-1]}


def config_get(ctx: Ctx) -> dict[str, Any]:
    return {"settings": ctx.kit.settings.to_dict(), "runtime_changeable": list(RUNTIME_SETTINGS)}


def config_post(ctx: Ctx) -> dict[str, Any]:
    changes = ctx.json_object()
    if not changes:
        raise ApiError(400, "bad_request", "send at least one setting to change")
    fixed = sorted(set(changes) - set(RUNTIME_SETTINGS))
    if fixed:
        raise ApiError(
            400,
            "bad_setting",
            f"{fixed[0]!r} cannot change at run time; changeable: {', '.join(RUNTIME_SETTINGS)}",
        )
    try:
        ctx.kit.update_settings(**changes)
    except (ConfigError, TypeError, ValueError) as exc:
        raise ApiError(400, "bad_setting", str(exc)) from None
    ctx.kit.audit("config_change", "update", "settings", changes, ctx.request.client)
    return config_get(ctx)


def maintenance(ctx: Ctx) -> dict[str, Any]:
    body = ctx.json_object()
    action = body.get("action")
    done: Any
    if action == "reset-counters":
        ctx.kit.reset()
        done = "counters reset"
    elif action == "cleanup":
        done = ctx.kit.cleanup()
    else:
        raise ApiError(
            400, "bad_action", f"action={action!r}: expected 'cleanup' or 'reset-counters'"
        )
    ctx.kit.audit("maintenance", str(action), "perfkit", None, ctx.request.client)
    return {"action": action, "result": done}
