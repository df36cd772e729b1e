"""The HTTP API under the prefix, as a sans-IO handler: `ApiRequest` in, `ApiResponse` out.

The WSGI and ASGI adapters only translate to and from these two values.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..kit import Perfkit

__all__ = ["ApiRequest", "ApiResponse", "handle"]

_JSON = "application/json"


@dataclass
class ApiRequest:
    """A request to the API; `path` is relative to the prefix (``/metrics``)."""

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    client: str | None = None


@dataclass
class ApiResponse:
    status: int
    content_type: str
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)

    def all_headers(self) -> list[tuple[str, str]]:
        return [
            ("Content-Type", self.content_type),
            ("Content-Length", str(len(self.body))),
            ("Cache-Control", "no-store"),
            *self.headers,
        ]


def json_response(
    status: int, data: Any, headers: list[tuple[str, str]] | None = None
) -> ApiResponse:
    body = json.dumps(data, default=str, separators=(",", ":")).encode()
    return ApiResponse(status, _JSON, body, headers or [])


def error_response(status: int, error: str, detail: str, **extra: Any) -> ApiResponse:
    return json_response(status, {"error": error, "detail": detail, **extra})


_Handler = Callable[[Perfkit, ApiRequest], ApiResponse]


def _metrics(kit: Perfkit, request: ApiRequest) -> ApiResponse:
    content_type, body = kit.render_metrics(request.headers.get("accept"))
    return ApiResponse(200, content_type, body)


def _health(kit: Perfkit, request: ApiRequest) -> ApiResponse:
    report = kit.health()
    return json_response(503 if report.get("status") == "critical" else 200, report)


def _live(kit: Perfkit, request: ApiRequest) -> ApiResponse:
    from .._version import __version__
    from ..metrics.snapshot import iso

    return json_response(
        200, {"status": "healthy", "timestamp": iso(kit.clock.time()), "version": __version__}
    )


def _ready(kit: Perfkit, request: ApiRequest) -> ApiResponse:
    source = kit.components.get("health")
    ready = getattr(source, "ready_report", None)
    report = ready() if callable(ready) else kit.health()
    return json_response(503 if report.get("status") == "critical" else 200, report)


ROUTES: dict[str, dict[str, _Handler]] = {
    "/metrics": {"GET": _metrics},
    "/health": {"GET": _health},
    "/health/live": {"GET": _live},
    "/health/ready": {"GET": _ready},
}


def handle(kit: Perfkit, request: ApiRequest) -> ApiResponse:
    """Answer one API request; never raises, never leaks a traceback."""
    path = request.path.rstrip("/") or "/"
    methods = ROUTES.get(path)
    if methods is None:
        return error_response(404, "not_found", f"no perfkit endpoint at {request.path!r}")
    method = "GET" if request.method == "HEAD" else request.method
    handler = methods.get(method)
    if handler is None:
        allow = ", ".join(sorted(methods))
        return ApiResponse(
            405,
            _JSON,
            json.dumps({"error": "method_not_allowed", "detail": f"use {allow}"}).encode(),
            [("Allow", allow)],
        )
    try:
        response = handler(kit, request)
    except Exception as exc:
        kit.errors.report(f"api {path}", exc)
        return error_response(500, "internal_error", "perfkit failed to answer; see the server log")
    if request.method == "HEAD":
        response = ApiResponse(response.status, response.content_type, b"", response.headers)
    return response
