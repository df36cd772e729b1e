"""What counts as a secret, in one place: the words, name matching and URL masking.

The log redactor, the settings' ``repr``/``to_dict`` (and so ``GET /api/config``)
and every URL perfkit shows (backups, health checks) use these, so a secret
hidden in one place is hidden in all of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, quote

__all__ = ["DEFAULT_SECRET_WORDS", "MASK", "mask_url", "normalise", "secret_name_matcher"]

# A name containing one of these (lower case, ``-`` as ``_``) holds a secret.
DEFAULT_SECRET_WORDS: tuple[str, ...] = (
    "password", "passwd", "passphrase", "pwd", "secret", "token", "jwt", "api_key",
    "apikey", "access_key", "private_key", "auth", "authorization", "cookie", "credential",
    "session_id", "sessionid", "signature", "dsn",
)  # fmt: skip
MASK = "***"

_WHOLE_PART_MAX = 4  # words this short match only a whole part of a name
_PART = re.compile(r"[^a-z0-9]+")
_MEMO_LIMIT = 4096  # names can be attacker-chosen (headers): the memo stays bounded


def normalise(name: str) -> str:
    """`name` lower-cased with ``-`` as ``_`` (``X-Api-Key`` -> ``x_api_key``)."""
    return name.strip().lower().replace("-", "_")


def secret_name_matcher(words: Iterable[str] | None = None) -> Callable[[str], bool]:
    """``is_secret(name)`` for `words` (`DEFAULT_SECRET_WORDS` when None).

    A word of more than four letters matches anywhere in the name
    (``db_password``); a shorter one (``auth``, ``pwd``) only as a whole part
    (``basic_auth``, ``x-auth``), so ``author`` is not taken for a secret.
    """
    chosen = {normalise(w) for w in (DEFAULT_SECRET_WORDS if words is None else words) if w}
    chosen.discard("")
    inside = tuple(sorted(w for w in chosen if len(w) > _WHOLE_PART_MAX))
    parts = frozenset(w for w in chosen if len(w) <= _WHOLE_PART_MAX)
    memo: dict[str, bool] = {}

    def is_secret(name: str) -> bool:
        hit = memo.get(name)
        if hit is None:
            norm = normalise(name)
            hit = any(w in norm for w in inside) or (
                bool(parts) and not parts.isdisjoint(_PART.split(norm))
            )
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[name] = hit
        return hit

    return is_secret


_is_secret = secret_name_matcher()


def mask_url(url: str) -> str:
    """`url` with its password and secret query parameters shown as ``***``.

    ``redis://u:pw@h/0?password=x&db=1`` -> ``redis://u:***@h/0?password=***&db=1``.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _mask_query_part(url)
    authority, slash, tail = rest.partition("/")
    if "?" in authority and not slash:  # redis://h:6379?password=x
        authority, mark, query = authority.partition("?")
        tail, slash = mark + query, ""
    if "@" in authority:
        creds, _, host = authority.rpartition("@")
        if ":" in creds:
            authority = f"{creds.split(':', 1)[0]}:{MASK}@{host}"
    return f"{scheme}://{authority}{slash}{_mask_query_part(tail)}"


def _mask_query_part(text: str) -> str:
    """The part after ``?`` (before ``#``) of `text` with secret parameters masked."""
    base, mark, rest = text.partition("?")
    if not mark:
        return text
    query, hash_sign, fragment = rest.partition("#")
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(_is_secret(k) for k, _ in pairs):
        return text
    shown = "&".join(
        f"{quote(k, safe='')}={MASK if _is_secret(k) else quote(v, safe='')}" for k, v in pairs
    )
    return f"{base}?{shown}{hash_sign}{fragment}"
