"""SQL fingerprinting: literals and parameters stripped, so one statement shape is one series."""

from __future__ import annotations

import re
import threading

__all__ = ["OPERATIONS", "fingerprint_sql"]

OPERATIONS = ("SELECT", "INSERT", "UPDATE", "DELETE", "OTHER")

_MAX_FINGERPRINT = 1000
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_STRINGS = re.compile(
    r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"(?=\s*(?:,|\)|$|=|<|>))|\$\$.*?\$\$", re.DOTALL
)
_NUMBERS = re.compile(r"(?<![\w$])[+-]?(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)\b")
_PARAMS = re.compile(r"%\(\w+\)s|%s|\$\d+|(?<![:\w]):\w+|\?")
_LISTS = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
_VALUES_ROWS = re.compile(r"(\(\?\+?\))(?:\s*,\s*\(\?\+?\))+")
_SPACE = re.compile(r"\s+")
_LEADING = re.compile(r"^\W*(\w+)")

_cache: dict[str, tuple[str, str]] = {}
_cache_lock = threading.Lock()
_CACHE_SIZE = 4096


def fingerprint_sql(sql: str) -> tuple[str, str]:
    """``(fingerprint, operation)`` of a statement; the operation is one of `OPERATIONS`.

    ``SELECT * FROM t WHERE id = 1`` and ``... id = 2`` share the fingerprint
    ``SELECT * FROM t WHERE id = ?``. Parameter values never appear in it.
    """
    hit = _cache.get(sql)
    if hit is not None:
        return hit
    result = _fingerprint(sql)
    with _cache_lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.clear()
        _cache[sql] = result
    return result


def _fingerprint(sql: str) -> tuple[str, str]:
    text = _COMMENTS.sub(" ", sql)
    text = _STRINGS.sub("?", text)
    text = _NUMBERS.sub("?", text)
    text = _PARAMS.sub("?", text)
    text = _SPACE.sub(" ", text).strip()
    text = _LISTS.sub("(?+)", text)
    text = _VALUES_ROWS.sub(r"\1", text)
    if len(text) > _MAX_FINGERPRINT:
        text = text[:_MAX_FINGERPRINT] + "..."
    match = _LEADING.match(text)
    first = match.group(1).upper() if match else ""
    if first == "WITH":
        # a CTE: the operation is the main statement's verb
        verbs = re.findall(r"\b(SELECT|INSERT|UPDATE|DELETE)\b", text.upper())
        first = verbs[-1] if verbs else "SELECT"
    operation = first if first in OPERATIONS else "OTHER"
    return text, operation
