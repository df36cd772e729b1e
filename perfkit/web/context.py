"""What an API handler receives: the kit, the request, path arguments and parsed parameters."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._json import loads as parse_json
from .._secrets import MASK, mask_url, secret_name_matcher
from .host import ServedKit
from .router import ApiError

__all__ = ["MAX_BODY", "ApiRequest", "ApiResponse", "Ctx", "error_response", "json_response"]

MAX_BODY = 64 * 1024  # bytes of a request body the API reads
_JSON = "application/json"
_is_secret = secret_name_matcher()


@dataclass
class ApiRequest:
    """A request to the API; `path` is relative to the prefix (``/metrics``)."""

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    client: str | None = None
    # the role of the operation asked for (``read`` or ``admin``), set for the authorize hook
    role: str = ""

    def __repr__(self) -> str:
        """Secret headers (Authorization, Cookie, X-Api-Key...) masked, the body as a size.

        An `authorize` hook may log the request it is given: the token must not follow.
        """
        headers = {k: MASK if _is_secret(k) else v for k, v in self.headers.items()}
        return (
            f"ApiRequest(method={self.method!r}, path={self.path!r}, "
            f"query={mask_url('?' + self.query)[1:]!r}, headers={headers!r}, "
            f"body=<{len(self.body)} bytes>, client={self.client!r}, role={self.role!r})"
        )


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
            ("X-Content-Type-Options", "nosniff"),
            *self.headers,
        ]


def json_response(
    status: int, data: Any, headers: list[tuple[str, str]] | None = None
) -> ApiResponse:
    body = json.dumps(data, default=str, separators=(",", ":")).encode()
    return ApiResponse(status, _JSON, body, headers or [])


def error_response(
    status: int, error: str, detail: str, headers: list[tuple[str, str]] | None = None
) -> ApiResponse:
    return json_response(status, {"error": error, "detail": detail}, headers)


@dataclass
class Ctx:
    kit: ServedKit
    request: ApiRequest
    args: dict[str, str]
    query: dict[str, Any]
    schema: Mapping[str, Any] | None = None  # the route's documented body schema
    grant: Any = None  # perfkit.web.auth.Grant: the caller's role (None for public routes)

    def json(self) -> Any:
        """The request body as JSON (400 when it is not, 413 when too large)."""
        if len(self.request.body) > MAX_BODY:
            raise ApiError(
                413, "payload_too_large", f"request bodies are limited to {MAX_BODY} bytes"
            )
        if not self.request.body:
            raise ApiError(400, "bad_request", "a JSON body is required")
        try:
            return parse_json(self.request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, "bad_json", f"the body is not valid JSON: {exc}") from None

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object, checked against the route's documented schema."""
        data = self.json()
        if not isinstance(data, dict):
            raise ApiError(400, "bad_request", f"expected a JSON object, got {type(data).__name__}")
        if self.schema is not None:
            from .schemas import validate

            try:
                validate(data, dict(self.schema))
            except ValueError as exc:
                raise ApiError(400, "bad_request", str(exc)) from None
        return data
