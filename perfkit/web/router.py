"""A tiny route table for the API: path patterns, parameter validation, and the OpenAPI source."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs

__all__ = ["ApiError", "Param", "Route", "RouteTable"]

Access = Literal["public", "metrics", "read", "admin"]


class ApiError(Exception):
    """Raised by handlers and validation; becomes a JSON `{error, detail}` response."""

    def __init__(
        self, status: int, error: str, detail: str, headers: list[tuple[str, str]] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = headers or []


_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


@dataclass(frozen=True)
class Param:
    """A query parameter with its type and bounds (out of range is a 400, never clamped)."""

    name: str
    kind: Literal["int", "float", "str"] = "int"
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    description: str = ""

    def parse(self, raw: str | None) -> Any:
        if raw is None:
            return self.default
        expected = self.expected()
        # JSON-number spelling only: int() and float() would also take "1_0", " 1",
        # "inf" and non-ASCII digits, which the schema (integer/number) does not allow
        if self.kind != "str" and not (_INT if self.kind == "int" else _FLOAT).fullmatch(raw):
            raise ApiError(400, "bad_parameter", f"{self.name}={raw!r}: expected {expected}")
        value: Any = int(raw) if self.kind == "int" else float(raw) if self.kind == "float" else raw
        if self.kind == "float" and not math.isfinite(value):  # 1e999
            raise ApiError(400, "bad_parameter", f"{self.name}={raw!r}: expected {expected}")
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise ApiError(400, "bad_parameter", f"{self.name}={raw!r}: expected {expected}")
        if self.choices is not None and value not in self.choices:
            raise ApiError(400, "bad_parameter", f"{self.name}={raw!r}: expected {expected}")
        return value

    def expected(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(self.choices)
        noun = {"int": "an integer", "float": "a number", "str": "a string"}[self.kind]
        if self.minimum is not None and self.maximum is not None:
            return f"{noun} in {_num(self.minimum)}..{_num(self.maximum)}"
        if self.minimum is not None:
            return f"{noun} >= {_num(self.minimum)}"
        return noun

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": {"int": "integer", "float": "number", "str": "string"}[self.kind]
        }
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.choices is not None:
            schema["enum"] = list(self.choices)
        if self.default is not None:
            schema["default"] = self.default
        return schema


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


Handler = Callable[..., Any]


@dataclass
class Route:
    """One method on one path pattern (``/api/backups/{name}``)."""

    method: str
    pattern: str
    handler: Handler
    access: Access = "read"
    summary: str = ""
    params: tuple[Param, ...] = ()
    body: Mapping[str, Any] | None = None  # JSON schema of the request body
    response: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    content_type: str = "application/json"
    statuses: tuple[int, ...] = ()
    # a valid X-Perfkit-Signature (settings.alert_webhook_secret) stands in for the token
    signed: bool = False
    # JSON schemas of path parameters, where a plain string says too little
    path_schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        # {name} is one path segment; {name:path} may hold slashes (endpoint keys, rule names)
        parts = re.split(r"(\{[a-z_]+(?::path)?\})", self.pattern)
        regex = "".join(_placeholder(p) if p.startswith("{") else re.escape(p) for p in parts)
        self.regex = re.compile(regex)

    def role(self, metrics_public: bool = True) -> str:
        """Who may call it: ``public``, ``read`` (either token) or ``admin`` (changes state)."""
        if self.access == "metrics":
            return "public" if metrics_public else "read"
        return self.access

    @property
    def literal_length(self) -> int:
        """How much of the pattern is fixed text (more is more specific)."""
        return len(re.sub(r"\{[^}]*\}", "", self.pattern))

    @property
    def operation_id(self) -> str:
        """The OpenAPI operationId (``get_api_snapshot``), also used in the audit log."""
        words = re.sub(r"[{}]", "", self.pattern).strip("/")
        words = words.replace("/", "_").replace(".", "_") or "dashboard"
        return f"{self.method.lower()}_{words}"

    @property
    def template(self) -> str:
        """The pattern as OpenAPI writes it (``{name}``)."""
        return self.pattern.replace(":path}", "}")

    def parse_query(self, query: str) -> dict[str, Any]:
        raw = parse_qs(query, keep_blank_values=True)
        known = {p.name for p in self.params}
        unknown = sorted(set(raw) - known)
        if unknown:
            allowed = ", ".join(sorted(known)) or "none"
            raise ApiError(
                400, "bad_parameter", f"unknown parameter {unknown[0]!r} (allowed: {allowed})"
            )
        for name, values in raw.items():
            if len(values) > 1:
                raise ApiError(
                    400, "bad_parameter", f"{name} is given {len(values)} times; give it once"
                )
        return {p.name: p.parse(raw[p.name][0] if p.name in raw else None) for p in self.params}


def _placeholder(part: str) -> str:
    name, _, kind = part[1:-1].partition(":")
    return f"(?P<{name}>.+)" if kind == "path" else f"(?P<{name}>[^/]+)"


class RouteTable:
    """Routes in order; `match` answers the route and path arguments, or a 404/405 error."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, route: Route) -> None:
        self.routes.append(route)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        allowed: list[tuple[int, str]] = []
        for route in self.routes:
            found = route.regex.fullmatch(path)
            if found is None:
                continue
            if route.method == method or (method == "HEAD" and route.method == "GET"):
                # servers hand over decoded paths: arguments are used as they are
                return route, found.groupdict()
            allowed.append((route.literal_length, route.method))
        if allowed:
            # the most specific patterns speak for the path: /api/backups/stats is not a {name}
            best = max(n for n, _ in allowed)
            allow = ", ".join(sorted({m for n, m in allowed if n == best}))
            raise ApiError(
                405,
                "method_not_allowed",
                f"{method} is not allowed here; use {allow}",
                [("Allow", allow)],
            )
        raise ApiError(404, "not_found", f"no perfkit endpoint at {path!r}")
