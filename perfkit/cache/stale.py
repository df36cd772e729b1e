"""Serve-stale-while-revalidate for ``@cached(stale_ttl=...)``.

With a `stale_ttl`, an entry is stored as ``[fresh_until, value]`` (wall-clock
seconds, so every process agrees) and kept `stale_ttl` seconds longer than its
ttl. A lookup past ``fresh_until`` still has the value: one caller (one per
key in the process, and one process through a `RedisLock`) recomputes it
while every other caller gets the stale value at once.
"""

from __future__ import annotations

import math
import threading
from typing import Any

__all__ = ["Refreshes", "envelope", "open_envelope"]


def envelope(now: float, ttl: float | None, value: Any) -> list[Any]:
    """What is stored for `value` computed at `now` and fresh for `ttl` seconds (None: always)."""
    return [now + (math.inf if ttl is None else ttl), value]


def open_envelope(found: Any, now: float, missing: Any) -> tuple[Any, bool]:
    """``(value, stale)`` of a stored envelope; ``(missing, False)`` for anything else."""
    if (
        isinstance(found, list)
        and len(found) == 2
        and isinstance(found[0], (int, float))
        and not isinstance(found[0], bool)
    ):
        return found[1], now >= found[0]
    return missing, False  # absent, or written by a version of the function without stale_ttl


class Refreshes:
    """The keys being refreshed in this process; at most one refresher per key."""

    def __init__(self) -> None:
        self._slots: set[str] = set()
        self._lock = threading.Lock()

    def claim(self, slot: str) -> bool:
        """True for the caller that should refresh `slot` (it must call `done`)."""
        with self._lock:
            if slot in self._slots:
                return False
            self._slots.add(slot)
            return True

    def done(self, slot: str) -> None:
        with self._lock:
            self._slots.discard(slot)
