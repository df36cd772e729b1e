"""CacheManager: one cache API over memory, Redis, or Redis with a memory fallback."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from .._safety import InternalErrors
from ..clock import Clock, SystemClock
from ..component import Component
from ..errors import CacheBackendError
from ..metrics.families import MetricFamily
from .backends.memory import MemoryBackend
from .backends.redis import RedisBackend, make_pool
from .breaker import CircuitBreaker
from .component import CacheReport
from .keys import validate_key
from .routing import Router
from .serializers import (
    JsonSerializer,
    PickleSerializer,
    Serializer,
    decode_for,
    encode_for,
    make_serializer,
)
from .stats import CacheStats

__all__ = ["MISSING", "CacheManager"]

MISSING: Any = object()
"""Returned by internal lookups for "not in the cache" (None is a value)."""

_BACKENDS = ("auto", "memory", "redis")
# immutable values need no serialised copy in memory: nothing can mutate them
_IMMUTABLE = frozenset({str, int, float, bool})
_log = logging.getLogger("perfkit.cache")


def check_ttl(ttl: object, argument: str = "ttl") -> float | None:
    """Seconds as a float, None for "never expires" (0); errors name `argument`."""
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise TypeError(f"{argument} must be a number of seconds, got {ttl!r}")
    if not math.isfinite(ttl) or ttl < 0:
        raise ValueError(f"{argument} must be >= 0 seconds (0: never expires), got {ttl!r}")
    return float(ttl) if ttl > 0 else None


class CacheManager(Component):
    """A key-value cache with TTLs: in memory, in Redis, or Redis with a memory fallback.

    Values are stored as serialised copies, so mutating a value after `set`
    or after `get` never changes what the cache holds. In ``auto`` mode, keys
    written, deleted or cleared while Redis was unreachable are deleted from
    Redis (replayed) before it serves again, so no stale value comes back
    (see `perfkit.cache.journal`). Calls from coroutines use the same
    (blocking, short-timeout) Redis client.

    Args:
        backend: ``memory``, ``redis`` (errors raise `CacheBackendError`) or
            ``auto`` (Redis when `redis_url` is set and reachable, memory
            otherwise; never raises for Redis failures and goes back to
            Redis when it recovers).
        redis_url: ``redis://host:port/db`` (``redis`` defaults to localhost).
        redis_config: extra ``redis.ConnectionPool`` options (timeouts, pool size).
        default_ttl: seconds when `set` gets no ttl; 0 means never expires.
        maxsize: the most entries the memory backend keeps (LRU beyond).
        serializer: ``json`` (default), ``pickle`` (needs `signing_key`) or an
            object with ``dumps``/``loads``.
        namespace: Redis key prefix (default ``perfkit``); `clear()` only
            removes this namespace's keys.
        signing_key: HMAC key for pickled values.
        retry_interval: seconds between probes of an unreachable Redis.
        failure_threshold: consecutive Redis failures before falling back.
        use_redis: the spelling of hand-written cache modules: True is ``backend="auto"``
            with Redis tried even without `redis_url` (at ``redis://127.0.0.1:6379/0``),
            falling back to memory; False is ``backend="memory"``.
        clock: monotonic time for the memory TTLs and the breaker; wall time for
            ``@cached(stale_ttl=...)``.
    """

    def __init__(
        self,
        backend: str = "auto",
        redis_url: str | None = None,
        redis_config: Mapping[str, Any] | None = None,
        default_ttl: float = 300,
        maxsize: int = 10_000,
        serializer: str | Serializer = "json",
        namespace: str | None = None,
        *,
        signing_key: str | bytes | None = None,
        retry_interval: float = 5.0,
        failure_threshold: int = 2,
        clock: Clock | None = None,
        use_redis: bool | None = None,
    ) -> None:
        if use_redis is not None:
            if backend != "auto":
                raise ValueError(f"give backend= or use_redis=, not both (got {backend!r})")
            backend = "auto" if use_redis else "memory"
        if backend not in _BACKENDS:
            raise ValueError(f"backend must be one of auto, memory, redis, got {backend!r}")
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ValueError(f"maxsize must be an integer >= 1, got {maxsize!r}")
        if namespace is not None and (not isinstance(namespace, str) or not namespace.strip()):
            raise ValueError(f"namespace must be a non-empty string, got {namespace!r}")
        if redis_url is not None and not isinstance(redis_url, str):
            raise TypeError(f"redis_url must be a string, got {redis_url!r}")
        self.mode = backend
        self.default_ttl = check_ttl(default_ttl, "default_ttl")
        self.namespace = namespace or "perfkit"
        self.serializer = make_serializer(serializer, signing_key)
        self._fast = isinstance(self.serializer, (JsonSerializer, PickleSerializer))
        self.clock: Clock = clock or SystemClock()
        self.memory = MemoryBackend(maxsize, timer=self.clock.monotonic)
        self.redis: RedisBackend | None = None
        if backend == "redis" or (backend == "auto" and (redis_url or use_redis)):
            pool = make_pool(redis_url or "redis://127.0.0.1:6379/0", redis_config)
            self.redis = RedisBackend(pool, self.namespace)
        # memory only: one lock for the entries and the counters makes a hit one acquire
        self.stats = CacheStats(self.memory.lock if self.redis is None else None)
        self.log = InternalErrors(
            message="perfkit cache: %s failed (%d so far; served from memory): %r", logger=_log
        )
        self.router = Router(
            backend,
            self.redis,
            self.memory,
            self.stats,
            self.log,
            CircuitBreaker(failure_threshold, retry_interval, self.clock),
        )
        self.breaker = self.router.breaker
        self.journal = self.router.journal
        self.remote = self.router.remote
        self._failed = self.router.failed
        self._fell_back = self.router.fell_back
        self.report = CacheReport(
            self.stats, self.router, self.memory, self.redis, self.clock, self.log,
            self.mode, self.namespace,
        )  # fmt: skip

    # ----------------------------------------------- figures (component)
    @property
    def cache_type(self) -> str:
        """``redis`` while Redis serves the calls, ``memory`` otherwise."""
        return self.router.cache_type

    def get_stats(self, max_age: float = 0.0) -> dict[str, Any]:
        """``cache_type, total_keys, hits, misses, total_requests, hit_rate`` (%) and more.

        Counting the keys SCANs the namespace in Redis; `max_age` > 0 reuses a
        count at most that many seconds old (the kit's snapshot passes 5).
        """
        return self.report.summary(max_age)

    def collect(self) -> Iterable[MetricFamily]:
        return self.report.collect()

    def snapshot(self) -> dict[str, Any]:
        """The ``cache`` section of ``kit.snapshot()``: `get_stats()`, key count <= 5 s old."""
        return self.get_stats(max_age=5.0)

    def alert_metrics(self) -> dict[str, float | None]:
        return self.report.alert_metrics()

    def reset(self) -> None:
        """Zero the counters (the cached values stay)."""
        self.stats.reset()

    def stop(self) -> None:
        """Called by ``kit.stop()``: close the Redis connections (they reopen on use)."""
        self.close()

    # ------------------------------------------------------------ values
    def encode(self, value: Any, key: str) -> bytes:
        """`value` serialised for `key`; `TypeError` when the serializer cannot encode it.

        A signing serializer binds the bytes to `key` and the namespace: they
        decode under that key only (`decode`).
        """
        return encode_for(self.serializer, value, f"{self.namespace}\0{key}")

    def decode(self, key: str, data: bytes) -> Any:
        """What `encode` produced for `key`; `ValueError` for anything else."""
        return decode_for(self.serializer, data, f"{self.namespace}\0{key}")

    def _memory_payload(self, key: str, value: Any, data: bytes | None = None) -> object:
        if self._fast and type(value) in _IMMUTABLE:
            return value
        return self.encode(value, key) if data is None else data

    def _decode(self, key: str, payload: object) -> Any:
        if type(payload) is not bytes:
            return payload
        try:
            return self.decode(key, payload)
        except Exception as exc:  # planted, corrupt or foreign data is a miss, never a crash
            self.stats.error(fallback=False)
            # one kind, and no key: keys carry arguments (user ids) and are unbounded
            self.log.report("decoding a cached value", exc, traceback=False)
            return MISSING

    def _memory_lookup(self, key: str, count: bool) -> Any:
        stats = self.stats
        with self.memory.lock:  # also the counters' lock (see __init__)
            entry = self.memory.entries.get(key)
            if count:
                if entry is None:
                    stats.misses += 1
                else:
                    stats.hits += 1
        if entry is None:
            return MISSING
        value = self._decode(key, entry[0])
        if value is MISSING and count:
            stats.add(hits=-1, misses=1)  # undecodable: a miss after all
        return value

    def lookup(self, key: str, count: bool = True) -> Any:
        """The value under the validated `key` or `MISSING`; counts a hit or a miss."""
        if self.redis is None:
            return self._memory_lookup(key, count)
        payload: object = None
        r = self.remote()
        if r is not None:
            try:
                payload = r.get(key)
            except CacheBackendError as exc:
                self._failed("GET", exc)
                payload = self.memory.get(key)
        else:
            self._fell_back()
            payload = self.memory.get(key)
        value = MISSING if payload is None else self._decode(key, payload)
        if count:
            self.stats.add(hits=value is not MISSING, misses=value is MISSING)
        return value

    def store(self, key: str, value: Any, ttl: float | None, data: bytes | None = None) -> None:
        """Store under the validated `key` for `ttl` seconds (None: no expiry).

        `data` is `value` already encoded, when the caller has it.
        """
        r = self.remote()
        if r is not None:
            data = self.encode(value, key) if data is None else data
            try:
                r.set(key, data, ttl)
                self.stats.add(sets=1)
                return
            except CacheBackendError as exc:
                self._failed("SET", exc)
            self.journal.touch((key,))
            self.memory.set(key, self._memory_payload(key, value, data), ttl)
        else:
            payload = self._memory_payload(key, value, data)
            self._fell_back((key,), write=True)
            self.memory.set(key, payload, ttl)
        self.stats.add(sets=1)

    # ------------------------------------------------------------ public API
    def get(self, key: str | int, default: Any = None) -> Any:
        """The cached value of `key`, or `default` when missing or expired."""
        value = self.lookup(validate_key(key))
        return default if value is MISSING else value

    def set(self, key: str | int, value: Any, ttl: float | None = None) -> None:
        """Cache `value` under `key` for `ttl` seconds (default_ttl; 0: never expires).

        Raises `TypeError` when the serializer cannot encode `value`; nothing is written then.
        """
        k = validate_key(key)
        self.store(k, value, self.default_ttl if ttl is None else check_ttl(ttl))

    def delete(self, key: str | int) -> bool:
        """Remove `key`; True when it was there (auto mode during an outage: in memory)."""
        k = validate_key(key)
        r = self.remote()
        removed = False
        if r is not None:
            try:
                removed = r.delete(k)
            except CacheBackendError as exc:
                self._failed("DELETE", exc)
                self.journal.touch((k,))
                removed = self.memory.delete(k)
        else:
            self._fell_back((k,), write=True)
            removed = self.memory.delete(k)
        if removed:
            self.stats.add(deletes=1)
        return removed

    def exists(self, key: str | int) -> bool:
        """True when `key` holds an unexpired value (not counted as a hit or miss)."""
        k = validate_key(key)
        r = self.remote()
        if r is not None:
            try:
                return r.exists(k)
            except CacheBackendError as exc:
                self._failed("EXISTS", exc)
        else:
            self._fell_back()
        return self.memory.exists(k)

    def clear(self) -> int:
        """Remove every key of this cache's namespace (never FLUSHDB); the number removed."""
        r = self.remote()
        removed = 0
        if r is not None:
            try:
                removed = r.clear()
            except CacheBackendError as exc:
                self._failed("CLEAR", exc)
                self.journal.clear_all()
        elif self.redis is not None:
            self.stats.fallback()
            self.journal.clear_all()
        removed += self.memory.clear()
        self.stats.add(deletes=removed)
        return removed

    def get_many(self, keys: Iterable[str | int]) -> dict[str | int, Any]:
        """The cached values of `keys` that are present (one round trip to Redis)."""
        given = list(keys)
        names = [validate_key(k, f"keys[{i}]") for i, k in enumerate(given)]
        r = self.remote()
        payloads: list[object | None]
        if r is not None:
            try:
                payloads = r.get_many(names)
            except CacheBackendError as exc:
                self._failed("MGET", exc)
                payloads = self.memory.get_many(names)
        else:
            self._fell_back()
            payloads = self.memory.get_many(names)
        found: dict[str | int, Any] = {}
        for original, name, payload in zip(given, names, payloads, strict=True):
            value = MISSING if payload is None else self._decode(name, payload)
            if value is not MISSING:
                found[original] = value
        self.stats.add(hits=len(found), misses=len(given) - len(found))
        return found

    def set_many(self, mapping: Mapping[str | int, Any], ttl: float | None = None) -> None:
        """Cache every item of `mapping` with one TTL; all values are encoded before any write."""
        life = self.default_ttl if ttl is None else check_ttl(ttl)
        items = {validate_key(k, "mapping key"): v for k, v in mapping.items()}
        encoded: dict[str, bytes] = {}
        for k, v in items.items():
            try:
                encoded[k] = self.encode(v, k)
            except TypeError as exc:
                raise TypeError(f"value for key {k!r}: {exc}") from None
        r = self.remote()
        if r is not None:
            try:
                r.set_many(encoded, life)
                self.stats.add(sets=len(items))
                return
            except CacheBackendError as exc:
                self._failed("SET (many)", exc)
            self.journal.touch(items)
        else:
            self._fell_back(items, write=True)
        self.memory.set_many(
            {k: self._memory_payload(k, v, encoded.get(k)) for k, v in items.items()}, life
        )
        self.stats.add(sets=len(items))

    def clear_prefix(self, prefix: str) -> int:
        """Remove the keys that start with `prefix` (what ``@cached``'s clear_cache uses)."""
        r = self.remote()
        removed = 0
        if r is not None:
            try:
                removed = r.delete_prefix(prefix)
            except CacheBackendError as exc:
                self._failed("CLEAR (prefix)", exc)
                self.journal.clear_all()  # a prefix is not replayable key by key
        elif self.redis is not None:
            self.stats.fallback()
            self.journal.clear_all()
        removed += self.memory.delete_prefix(prefix)
        self.stats.add(deletes=removed)
        return removed

    def lock_client(self) -> Any:
        """The Redis client for cross-process locks while Redis serves, else None."""
        r = self.remote()
        return None if r is None else r.client

    def lock_name(self, key: str) -> str:
        """The Redis key of the single-flight lock of `key` (outside the cleared namespace)."""
        return f"{self.namespace}:cachelock:{key}"

    def close(self) -> None:
        """Close the Redis connections (they reopen on next use)."""
        if self.redis is not None:
            self.redis.close()

    def __enter__(self) -> CacheManager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
