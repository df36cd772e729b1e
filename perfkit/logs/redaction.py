"""Redaction of secrets in log data: keys, nested structures, headers and query strings.

A key is sensitive when, lower-cased with ``-`` turned into ``_``, it contains
one of the configured words (so ``X-Api-Key``, ``db_password`` and
``refresh_token`` all match). Matching by substring errs on the side of hiding
too much, which is the cheaper mistake in a log file. Words of four letters or
fewer (``auth``, ``pwd``, ``jwt``, ``dsn``) must be a whole part of the key
(``basic_auth``, ``X-Auth``), so ``author`` and ``:authority`` stay visible.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote

from .._secrets import DEFAULT_SECRET_WORDS, normalise, secret_name_matcher

__all__ = ["DEFAULT_REDACT_KEYS", "REDACTED", "Redactor"]

DEFAULT_REDACT_KEYS: tuple[str, ...] = DEFAULT_SECRET_WORDS
REDACTED = "[REDACTED]"

# Keys whose string value may carry a query string (``a=1&token=x``).
_QUERY_KEYS = frozenset(
    {"query_string", "query", "querystring", "path", "url", "uri", "full_path", "referer",
     "raw_path", "request_uri", "location"}
)  # fmt: skip
_MAX_DEPTH = 8  # deeper structures are summarised, not walked (cycles, huge trees)
_MAX_ITEMS = 1000  # items kept per container; the rest is summarised


class Redactor:
    """Replace the values of sensitive keys with ``[REDACTED]``.

    Args:
        keys: words that mark a key as sensitive (case-insensitive substrings);
            `DEFAULT_REDACT_KEYS` when omitted.
    """

    def __init__(self, keys: Iterable[str] | None = None) -> None:
        words = DEFAULT_REDACT_KEYS if keys is None else tuple(keys)
        self.keys = tuple(sorted({normalise(k) for k in words if k and k.strip()}))
        self._is_secret = secret_name_matcher(self.keys)

    def is_sensitive(self, key: str) -> bool:
        """Whether the value stored under `key` must be hidden."""
        return self._is_secret(key)

    def redact(self, value: Any, key: str | None = None, _depth: int = 0) -> Any:
        """A JSON-friendly copy of `value` with sensitive entries hidden.

        Dicts and lists are walked (to a bounded depth); dict keys become
        strings; a list of ``(name, value)`` pairs is treated like headers;
        strings under URL-ish keys get their query parameters redacted.
        Leaves other than dicts, lists and tuples are returned unchanged.
        """
        if key is not None and self.is_sensitive(key):
            return REDACTED
        if isinstance(value, str):
            if key is not None and key.lower() in _QUERY_KEYS and "=" in value:
                return self.redact_url(value)
            return value
        if isinstance(value, Mapping):
            if _depth >= _MAX_DEPTH:
                return f"<{type(value).__name__} nested too deep>"
            out: dict[str, Any] = {}
            for i, (k, v) in enumerate(value.items()):
                if i >= _MAX_ITEMS:
                    out["..."] = f"{len(value) - _MAX_ITEMS} more items"
                    break
                name = k if isinstance(k, str) else str(k)
                out[name] = self.redact(v, name, _depth + 1)
            return out
        if isinstance(value, (list, tuple, set, frozenset)):
            if _depth >= _MAX_DEPTH:
                return f"<{type(value).__name__} nested too deep>"
            items = list(value)[:_MAX_ITEMS]
            kept = [self._item(v, _depth + 1) for v in items]
            if len(value) > _MAX_ITEMS:
                kept.append(f"... {len(value) - _MAX_ITEMS} more items")
            return kept
        return value

    def _item(self, value: Any, depth: int) -> Any:
        # ("Authorization", "Bearer x") inside a header list: the name decides
        if (
            isinstance(value, (tuple, list))
            and len(value) == 2
            and isinstance(value[0], str)
            and self.is_sensitive(value[0])
        ):
            return [value[0], REDACTED]
        return self.redact(value, None, depth)

    def redact_headers(
        self, headers: Mapping[str, Any] | Iterable[tuple[str, Any]]
    ) -> dict[str, Any]:
        """Headers (a mapping or ``(name, value)`` pairs) as a dict, secrets hidden."""
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        out: dict[str, Any] = {}
        for name, value in pairs:
            if isinstance(name, bytes):
                name = name.decode("latin-1")
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            out[str(name)] = REDACTED if self.is_sensitive(str(name)) else value
        return out

    def redact_query(self, query: str) -> str:
        """A query string (``a=1&token=x``) with sensitive parameters' values hidden."""
        if not query or "=" not in query:
            return query
        pairs = parse_qsl(query, keep_blank_values=True)
        if not any(self.is_sensitive(k) for k, _ in pairs):
            return query  # keep the original spelling when nothing is hidden
        return "&".join(
            f"{quote(k, safe='')}={REDACTED if self.is_sensitive(k) else quote(v, safe='')}"
            for k, v in pairs
        )

    def redact_url(self, url: str) -> str:
        """A path or URL with sensitive query parameters hidden (``/x?token=...``)."""
        if "?" in url:
            base, _, rest = url.partition("?")
            query, hash_sign, fragment = rest.partition("#")
            return f"{base}?{self.redact_query(query)}{hash_sign}{fragment}"
        if "/" not in url and "=" in url:
            return self.redact_query(url)  # a bare query string
        return url
