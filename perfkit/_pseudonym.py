"""User ids replaced by a keyed hash (``user_id_hash_key``), the same everywhere.

Metrics and log lines use the same form (``u_`` + 16 hex digits of
HMAC-SHA256), so a pseudonymised id still joins the two without revealing the
address or name behind it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

__all__ = ["pseudonymiser"]

_MEMO_LIMIT = 10_000  # user ids are client-chosen: the memo is cleared past this


def pseudonymiser(key: str | None) -> Callable[[str], str] | None:
    """``f(user_id) -> "u_<hex>"`` for `key`, or None when no key is set (ids kept)."""
    if not key:
        return None
    secret = key.encode()
    memo: dict[str, str] = {}

    def pseudonymise(user: str) -> str:
        hit = memo.get(user)
        if hit is None:
            hit = "u_" + hmac.new(secret, user.encode(), hashlib.sha256).hexdigest()[:16]
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[user] = hit
        return hit

    return pseudonymise
