"""Which backend serves a call in ``auto`` mode, and the way back to Redis after an outage."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from .._safety import InternalErrors
from ..errors import CacheBackendError
from .backends.memory import MemoryBackend
from .backends.redis import RedisBackend
from .breaker import CircuitBreaker
from .journal import OutageJournal
from .stats import CacheStats

__all__ = ["Router"]


class Router:
    """Routes calls to Redis or to memory; counts, logs and recovers.

    In ``redis`` mode Redis always serves and failures raise. In ``auto``
    mode a failure falls back to memory, the breaker stops further attempts
    for a while, writes made meanwhile go to the `OutageJournal`, and the
    first call after the outage replays the journal before Redis serves again.
    """

    def __init__(
        self,
        mode: str,
        redis: RedisBackend | None,
        memory: MemoryBackend,
        stats: CacheStats,
        log: InternalErrors,
        breaker: CircuitBreaker,
    ) -> None:
        self.mode = mode
        self.redis = redis
        self.memory = memory
        self.stats = stats
        self.log = log
        self.breaker = breaker
        self.journal = OutageJournal()
        self._sync_lock = threading.Lock()

    def remote(self) -> RedisBackend | None:
        """The Redis backend when it should serve this call, else None (memory)."""
        r = self.redis
        if r is None or self.mode == "redis":
            return r
        if not self.breaker.allow():
            if not self.breaker.try_probe():
                return None
            return r if self._sync(r, probe=True) else None
        if self.journal:
            return r if self._sync(r, probe=False) else None
        return r

    def _sync(self, r: RedisBackend, probe: bool) -> bool:
        """Undo in Redis what changed in memory meanwhile (see `journal`), then use Redis."""
        with self._sync_lock:
            try:
                if probe:
                    r.ping()
                cleared, keys = self.journal.take()
                try:
                    if cleared:
                        r.clear()
                    elif keys:
                        r.delete_many(keys)
                except CacheBackendError:
                    self.journal.restore(cleared, keys)
                    raise
            except CacheBackendError as exc:
                self.failed("recovery", exc, count_fallback=False)
                return False
            # what memory holds now would be stale during the next outage
            self.memory.clear()
            self.breaker.success()
            return True

    def failed(self, what: str, exc: CacheBackendError, count_fallback: bool = True) -> None:
        """Count, log (rate-limited) and tell the breaker; re-raise in ``redis`` mode."""
        self.stats.error(fallback=count_fallback and self.mode == "auto")
        if self.mode == "redis":
            raise exc
        self.breaker.failure()
        self.log.report(f"Redis {what}", exc, traceback=False)

    def fell_back(self, keys: Iterable[str] = (), write: bool = False) -> None:
        """Count a call served by memory because Redis is out; journal the keys it wrote."""
        if self.redis is not None:
            self.stats.fallback()
            if write:
                self.journal.touch(keys)

    @property
    def cache_type(self) -> str:
        """``redis`` while Redis serves the calls, ``memory`` otherwise."""
        if self.redis is not None and (self.mode == "redis" or self.breaker.allow()):
            return "redis"
        return "memory"
