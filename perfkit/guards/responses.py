"""Rejection responses and rate-limit headers, as plain ``(status, headers, body)`` values.

The headers follow draft-ietf-httpapi-ratelimit-headers-07 (the last draft
with three separate fields): ``RateLimit-Limit``, ``RateLimit-Remaining``,
``RateLimit-Reset`` (delta-seconds) and ``RateLimit-Policy`` (``100;w=60``).
Later drafts merged them into ``RateLimit``/``RateLimit-Policy`` structured
fields; the three-field form is what clients and gateways read today.
"""

from __future__ import annotations

import json
import math

from .limiter import Decision

__all__ = ["ratelimit_headers", "raw_ratelimit_headers", "too_large", "too_many_requests"]

Headers = list[tuple[str, str]]
RawHeaders = list[tuple[bytes, bytes]]


_HEADERS: dict[Decision, Headers] = {}
_RAW_HEADERS: dict[Decision, RawHeaders] = {}
MAX_CACHED = 8192


def ratelimit_headers(decision: Decision) -> Headers:
    """The ``RateLimit-*`` fields for a decision that carries figures (empty otherwise).

    The list is shared between requests with the same figures (the limiter's
    decisions take few values): callers copy it, never change it.
    """
    headers = _HEADERS.get(decision)
    if headers is None:
        headers = _build(decision)
        if len(_HEADERS) >= MAX_CACHED:
            _HEADERS.clear()
        _HEADERS[decision] = headers
    return headers


def raw_ratelimit_headers(decision: Decision) -> RawHeaders:
    """`ratelimit_headers` as ASGI wants them: lower-case latin-1 bytes (shared, read-only)."""
    headers = _RAW_HEADERS.get(decision)
    if headers is None:
        headers = [(k.lower().encode(), v.encode()) for k, v in _build(decision)]
        if len(_RAW_HEADERS) >= MAX_CACHED:
            _RAW_HEADERS.clear()
        _RAW_HEADERS[decision] = headers
    return headers


def _build(decision: Decision) -> Headers:
    if not decision.limit:
        return []
    return [
        ("RateLimit-Limit", str(decision.limit)),
        ("RateLimit-Remaining", str(max(decision.remaining, 0))),
        ("RateLimit-Reset", str(max(0, math.ceil(decision.reset)))),
        ("RateLimit-Policy", f"{decision.limit};w={decision.window}"),
    ]


def _json(status: int, error: str, detail: str, extra: Headers) -> tuple[int, Headers, bytes]:
    body = json.dumps({"error": error, "detail": detail}).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        *extra,
    ]
    return status, headers, body


def too_many_requests(decision: Decision, headers: bool) -> tuple[int, Headers, bytes]:
    """429 with ``Retry-After`` (whole seconds) and, when enabled, the ``RateLimit-*`` fields."""
    retry = max(1, math.ceil(decision.reset))
    extra = [("Retry-After", str(retry))]
    if headers:
        extra += ratelimit_headers(decision)
    detail = (
        f"rate limit of {decision.limit} requests per {decision.window} s exceeded; "
        f"retry in {retry} s"
    )
    return _json(429, "too_many_requests", detail, extra)


def too_large(limit: int) -> tuple[int, Headers, bytes]:
    """413 saying the limit (hop-by-hop ``Connection`` is the server's business, PEP 3333)."""
    detail = f"request body larger than {limit} bytes"
    return _json(413, "request_too_large", detail, [])
