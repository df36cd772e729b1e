"""The HTTP API, sans-IO: routing, auth, validation, errors, admin actions, OpenAPI."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from perfkit import Perfkit, PerfkitSettings
from perfkit.testing import FakeClock
from perfkit.web.api import build_routes, handle
from perfkit.web.context import ApiRequest
from tests.conftest import CALM_SYSTEM_LEVELS, HEALTH_ANSWERS


def call(
    kit: Perfkit,
    method: str,
    path: str,
    query: str = "",
    body: Any = None,
    token: str | None = None,
    client: str = "127.0.0.1",
    raw: bytes | None = None,
) -> tuple[int, Any, dict[str, str]]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    response = handle(kit, ApiRequest(method, path, query, headers, data, client))
    parsed: Any = response.body
    if response.content_type == "application/json" and response.body:
        parsed = json.loads(response.body)
    return response.status, parsed, dict(response.headers)


@pytest.fixture
def kit() -> Perfkit:
    kit = Perfkit(PerfkitSettings(token="s3cret", **CALM_SYSTEM_LEVELS))
    for i in range(5):
        kit.record_api_performance("/users/{id}", "GET", 0.01 * (i + 1), 200)
    kit.record_api_performance("/pay", "POST", 0.3, 502)
    return kit


def test_health_is_open_and_everything_else_needs_the_token(kit: Perfkit) -> None:
    # open to anyone: 200, or 503 when this (loaded) machine is itself critical, never 401
    assert call(kit, "GET", "/health", client="203.0.113.9")[0] in HEALTH_ANSWERS
    assert call(kit, "GET", "/health/live", client="203.0.113.9")[0] == 200
    assert call(kit, "GET", "/metrics", client="203.0.113.9")[0] == 200  # metrics_public default
    status, body, headers = call(kit, "GET", "/api/snapshot", client="203.0.113.9")
    assert status == 401 and body["error"] == "unauthorized"
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert call(kit, "GET", "/api/snapshot", token="wrong")[0] == 401
    status, body, _ = call(kit, "GET", "/api/snapshot", token="s3cret", client="203.0.113.9")
    assert status == 200 and body["requests"]["summary"]["count"] == 6


def test_metrics_can_be_protected() -> None:
    kit = Perfkit(PerfkitSettings(token="t", metrics_public=False))
    assert call(kit, "GET", "/metrics")[0] == 401
    assert call(kit, "GET", "/metrics", token="t")[0] == 200


def test_without_token_or_hook_only_loopback_is_answered() -> None:
    kit = Perfkit()
    assert call(kit, "GET", "/api/snapshot", client="127.0.0.1")[0] == 200
    assert call(kit, "GET", "/api/snapshot", client="::1")[0] == 200
    status, body, _ = call(kit, "GET", "/api/snapshot", client="10.1.2.3")
    assert status == 403 and "loopback" in body["detail"]


def test_authorize_hook_decides_and_a_failing_hook_denies() -> None:
    kit = Perfkit(authorize=lambda request: request.headers.get("x-team") == "ops")
    request = ApiRequest("GET", "/api/snapshot", "", {"x-team": "ops"}, b"", "10.0.0.1")
    assert handle(kit, request).status == 200
    assert call(kit, "GET", "/api/snapshot", client="10.0.0.1")[0] == 403

    def broken(request: Any) -> bool:
        raise RuntimeError("auth backend down")

    kit.authorize = broken
    assert call(kit, "GET", "/api/snapshot", client="127.0.0.1")[0] == 403


@pytest.mark.parametrize(
    ("path", "query", "fragment"),
    [
        ("/api/requests/summary", "hours=0", "hours='0': expected an integer in 1..720"),
        ("/api/requests/summary", "hours=abc", "expected an integer"),
        ("/api/requests/summary", "hours=100", "1..24 (retention_hours)"),
        ("/api/requests/slow", "limit=1001", "1..1000"),
        ("/api/requests/endpoints", "sort=name", "one of count"),
        ("/api/system/processes", "top=0", "1..100"),
        ("/api/alerts", "severity=loud", "one of info, warning, critical"),
        ("/api/requests/slow", "limit=5&bogus=1", "unknown parameter 'bogus'"),
    ],
)
def test_bad_parameters_are_400_naming_the_value(
    kit: Perfkit, path: str, query: str, fragment: str
) -> None:
    status, body, _ = call(kit, "GET", path, query, token="s3cret")
    assert status == 400, body
    assert fragment in body["detail"]


def test_unknown_paths_and_wrong_methods(kit: Perfkit) -> None:
    status, body, _ = call(kit, "GET", "/api/nothing", token="s3cret")
    assert status == 404 and body == {
        "error": "not_found",
        "detail": "no perfkit endpoint at '/api/nothing'",
    }
    status, body, headers = call(kit, "PUT", "/api/snapshot", token="s3cret")
    assert status == 405 and headers["Allow"] == "GET"
    status, _, headers = call(kit, "GET", "/api/maintenance", token="s3cret")
    assert status == 405 and headers["Allow"] == "POST"


def test_request_statistics_endpoints(kit: Perfkit) -> None:
    status, body, _ = call(kit, "GET", "/api/requests/summary", "hours=1", token="s3cret")
    assert status == 200 and body["requests"]["count"] == 6 and body["requests"]["errors"] == 1
    status, body, _ = call(
        kit, "GET", "/api/requests/endpoints", "sort=p95&limit=1", token="s3cret"
    )
    assert [row["key"] for row in body["endpoints"]] == ["POST /pay"] and body["total"] == 2
    # servers hand the API decoded paths (the client sent GET%20%2Fusers%2F%7Bid%7D)
    status, body, _ = call(kit, "GET", "/api/requests/endpoints/GET /users/{id}", token="s3cret")
    assert status == 200 and body["count"] == 5
    status, body, _ = call(kit, "GET", "/api/requests/endpoints/nope", token="s3cret")
    assert status == 404
    status, body, _ = call(kit, "GET", "/api/requests/trends", token="s3cret")
    assert status == 200 and sum(row["count"] for row in body["trends"]) == 6


def test_config_changes_are_validated_and_audited(
    kit: Perfkit, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="perfkit.audit"):
        status, body, _ = call(
            kit, "POST", "/api/config", body={"slow_request_threshold": 0.25}, token="s3cret"
        )
    assert status == 200 and body["settings"]["slow_request_threshold"] == 0.25
    assert kit.settings.slow_request_threshold == 0.25
    assert any(getattr(r, "event_type", None) == "config_change" for r in caplog.records)
    status, body, _ = call(
        kit, "POST", "/api/config", body={"slow_request_threshold": -1}, token="s3cret"
    )
    assert status == 400 and "slow_request_threshold: must be >= 0, got -1" in body["detail"]
    status, body, _ = call(
        kit, "POST", "/api/config", body={"monitoring_interval": 0.01}, token="s3cret"
    )
    assert status == 400 and "monitoring_interval" in body["detail"]
    status, body, _ = call(kit, "POST", "/api/config", body={"prefix": "/x"}, token="s3cret")
    assert status == 400 and "unknown field 'prefix'" in body["detail"]
    status, body, _ = call(kit, "GET", "/api/config", token="s3cret")
    assert body["settings"]["token"] == "***"


@pytest.mark.parametrize(
    ("raw", "status", "error"),
    [
        (b"{not json", 400, "bad_json"),
        (b"[1, 2]", 400, "bad_request"),
        (b"", 400, "bad_request"),
        (b'{"action": "explode"}', 400, "bad_request"),
        (b'{"action": "' + b"x" * 70_000 + b'"}', 413, "payload_too_large"),
    ],
)
def test_malformed_bodies_are_4xx(kit: Perfkit, raw: bytes, status: int, error: str) -> None:
    got, body, _ = call(kit, "POST", "/api/maintenance", token="s3cret", raw=raw)
    assert (got, body["error"]) == (status, error)


def test_maintenance_resets_counters(kit: Perfkit) -> None:
    status, body, _ = call(
        kit, "POST", "/api/maintenance", body={"action": "cleanup"}, token="s3cret"
    )
    assert status == 200 and "registry" in body["result"]
    status, body, _ = call(
        kit, "POST", "/api/maintenance", body={"action": "reset-counters"}, token="s3cret"
    )
    assert status == 200
    assert kit.snapshot()["requests"]["summary"]["count"] == 0


def test_backup_names_with_traversal_never_reach_a_500(kit: Perfkit) -> None:
    for name in ("..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "a%2Fb", "%00x", ".."):
        status, reply, _ = call(kit, "DELETE", f"/api/backups/{name}", token="s3cret")
        assert status in (400, 404), (name, status, reply)


def test_the_api_rate_limits_each_client() -> None:
    clock = FakeClock()
    kit = Perfkit(PerfkitSettings(api_rate_limit=3, **CALM_SYSTEM_LEVELS), clock=clock)
    codes = [call(kit, "GET", "/api/snapshot")[0] for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    status, _, headers = call(kit, "GET", "/api/snapshot")
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert call(kit, "GET", "/api/snapshot", client="127.0.0.2")[0] == 200  # per client
    assert call(kit, "GET", "/health")[0] in HEALTH_ANSWERS  # health is never limited
    clock.advance(60)
    assert call(kit, "GET", "/api/snapshot")[0] == 200


def test_openapi_document_lists_every_route(kit: Perfkit) -> None:
    status, doc, _ = call(kit, "GET", "/api/openapi.json")
    assert status == 200 and doc["openapi"] == "3.1.0"
    for route in build_routes().routes:
        path = "/perfkit" + route.template
        assert route.method.lower() in doc["paths"][path], path
    hours = doc["paths"]["/perfkit/api/requests/summary"]["get"]["parameters"][0]
    # windows cannot reach past the retention (24 h by default)
    assert hours["schema"] == {"type": "integer", "minimum": 1, "maximum": 24, "default": 24}


def test_dashboard_shell_loads_without_token_and_assets_are_safe(kit: Perfkit) -> None:
    status, body, headers = call(kit, "GET", "/", client="198.51.100.7")
    assert status == 200 and b"/perfkit/static/dashboard.js" in body
    assert "Content-Security-Policy" in headers
    assert call(kit, "GET", "/static/dashboard.js", client="198.51.100.7")[0] == 200
    for name in ("..%2Fapi.py", "index.html", "x.py", "%2Fetc%2Fpasswd"):
        assert call(kit, "GET", f"/static/{name}")[0] == 404


def test_parts_not_in_use_answer_404_not_available() -> None:
    kit = Perfkit()
    status, body, _ = call(kit, "GET", "/api/backups")
    assert status in (200, 404)
    if status == 404:
        assert body["error"] == "not_available"


def test_webhook_ingestion_checks_the_shared_secret() -> None:
    import hashlib
    import hmac

    # ingesting an alert changes state: loopback without a token needs the explicit setting
    kit = Perfkit(
        PerfkitSettings(alert_webhook_secret="hook-secret", allow_unauthenticated_admin=True)
    )
    body = json.dumps({"name": "disk", "severity": "critical", "message": "disk full"}).encode()
    signature = "sha256=" + hmac.new(b"hook-secret", body, hashlib.sha256).hexdigest()
    bad = handle(
        kit,
        ApiRequest(
            "POST",
            "/api/alerts/webhook",
            "",
            {"x-perfkit-signature": "sha256=00"},
            body,
            "127.0.0.1",
        ),
    )
    assert bad.status == 401 and b"bad_signature" in bad.body
    good = handle(
        kit,
        ApiRequest(
            "POST", "/api/alerts/webhook", "", {"x-perfkit-signature": signature}, body, "127.0.0.1"
        ),
    )
    assert good.status == 200
    history = kit.alerts.get_alert_history(hours=1)
    assert [(a.name, a.source) for a in history] == [("disk", "external")]


@pytest.mark.parametrize("query", ["limit=", "limit=5&limit=6"])
def test_empty_or_repeated_parameters_are_400(kit: Perfkit, query: str) -> None:
    status, body, _ = call(kit, "GET", "/api/requests/slow", query, token="s3cret")
    assert status == 400 and body["error"] == "bad_parameter"


def test_names_with_slashes_and_unicode_work_over_a_real_server() -> None:
    """Endpoint keys and rule names are single-decoded, slashes and UTF-8 included."""
    import urllib.parse
    import urllib.request

    from perfkit.alerts import AlertRule
    from perfkit.wsgi import PerfkitMiddleware
    from tests.conftest import serve_wsgi

    kit = Perfkit(PerfkitSettings(allow_unauthenticated_admin=True))  # loopback, no token
    kit.record_api_performance("/users/{id}", "GET", 0.1, 200)
    kit.alerts.add_alert_rule(AlertRule("cpu/café", "system.cpu_percent", 50.0, 90.0))

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [b""]

    with serve_wsgi(PerfkitMiddleware(app, kit)) as port:
        base = f"http://127.0.0.1:{port}/perfkit/api"
        key = urllib.parse.quote("GET /users/{id}", safe="")
        with urllib.request.urlopen(f"{base}/requests/endpoints/{key}") as response:
            assert json.loads(response.read())["count"] == 1
        name = urllib.parse.quote("cpu/café", safe="")
        test = urllib.request.Request(f"{base}/alerts/rules/{name}/test", data=b"{}", method="POST")
        with urllib.request.urlopen(test) as response:
            assert response.status == 200
        delete = urllib.request.Request(f"{base}/alerts/rules/{name}", method="DELETE")
        with urllib.request.urlopen(delete) as response:
            assert json.loads(response.read()) == {"deleted": "cpu/café"}
