"""SQL fingerprinting: literals and parameters stripped, so one statement shape is one series.

Literals are found by one left-to-right scan (comments, ``'…'`` with ``''``
and backslash escapes, ``E'…'``, ``$tag$…$tag$``, ``"…"``), so a quote inside a
comment or another string never confuses it; an unterminated literal swallows
the rest of the statement rather than leaking it. A ``"…"`` is an identifier in
standard SQL but a string in MySQL: it is taken as a literal where a value
stands (after ``=``, ``LIKE``, ``IN (``, ``,``, ``THEN``…, or before ``=``, ``,``,
``)``), and kept where it is qualified (``"s"."t"``) or names a column.
"""

from __future__ import annotations

import hashlib
import re
import threading

__all__ = ["OPERATIONS", "fingerprint_sql"]

OPERATIONS = ("SELECT", "INSERT", "UPDATE", "DELETE", "OTHER")

_MAX_FINGERPRINT = 1000
_LITERALS = re.compile(
    r"""(?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
      | (?P<single>(?:(?<![\w$])[EeBbXxNn])?'(?:[^'\\]|\\.|'')*(?:'|\Z))
      | (?P<dollar>\$(?P<tag>(?:[A-Za-z_]\w*)?)\$.*?(?:\$(?P=tag)\$|\Z))
      | (?P<double>"(?:[^"\\]|\\.|"")*(?:"|\Z))""",
    re.DOTALL | re.VERBOSE,
)
_VALUE_BEFORE = re.compile(
    r"(?:[=<>!,(+\-*/%|]|\b(?:LIKE|ILIKE|RLIKE|REGEXP|IN|BETWEEN|AND|OR|NOT|IS|THEN|ELSE"
    r"|WHEN|VALUES|LIMIT|OFFSET|CASE|SET))\s*\Z",
    re.IGNORECASE,
)
_VALUE_AFTER = re.compile(r"\s*(?:[,)=<>!;|]|\Z)")
_NUMBERS = re.compile(r"(?<![\w$])[+-]?(?:0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)\b")
_PARAMS = re.compile(r"%\(\w+\)s|%s|\$\d+|(?<![:\w]):\w+|\?")
_LISTS = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
_VALUES_ROWS = re.compile(r"(\(\?\+?\))(?:\s*,\s*\(\?\+?\))+")
_SPACE = re.compile(r"\s+")
_LEADING = re.compile(r"^\W*(\w+)")

# The memo is bounded by count and by bytes: statements can be huge (bulk
# inserts), so a long text is remembered by its digest, never kept itself.
_CACHE_SIZE = 4096
_CACHE_BYTES = 4 * 1024 * 1024
_KEY_AS_TEXT_MAX = 512  # longer statements are keyed by a 16-byte digest
_cache: dict[str | bytes, tuple[str, str]] = {}
_cache_bytes = 0
_cache_lock = threading.Lock()


def fingerprint_sql(sql: str) -> tuple[str, str]:
    """``(fingerprint, operation)`` of a statement; the operation is one of `OPERATIONS`.

    ``SELECT * FROM t WHERE id = 1`` and ``... id = 2`` share the fingerprint
    ``SELECT * FROM t WHERE id = ?``. Parameter values never appear in it.
    """
    global _cache_bytes
    key: str | bytes = sql
    if len(sql) > _KEY_AS_TEXT_MAX:
        key = hashlib.blake2b(sql.encode("utf-8", "surrogatepass"), digest_size=16).digest()
    hit = _cache.get(key)
    if hit is not None:
        return hit
    result = _fingerprint(sql)
    cost = len(key) + len(result[0]) + 64  # + the dict slot and tuple, roughly
    with _cache_lock:
        if len(_cache) >= _CACHE_SIZE or _cache_bytes + cost > _CACHE_BYTES:
            _cache.clear()
            _cache_bytes = 0
        if key not in _cache:
            _cache[key] = result
            _cache_bytes += cost
    return result


def _literal(match: re.Match[str]) -> str:
    kind = match.lastgroup
    if kind == "comment":
        return " "
    if kind != "double":
        return "?"
    text, start, end = match.string, match.start(), match.end()
    if text[end : end + 1] == "." or text[max(start - 1, 0) : start] == ".":
        return match.group()  # "schema"."table": an identifier
    if _VALUE_BEFORE.search(text, max(start - 16, 0), start) or _VALUE_AFTER.match(text, end):
        return "?"  # where a value stands: a MySQL string
    return match.group()


def _fingerprint(sql: str) -> tuple[str, str]:
    text = _LITERALS.sub(_literal, sql)
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
