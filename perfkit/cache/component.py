"""How a CacheManager plugs into the kit: stats, metrics, snapshot, alert input, reset."""

from __future__ import annotations

from collections.abc import Callable, Iterable
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

__all__ = ["CacheComponent"]


class CacheComponent:
    """The kit-facing methods of `CacheManager` (see `perfkit.component`)."""

    stats: CacheStats
    redis: RedisBackend | None
    memory: MemoryBackend
    router: Router
    clock: Clock
    log: InternalErrors
    mode: str
    namespace: str
    _counted: tuple[float, int | None] | None
    remote: Callable[[], RedisBackend | None]

    def close(self) -> None:
        raise NotImplementedError

    @property
    def cache_type(self) -> str:
        """``redis`` while Redis serves the calls, ``memory`` otherwise."""
        return self.router.cache_type

    def _count(self, max_age: float) -> int | None:
        now = self.clock.monotonic()
        if max_age > 0 and self._counted is not None and now - self._counted[0] <= max_age:
            return self._counted[1]
        total: int | None
        try:
            r = self.remote()
            total = r.count() if r is not None else self.memory.count()
        except CacheBackendError as exc:
            self.stats.error(fallback=False)
            self.log.report("Redis SCAN (stats)", exc, traceback=False)
            total = None if self.mode == "redis" else self.memory.count()
        self._counted = (now, total)
        return total

    def get_stats(self, max_age: float = 0.0) -> dict[str, Any]:
        """``cache_type, total_keys, hits, misses, total_requests, hit_rate`` (%) and more.

        Counting the keys SCANs the namespace in Redis; `max_age` > 0 reuses a
        count at most that many seconds old (the kit's snapshot passes 5).
        """
        total = self._count(max_age)
        stats: dict[str, Any] = {"cache_type": self.cache_type, "total_keys": total}
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

    def snapshot(self) -> dict[str, Any]:
        """The ``cache`` section of ``kit.snapshot()``: `get_stats()`, key count <= 5 s old."""
        return self.get_stats(max_age=5.0)

    def alert_metrics(self) -> dict[str, float | None]:
        """``cache.hit_rate`` in percent (None before the first lookup)."""
        counts = self.stats.to_dict()
        return {"cache.hit_rate": counts["hit_rate"] if counts["total_requests"] else None}

    def reset(self) -> None:
        """Zero the counters (the cached values stay)."""
        self.stats.reset()

    def stop(self) -> None:
        """Called by ``kit.stop()``: close the Redis connections (they reopen on use)."""
        self.close()
