"""Route templating: turn raw paths into bounded-cardinality endpoint names.

``/users/123/orders/9f1c...`` becomes ``/users/{id}/orders/{uuid}``: numeric
ids, UUIDs, long hex/hash ids and dates become placeholders, so one endpoint
is one series whatever ids its URLs carry.

Endpoint names are public (labels on ``/metrics``), so whatever looks like a
secret or an address becomes a placeholder too: JWTs and other opaque tokens
(``{token}``) and e-mail addresses (``{email}``). Readable segments stay as
they are (``/blog/my-first-post``, ``/docs/GettingStarted``): they name a page,
and the series cap bounds how many of them are kept.
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
    # hashes, object ids, hex tokens: 16+ hex characters (no word is made of a-f alone)
    (re.compile(r"[0-9a-fA-F]{16,}"), "{hash}"),
)

# found anywhere in a segment: a JOSE header (every JWT, JWS and JWE starts with the
# base64url of '{"'), or an address (user@host, also percent-encoded)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}")
_EMAIL = re.compile(r"[^@\s]@[^@\s]|[^\s]%40[^\s]", re.IGNORECASE)

# opaque tokens (base64, base64url, base62): 20+ such characters with a digit or a capital
_TOKEN = re.compile(r"(?=.*[0-9A-Z])[A-Za-z0-9_+-]+={0,2}")
_MIN_TOKEN = 20
# a readable run between separators: a number, or words (an acronym first, then
# capitalised words, a version digit or two at the end): my, post, GettingStarted, HTTPServer, mp4
_READABLE_RUN = re.compile(r"\d+|(?:[A-Z]{2,5}|[A-Z]?[a-z]{2,}|[a-z])(?:[A-Z][a-z]{2,})*\d{0,4}")
_SEPARATORS = re.compile(r"[-_+.=]")
CUT = "..."  # the marker of a path cut at max_path_length


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
    return _secret_placeholder(segment) or segment


def _secret_placeholder(segment: str) -> str | None:
    if "eyJ" in segment and _JWT.search(segment):
        return "{token}"
    if ("@" in segment or "%" in segment) and _EMAIL.search(segment):
        return "{email}"
    if len(segment) >= _MIN_TOKEN and _TOKEN.fullmatch(segment) and not _readable(segment):
        return "{token}"
    return None


def _readable(segment: str) -> bool:
    """Whether every run between separators reads as words or a number (not random)."""
    return all(
        not run or _READABLE_RUN.fullmatch(run) for run in _SEPARATORS.split(segment.rstrip("="))
    )


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
        segments = [template_segment(segment) for segment in path.split("/")]
        if path.endswith(CUT):
            # the middleware cut this path inside its last segment: what is left of it
            # could be the start of a token or an address, which no rule can tell
            segments[-1] = CUT
        result = "/".join(segments)
        if len(result) > limit:
            # cut between segments, never inside one: a part of a segment could be
            # what is left of a secret, or look like one when templated again
            result = result[: limit - len(CUT)].rsplit("/", 1)[0] + "/" + CUT
        return result
