"""The in-memory backend: a cachetools TLRU cache (per-key TTL, LRU bound)."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cachetools import TLRUCache

__all__ = ["MemoryBackend"]


def _expiry(_key: str, entry: tuple[object, float], now: float) -> float:
    return now + entry[1]


class MemoryBackend:
    """Payloads in a bounded TLRU cache; each entry expires after its own TTL.

    Args:
        maxsize: how many entries at most; the least recently used goes first.
        timer: monotonic seconds (tests pass a FakeClock's ``monotonic``).
    """

    name = "memory"

    def __init__(self, maxsize: int = 10_000, timer: Callable[[], float] | None = None) -> None:
        kwargs: dict[str, Any] = {} if timer is None else {"timer": timer}
        self.entries: TLRUCache[str, tuple[object, float]] = TLRUCache(maxsize, _expiry, **kwargs)
        # cachetools caches are not thread-safe; one lock keeps the LRU order consistent
        # (CacheManager shares it with its counters when memory is the only backend)
        self.lock = threading.Lock()

    def get(self, key: str) -> object | None:
        with self.lock:
            entry = self.entries.get(key)
        return None if entry is None else entry[0]

    def get_many(self, keys: Iterable[str]) -> list[object | None]:
        with self.lock:
            entries = [self.entries.get(key) for key in keys]
        return [None if e is None else e[0] for e in entries]

    def set(self, key: str, payload: object, ttl: float | None) -> None:
        entry = (payload, math.inf if ttl is None else ttl)
        with self.lock:
            self.entries[key] = entry

    def set_many(self, items: Mapping[str, object], ttl: float | None) -> None:
        life = math.inf if ttl is None else ttl
        with self.lock:
            for key, payload in items.items():
                self.entries[key] = (payload, life)

    def delete(self, key: str) -> bool:
        with self.lock:
            return self.entries.pop(key, None) is not None

    def delete_prefix(self, prefix: str) -> int:
        with self.lock:
            doomed = [k for k in self.entries if k.startswith(prefix)]
            for k in doomed:
                self.entries.pop(k, None)
        return len(doomed)

    def exists(self, key: str) -> bool:
        with self.lock:
            return key in self.entries

    def clear(self) -> int:
        with self.lock:
            self.entries.expire()
            n = len(self.entries)
            self.entries.clear()
        return n

    def count(self) -> int:
        with self.lock:
            self.entries.expire()
            return len(self.entries)

    def close(self) -> None:
        """Nothing to release."""
