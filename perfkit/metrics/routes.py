"""Route templating: turn raw paths into bounded-cardinality endpoint names.

``/users/123/orders/9f1c...`` becomes ``/users/{id}/orders/{uuid}``: numeric
ids, UUIDs, long hex/hash ids and dates become placeholders, so one endpoint
is one series whatever ids its URLs carry.
"""

from __future__ import annotations

import re
import threading

__all__ = ["NOT_FOUND", "OTHER", "RouteTemplater", "normalize_method"]

NOT_FOUND = "__not_found__"
OTHER = "__other__"

_KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"}
)

_SEGMENT_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[+-]?\d+"), "{id}"),
    (
        re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
        "{uuid}",
    ),
    (
        re.compile(
            r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
        ),
        "{date}",
    ),
    # hashes, object ids, hex tokens: 16+ hex characters with at least one digit
    (re.compile(r"(?=[a-fA-F]*\d)[0-9a-fA-F]{16,}"), "{hash}"),
    # opaque tokens (base64/base62 ids): 20+ characters mixing letters and digits
    (re.compile(r"(?=[A-Za-z_-]*\d)(?=[0-9_-]*[A-Za-z])[A-Za-z0-9_-]{20,}={0,2}"), "{token}"),
)


def normalize_method(method: str) -> str:
    """Known HTTP methods as they are; anything else is ``OTHER`` (bounded cardinality)."""
    if method in _KNOWN_METHODS:
        return method
    upper = method.upper() if isinstance(method, str) else ""
    return upper if upper in _KNOWN_METHODS else "OTHER"


def template_segment(segment: str) -> str:
    """The placeholder for one path segment, or the segment itself."""
    for pattern, placeholder in _SEGMENT_RULES:
        if pattern.fullmatch(segment):
            return placeholder
    return segment


class RouteTemplater:
    """Templates paths, with a bounded cache of recent results.

    Args:
        max_path_length: longer paths are cut there and marked with ``...``.
        cache_size: how many raw paths to remember (cleared whole when full,
            which keeps the hit path to one dict lookup).
    """

    def __init__(self, max_path_length: int = 256, cache_size: int = 4096) -> None:
        self.max_path_length = max_path_length
        self.cache_size = cache_size
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def template(self, path: str) -> str:
        cached = self._cache.get(path)
        if cached is not None:
            return cached
        result = self._template(path)
        with self._lock:
            if len(self._cache) >= self.cache_size:
                self._cache.clear()
            self._cache[path] = result
        return result

    def _template(self, path: str) -> str:
        if not path:
            return "/"
        limit = self.max_path_length
        path = path[: limit * 4]  # bounds the regex work on enormous paths
        if not path.startswith("/"):
            path = "/" + path
        result = "/".join(template_segment(segment) for segment in path.split("/"))
        if len(result) > limit:
            result = result[: limit - 3] + "..."  # the marker never matches a placeholder rule
        return result
