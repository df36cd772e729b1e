"""What a `CacheManager` reports to the kit: stats, Prometheus families and alert input.

`CacheReport` reads the manager's parts (counters, router, backends); the
manager owns one and answers the component methods through it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..errors import CacheBackendError
from ..metrics.families import MetricFamily

if TYPE_CHECKING:
    from .._safety import InternalErrors
    from ..clock import Clock
    from .backends.memory import MemoryBackend
    from .backends.redis import RedisBackend
    from .routing import Router
    from .stats import CacheStats

__all__ = ["CacheReport"]


class CacheReport:
    """The figures of one cache: key count (SCAN in Redis, cached), hits, misses, pool."""

    def __init__(
        self,
        stats: CacheStats,
        router: Router,
        memory: MemoryBackend,
        redis: RedisBackend | None,
        clock: Clock,
        log: InternalErrors,
        mode: str,
        namespace: str,
    ) -> None:
        self.stats, self.router, self.memory, self.redis = stats, router, memory, redis
        self.clock, self.log, self.mode, self.namespace = clock, log, mode, namespace
        self._counted: tuple[float, int | None] | None = None  # (when, key count)
        self._lock = threading.Lock()

    def count(self, max_age: float) -> int | None:
        """The number of keys, reusing a count at most `max_age` seconds old; None when
        Redis (in ``redis`` mode) cannot say."""
        now = self.clock.monotonic()
        with self._lock:
            counted = self._counted
        if max_age > 0 and counted is not None and now - counted[0] <= max_age:
            return counted[1]
        total: int | None
        try:
            r = self.router.remote()
            total = r.count() if r is not None else self.memory.count()
        except CacheBackendError as exc:
            self.stats.error(fallback=False)
            self.log.report("Redis SCAN (stats)", exc, traceback=False)
            total = None if self.mode == "redis" else self.memory.count()
        with self._lock:
            self._counted = (now, total)
        return total

    def summary(self, max_age: float = 0.0) -> dict[str, Any]:
        """``cache_type, total_keys, hits, misses, total_requests, hit_rate`` (%) and more."""
        total = self.count(max_age)
        stats: dict[str, Any] = {"cache_type": self.router.cache_type, "total_keys": total}
        stats.update(self.stats.to_dict())
        stats.update(backend=self.mode, namespace=self.namespace, circuit=self.router.breaker.state)
        return stats

    def collect(self) -> Iterable[MetricFamily]:
        """``app_cache_hits_total``, ``app_cache_misses_total`` and, with Redis, the pool."""
        counts = self.stats.to_dict()
        hits = MetricFamily("app_cache_hits", "counter", "Cache lookups that found a value.")
        hits.add(counts["hits"], "_total")
        misses = MetricFamily("app_cache_misses", "counter", "Cache lookups that found nothing.")
        misses.add(counts["misses"], "_total")
        families = [hits, misses]
        if self.redis is not None:
            in_use, idle = self.redis.connections()
            pool = MetricFamily(
                "app_redis_connections", "gauge", "Connections in the cache's Redis pool."
            )
            pool.add(in_use, state="in_use")
            pool.add(idle, state="idle")
            families.append(pool)
        return families

    def alert_metrics(self) -> dict[str, float | None]:
        """``cache.hit_rate`` in percent (None before the first lookup)."""
        counts = self.stats.to_dict()
        return {"cache.hit_rate": counts["hit_rate"] if counts["total_requests"] else None}
