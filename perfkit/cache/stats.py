"""Cache counters, exact under concurrency."""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["CacheStats"]

_FIELDS = ("hits", "misses", "sets", "deletes", "errors", "fallbacks")


class CacheStats:
    """hits, misses, sets, deletes, errors and fallbacks behind one lock."""

    def __init__(self, lock: threading.Lock | None = None) -> None:
        self.hits = 0
        self.misses = 0
        self.sets = 0
        self.deletes = 0
        self.errors = 0
        self.fallbacks = 0
        # += on an attribute is not atomic across threads; exact counts need the lock
        self.lock = lock or threading.Lock()

    def add(self, hits: int = 0, misses: int = 0, sets: int = 0, deletes: int = 0) -> None:
        with self.lock:
            self.hits += hits
            self.misses += misses
            self.sets += sets
            self.deletes += deletes

    def error(self, fallback: bool) -> None:
        with self.lock:
            self.errors += 1
            if fallback:
                self.fallbacks += 1

    def fallback(self, n: int = 1) -> None:
        with self.lock:
            self.fallbacks += n

    def reset(self) -> None:
        with self.lock:
            for name in _FIELDS:
                setattr(self, name, 0)

    def to_dict(self) -> dict[str, Any]:
        with self.lock:
            counts = {name: getattr(self, name) for name in _FIELDS}
        total = counts["hits"] + counts["misses"]
        return {
            "hits": counts["hits"],
            "misses": counts["misses"],
            "total_requests": total,
            "hit_rate": round(100.0 * counts["hits"] / total, 2) if total else 0.0,
            "sets": counts["sets"],
            "deletes": counts["deletes"],
            "errors": counts["errors"],
            "fallbacks": counts["fallbacks"],
        }
