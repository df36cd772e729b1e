"""The rate limiter: the `limits` library's strategies over memory or Redis storage.

With a Redis URL the counters live in Redis, so a limit holds across every
process and host sharing it. When Redis fails, this process falls back to
its own in-memory counters at once (the request that met the failure pays
at most one `timeout`), so during an outage each process enforces the limit
on its own (a fleet of N processes allows up to N times the limit). A
background probe pings Redis every `retry_interval` seconds and switches
back when it answers; no request ever waits for Redis while it is down.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from ..errors import ConfigError, MissingDependencyError
from .spec import LimitSpec

__all__ = ["STRATEGIES", "Decision", "RateLimiter"]

STRATEGIES = ("moving-window", "sliding-window-counter", "fixed-window")


class Decision(NamedTuple):
    """The answer for one request: allowed or not, and the figures for the headers."""

    allowed: bool
    limit: int = 0  # the amount of the limit reported (0: no figures computed)
    remaining: int = 0
    reset: float = 0.0  # seconds until the reported window frees a slot
    window: int = 0  # the reported limit's window, seconds


ALLOWED = Decision(True)


def _limits() -> Any:
    try:
        import limits
        import limits.storage
        import limits.strategies
    except ImportError:
        raise MissingDependencyError("limits", "guards") from None
    return limits


def _memory_storage(lib: Any) -> Any:
    """limits' `MemoryStorage`, sweeping expired keys once a second instead of 10 ms after
    every hit (a thread start and a pass over every key each time, paid for by requests).

    Expiry is also checked on every read, so the sweep only frees memory; overriding the
    name-mangled hook is harmless if a later `limits` renames it (then its own runs).
    """

    class SweptMemoryStorage(lib.storage.MemoryStorage):  # type: ignore[misc]
        timer: threading.Timer

        def _MemoryStorage__schedule_expiry(self) -> None:
            if not self.timer.is_alive():
                self.timer = threading.Timer(1.0, self._MemoryStorage__expire_events)
                self.timer.daemon = True  # never keeps the interpreter alive
                self.timer.start()

    return SweptMemoryStorage()


class RateLimiter:
    """Checks limit specs for (scope, client) keys, in Redis or in memory.

    Args:
        strategy: ``moving-window`` (exact), ``sliding-window-counter`` (two
            counters per key, approximate) or ``fixed-window``.
        redis_url: counters in Redis (fleet-wide) when set, else in memory.
        namespace: Redis key prefix (e.g. ``perfkit:guards``).
        timeout: Redis socket timeouts, seconds.
        retry_interval: seconds between probes of a Redis that failed.
        on_storage_change: called with ``"redis"`` or ``"memory"`` on a switch.
    """

    def __init__(
        self,
        strategy: str = "moving-window",
        redis_url: str | None = None,
        namespace: str = "perfkit:guards",
        timeout: float = 0.25,
        retry_interval: float = 5.0,
        on_storage_change: Callable[[str, BaseException | None], None] | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ConfigError(f"rate limit strategy {strategy!r} is not one of {STRATEGIES}")
        lib = _limits()
        classes = {
            "moving-window": lib.strategies.MovingWindowRateLimiter,
            "sliding-window-counter": lib.strategies.SlidingWindowCounterRateLimiter,
            "fixed-window": lib.strategies.FixedWindowRateLimiter,
        }
        self.strategy = strategy
        self.retry_interval = retry_interval
        self.on_storage_change = on_storage_change
        self._memory = classes[strategy](_memory_storage(lib))
        self._redis_storage: Any = None
        self._redis: Any = None
        self._errors: tuple[type[BaseException], ...] = (OSError,)
        if redis_url:
            import redis

            self._redis_storage = lib.storage.RedisStorage(
                redis_url, key_prefix=namespace, wrap_exceptions=True,
                socket_timeout=timeout, socket_connect_timeout=timeout,
            )  # fmt: skip
            self._redis = classes[strategy](self._redis_storage)
            self._errors = (lib.errors.StorageError, redis.RedisError, OSError)
        self._items: dict[LimitSpec, Any] = {}
        self._parse = lib.parse
        self._down_at: float | None = None
        self._probing = False
        self._lock = threading.Lock()

    @property
    def storage(self) -> str:
        """``redis`` when counters are shared now, ``memory`` otherwise."""
        return "redis" if self._redis is not None and self._down_at is None else "memory"

    def item(self, spec: LimitSpec) -> Any:
        item = self._items.get(spec)
        if item is None:
            item = self._items[spec] = self._parse(spec.text)
        return item

    def hit(self, specs: Sequence[LimitSpec], scope: str, client: str, figures: bool) -> Decision:
        """Count one request of `client` against every spec; the first full one refuses it."""
        limiter = self._redis
        if limiter is None or (self._down_at is not None and not self._recovered()):
            return self._hit(self._memory, specs, scope, client, figures)
        try:
            return self._hit(limiter, specs, scope, client, figures)
        except self._errors as exc:
            self._went_down(exc)
            return self._hit(self._memory, specs, scope, client, figures)

    def _hit(
        self, limiter: Any, specs: Sequence[LimitSpec], scope: str, client: str, figures: bool
    ) -> Decision:
        best: Decision | None = None
        key = scope + "|" + client  # one identifier: limits escapes each one on every call
        for spec in specs:
            item = self.item(spec)
            if not limiter.hit(item, key):
                stats = limiter.get_window_stats(item, key)
                reset = max(stats.reset_time - time.time(), 0.0)
                return Decision(False, spec.amount, 0, reset, spec.seconds)
            if figures:
                stats = limiter.get_window_stats(item, key)
                remaining = max(int(stats.remaining), 0)
                if best is None or remaining < best.remaining:
                    reset = max(stats.reset_time - time.time(), 0.0)
                    best = Decision(True, spec.amount, remaining, reset, spec.seconds)
        return best or ALLOWED

    def _went_down(self, exc: BaseException) -> None:
        with self._lock:
            first = self._down_at is None
            self._down_at = time.monotonic()
        if first and self.on_storage_change is not None:
            self.on_storage_change("memory", exc)

    def _recovered(self) -> bool:
        """While Redis is down: start a background probe now and then; never wait for it."""
        with self._lock:
            down_at = self._down_at
            if down_at is None:
                return True
            if self._probing or time.monotonic() - down_at < self.retry_interval:
                return False
            self._probing = True
        threading.Thread(target=self._probe, name="perfkit-guards-probe", daemon=True).start()
        return False

    def _probe(self) -> None:
        try:
            healthy = bool(self._redis_storage.check())
        except Exception:  # check() swallows most errors itself; any other is "still down"
            healthy = False
        with self._lock:
            self._probing = False
            self._down_at = None if healthy else time.monotonic()
        if healthy and self.on_storage_change is not None:
            self.on_storage_change("redis", None)

    @staticmethod
    def retry_after(decision: Decision) -> int:
        """Whole seconds to wait (``Retry-After``), at least 1."""
        return max(1, math.ceil(decision.reset))

    def close(self) -> None:
        """Close the Redis connections (memory counters need nothing)."""
        storage = self._redis_storage
        if storage is not None:
            # closing a broken connection pool cannot fail the caller
            with contextlib.suppress(Exception):
                storage.get_connection().close()
