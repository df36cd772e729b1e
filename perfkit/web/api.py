"""The HTTP API under the prefix, as a sans-IO handler: `ApiRequest` in, `ApiResponse` out.

The WSGI and ASGI adapters (`perfkit.web.serving`) only translate to and from
these two values. The route table below is also the source of the OpenAPI
document, so the two cannot drift apart.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from . import handlers as core
from . import handlers_parts as parts
from . import schemas
from .audit import audit_access
from .auth import Grant, check_access
from .context import MAX_BODY, ApiRequest, ApiResponse, Ctx, error_response, json_response
from .dashboard import asset, dashboard
from .host import ServedKit
from .router import ApiError, Param, Route, RouteTable

__all__ = ["ApiRequest", "ApiResponse", "build_routes", "handle", "json_response"]

_SEVERITY = Param(
    "severity",
    "str",
    None,
    choices=("info", "warning", "critical"),
    description="only this severity",
)
_SORT = Param(
    "sort", "str", "count", choices=("count", "errors", "error_rate", "avg", "p95", "p99", "max")
)
_ASSET_TYPES = "text/javascript, text/css, image/svg+xml, image/png, image/x-icon"


@lru_cache(maxsize=1)
def build_routes() -> RouteTable:
    """The API's routes, in match order."""
    table = RouteTable()
    add = table.add
    add(
        Route(
            "GET",
            "/health",
            core.health,
            "public",
            "Combined health: 200 healthy/warning/unknown, 503 critical",
            statuses=(200, 503),
        )
    )
    add(Route("GET", "/health/live", core.live, "public", "Liveness: the process answers"))
    add(
        Route(
            "GET",
            "/health/ready",
            core.ready,
            "public",
            "Readiness: the registered checks",
            statuses=(200, 503),
        )
    )
    add(
        Route(
            "GET",
            "/metrics",
            core.metrics,
            "metrics",
            "Prometheus text (OpenMetrics when asked by Accept)",
            content_type="text/plain",
        )
    )
    add(
        Route(
            "GET",
            "/",
            dashboard,
            "public",
            "The dashboard (HTML; carries no data)",
            content_type="text/html",
        )
    )
    add(
        Route(
            "GET",
            "/static/{file}",
            asset,
            "public",
            "Dashboard assets",
            content_type=_ASSET_TYPES,
        )
    )
    add(Route("GET", "/api/openapi.json", openapi, "public", "This document"))
    add(
        Route(
            "GET",
            "/api/access",
            core.access,
            summary="The caller's role and whether it may change state (the dashboard asks)",
        )
    )
    add(Route("GET", "/api/snapshot", core.snapshot, summary="Everything, as in kit.snapshot()"))
    add(
        Route(
            "GET", "/api/system", parts.system_current, summary="Current system metrics and health"
        )
    )
    add(
        Route(
            "GET",
            "/api/system/history",
            parts.system_history,
            summary="System samples of the last minutes",
            params=(Param("minutes", "int", 60, 1, 43_200),),  # system_history_hours <= 720
        )
    )
    add(
        Route(
            "GET",
            "/api/system/processes",
            parts.system_processes,
            summary="Top processes by CPU",
            params=(Param("top", "int", 10, 1, 100),),
        )
    )
    add(
        Route(
            "GET",
            "/api/requests/summary",
            core.requests_summary,
            summary="Windowed request summary",
            params=(core.HOURS,),
        )
    )
    add(
        Route(
            "GET",
            "/api/requests/endpoints",
            core.requests_endpoints,
            summary="Per-endpoint statistics",
            params=(_SORT, Param("limit", "int", 100, 1, 1000)),
        )
    )
    add(
        Route(
            "GET",
            "/api/requests/endpoints/{key:path}",
            core.requests_endpoint,
            summary="One endpoint, by key ('GET /users/{id}', URL-encoded), with its top users",
        )
    )
    add(
        Route(
            "GET",
            "/api/requests/slow",
            core.requests_slow,
            summary="The most recent slow requests",
            params=(core.LIMIT,),
        )
    )
    add(
        Route(
            "GET",
            "/api/requests/trends",
            core.requests_trends,
            summary="Per-minute request statistics",
            params=(Param("hours", "int", 1, 1, 720),),
        )
    )
    add(
        Route(
            "GET",
            "/api/queries/summary",
            core.queries_summary,
            summary="Windowed query summary",
            params=(core.HOURS,),
        )
    )
    add(
        Route(
            "GET",
            "/api/queries/slow",
            core.queries_slow,
            summary="The most recent slow queries",
            params=(core.LIMIT,),
        )
    )
    add(
        Route(
            "GET",
            "/api/alerts",
            parts.alerts_history,
            summary="Alert history",
            params=(core.HOURS, _SEVERITY),
        )
    )
    add(Route("GET", "/api/alerts/active", parts.alerts_active, summary="Firing alerts"))
    add(
        Route(
            "GET",
            "/api/alerts/summary",
            parts.alerts_summary,
            summary="Alert counts by severity and rule",
            params=(core.HOURS,),
        )
    )
    add(
        Route(
            "GET",
            "/api/alerts/status",
            parts.alerts_status,
            summary="Rules, states, errors and silences",
        )
    )
    add(Route("GET", "/api/alerts/rules", parts.rules_list, summary="Alert rules"))
    add(
        Route(
            "POST",
            "/api/alerts/rules",
            parts.rules_add,
            "admin",
            "Add a rule (a threshold or an anomaly rule, as GET lists them)",
            body=schemas.ALERT_RULE,
            statuses=(200, 400),
        )
    )
    add(
        Route(
            "DELETE",
            "/api/alerts/rules/{name:path}",
            parts.rules_delete,
            "admin",
            "Remove a rule",
            statuses=(200, 404),
        )
    )
    add(
        Route(
            "POST",
            "/api/alerts/rules/{name:path}/test",
            parts.rules_test,
            "admin",
            "Evaluate a rule now; report, send nothing (POST /api/alerts/test sends)",
            statuses=(200, 404),
        )
    )
    add(
        Route(
            "POST",
            "/api/alerts/webhook",
            parts.alerts_webhook,
            "admin",
            "Ingest an external alert {name, severity, message, labels?, metrics?}; "
            "with alert_webhook_secret set, a valid X-Perfkit-Signature alone authenticates",
            body=schemas.EXTERNAL_ALERT,
            statuses=(200, 400, 401, 413),
            signed=True,
        )
    )
    add(
        Route(
            "POST",
            "/api/alerts/test",
            parts.alerts_test,
            "admin",
            "Send one test notification through every notifier; each outcome",
            statuses=(200, 502),
        )
    )
    add(Route("GET", "/api/cache/stats", parts.cache_stats, summary="Cache statistics"))
    add(
        Route(
            "POST", "/api/cache/clear", parts.cache_clear, "admin", "Clear this cache's namespace"
        )
    )
    add(Route("GET", "/api/backups", parts.backups_list, summary="Backups, newest first"))
    add(
        Route(
            "POST",
            "/api/backups",
            parts.backups_create,
            "admin",
            "Take a backup of settings.database_url",
            statuses=(200, 502),
        )
    )
    add(Route("GET", "/api/backups/stats", parts.backups_stats, summary="Backup statistics"))
    add(
        Route(
            "DELETE",
            "/api/backups/{name}",
            parts.backups_delete,
            "admin",
            "Delete a backup",
            path_schemas={"name": schemas.BACKUP_NAME},
            statuses=(200, 400, 404),
        )
    )
    add(
        Route(
            "POST",
            "/api/backups/{name}/restore",
            parts.backups_restore,
            "admin",
            "Verify and restore a backup",
            path_schemas={"name": schemas.BACKUP_NAME},
            statuses=(200, 400, 404, 409),
        )
    )
    add(
        Route(
            "GET",
            "/api/recommendations",
            parts.recommendations,
            summary="Actionable advice from current figures",
        )
    )
    add(Route("GET", "/api/config", core.config_get, summary="Settings (secrets masked)"))
    add(
        Route(
            "POST",
            "/api/config",
            core.config_post,
            "admin",
            "Change run-time settings",
            body=schemas.config_schema(core.RUNTIME_SETTINGS),
            statuses=(200, 400),
        )
    )
    add(
        Route(
            "POST",
            "/api/maintenance",
            core.maintenance,
            "admin",
            '{"action": "cleanup"} or {"action": "reset-counters"}',
            body=schemas.MAINTENANCE,
            statuses=(200, 400),
        )
    )
    return table


def openapi(ctx: Ctx) -> dict[str, Any]:
    from .openapi import document

    settings = ctx.kit.settings
    return document(
        build_routes(), settings.prefix, settings.metrics_public, settings.retention_hours
    )


def handle(kit: ServedKit, request: ApiRequest, *, trusted: bool = False) -> ApiResponse:
    """Answer one API request; never raises, never leaks a traceback.

    `trusted` admits the caller as admin (``via="local"``) without a token or the
    rate limit: for callers in this process (``manage.py perfkit``), never for a
    request from the network.
    """
    path = request.path.rstrip("/") or "/"
    route: Route | None = None
    grant: Grant | None = None
    try:
        route, args = build_routes().match(request.method, path)
        role = route.role(kit.settings.metrics_public)
        if trusted:
            grant = Grant("admin", "local")  # this process: no token, no rate limit
        else:
            if route.access != "public":
                kit.api_limiter.check(request.client or "unknown")
            if route.signed and parts.signature_valid(kit, request):
                grant = Grant("webhook", "signature")  # the sender knows alert_webhook_secret
            elif role != "public":
                grant = check_access(request, role, kit.settings, kit.authorize)
        if route.body is not None and len(request.body) > MAX_BODY:
            raise ApiError(
                413, "payload_too_large", f"request bodies are limited to {MAX_BODY} bytes"
            )
        query = route.parse_query(request.query)
        result = route.handler(Ctx(kit, request, args, query, route.body, grant))
        response = result if isinstance(result, ApiResponse) else json_response(200, result)
    except ApiError as exc:
        response = error_response(exc.status, exc.error, exc.detail, exc.headers)
    except Exception as exc:
        # the route, not the path: paths are client-chosen (unbounded, maybe personal)
        kit.errors.report(f"api {route.operation_id}" if route else "api", exc)
        response = error_response(
            500, "internal_error", "perfkit failed to answer; see the server log"
        )
    if route is not None and route.access != "public":
        _audit(kit, request, route, grant, response.status)
    if request.method == "HEAD":
        response = ApiResponse(response.status, response.content_type, b"", response.headers)
    return response


def _audit(
    kit: ServedKit, request: ApiRequest, route: Route, grant: Grant | None, status: int
) -> None:
    """Every call of a state-changing operation (refused ones too); token reads, rate-limited."""
    client = request.client or "unknown"
    try:
        if route.access == "admin":
            role, via = (grant.role, grant.via) if grant else ("none", "refused")
            operation = route.operation_id
            audit_access("admin", operation, request.path, client, role, via, status=status)
        elif grant is not None and grant.identified and status < 400:
            reads = kit.read_audit.due(client)
            if reads:
                audit_access(
                    "read", route.operation_id, request.path, client, grant.role, grant.via,
                    reads=reads,
                )  # fmt: skip
    except Exception as exc:  # the audit must never cost the caller its answer
        kit.errors.report("audit", exc)
