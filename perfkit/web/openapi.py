"""The OpenAPI 3.1 document, generated from the route table."""

from __future__ import annotations

import re
from typing import Any

from .._version import __version__
from .router import RouteTable

__all__ = ["document"]

_ERROR = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
}
_READERS: list[dict[str, list[str]]] = [
    {"readToken": []},
    {"adminToken": []},
]  # either token opens a read
_REASONS = {
    200: "OK", 400: "Bad parameter or body", 401: "Missing or wrong token", 403: "Forbidden",
    404: "Not found", 405: "Method not allowed", 409: "Conflict", 413: "Body too large",
    429: "Rate limited", 502: "The backend failed", 503: "Critical",
}  # fmt: skip


def document(
    table: RouteTable, prefix: str, metrics_public: bool = True, retention_hours: int = 720
) -> dict[str, Any]:
    """OpenAPI 3.1 for every route, as configured; paths include the prefix."""
    paths: dict[str, dict[str, Any]] = {}
    for route in table.routes:
        role = route.role(metrics_public)
        operation: dict[str, Any] = {
            "summary": route.summary,
            "operationId": route.operation_id,
            "parameters": [
                {
                    "name": p.name,
                    "in": "query",
                    "required": False,
                    "schema": _bounded(p.schema(), p.name, retention_hours),
                    "description": p.description or p.expected(),
                }
                for p in route.params
            ]
            + [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": dict(route.path_schemas.get(name, {"type": "string"})),
                }
                for name in re.findall(r"\{([a-z_]+)\}", route.template)
            ],
            "responses": _responses(
                route.statuses,
                route.content_type,
                role,
                route.body is not None,
                limited=route.access != "public",  # the API rate limit covers it
            ),
            # who may call it: public, read (the read or the admin token) or admin
            "x-perfkit-role": role,
        }
        if role != "public":
            operation["security"] = [{"adminToken": []}] if role == "admin" else _READERS
        if route.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": dict(route.body)}},
            }
        paths.setdefault(prefix + route.template, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "perfkit API", "version": __version__},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "PERFKIT_TOKEN: every operation",
                },
                "readToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "PERFKIT_READ_TOKEN: operations that change nothing",
                },
            },
            "schemas": {"Error": _ERROR},
        },
    }


def _responses(
    statuses: tuple[int, ...], content_type: str, access: str, has_body: bool, *, limited: bool
) -> dict[str, Any]:
    # every route may answer 400 (bad parameter) and 404 (unknown item or part not in use)
    codes = set(statuses or (200,)) | {200, 400, 404}
    if access != "public":
        codes |= {401, 403}
    if limited:  # e.g. /metrics: public by default, rate-limited all the same
        codes.add(429)
    if has_body:
        codes.add(413)
    out: dict[str, Any] = {}
    for code in sorted(codes):
        if code == 200 and content_type != "application/json":
            out["200"] = {
                "description": _REASONS[200],
                "content": {
                    media.strip(): {"schema": {"type": "string"}}
                    for media in content_type.split(",")
                },
            }
        elif code == 200:
            out["200"] = {
                "description": _REASONS[200],
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        elif code == 503:
            out["503"] = {
                "description": _REASONS[503],
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        else:
            out[str(code)] = {
                "description": _REASONS.get(code, "Error"),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
    return out


def _bounded(schema: dict[str, Any], name: str, retention_hours: int) -> dict[str, Any]:
    """Windows cannot reach past the retention: `hours` is capped by it."""
    if name == "hours" and "maximum" in schema:
        schema = dict(schema, maximum=min(schema["maximum"], retention_hours))
        if "default" in schema:
            schema["default"] = min(schema["default"], retention_hours)
    return schema
