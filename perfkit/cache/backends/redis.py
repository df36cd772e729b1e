"""The Redis backend: redis-py with a connection pool and short timeouts.

Every key lives under ``<namespace>:cache:``; `clear()` removes only those
keys with SCAN + UNLINK (never FLUSHDB), so several caches and other data can
share one database. Redis errors are translated to `CacheBackendError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from ..._secrets import mask_url
from ...errors import CacheBackendError

__all__ = ["DEFAULT_REDIS_OPTIONS", "RedisBackend", "make_pool"]

DEFAULT_REDIS_OPTIONS: dict[str, Any] = {
    # a cache that waits seconds for Redis is worse than no cache
    "socket_timeout": 0.5,
    "socket_connect_timeout": 0.5,
    "max_connections": 50,
    "health_check_interval": 30,
}


def make_pool(url: str, options: Mapping[str, Any] | None = None) -> Any:
    """A ``redis.ConnectionPool`` for `url` (nothing is connected yet).

    Raises `ValueError` naming ``redis_url`` when the URL does not parse.
    """
    import redis

    if not isinstance(url, str) or not url:
        raise ValueError(f"redis_url must be a redis://, rediss:// or unix:// URL, got {url!r}")
    if options is not None and not isinstance(options, Mapping):
        raise TypeError(f"redis_config must be a mapping of pool options, got {options!r}")
    kwargs = {**DEFAULT_REDIS_OPTIONS, **(options or {})}
    try:
        pool = redis.ConnectionPool.from_url(url, **kwargs)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"redis_url {mask_url(url)!r} is not valid: {exc} "
            "(expected e.g. redis://127.0.0.1:6379/0)"
        ) from None
    try:
        # building (not connecting) one connection checks the options now, not at first use
        pool.connection_class(**pool.connection_kwargs)
    except TypeError as exc:
        raise ValueError(f"redis_config has an option redis-py does not know: {exc}") from None
    return pool


def _escape_glob(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _millis(ttl: float) -> int:
    return max(1, round(ttl * 1000))


class RedisBackend:
    """Payloads in Redis under ``<namespace>:cache:<key>``.

    Args:
        pool: a ``redis.ConnectionPool`` (see `make_pool`).
        namespace: the key prefix shared with the rest of perfkit.
    """

    name = "redis"

    def __init__(self, pool: Any, namespace: str) -> None:
        import redis

        self.pool = pool
        self.client = redis.Redis(connection_pool=pool)
        self.prefix = f"{namespace}:cache:"
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except self._errors as exc:
            raise CacheBackendError(f"Redis {what} failed: {type(exc).__name__}: {exc}") from exc

    def ping(self) -> None:
        self._call("PING", self.client.ping)

    def get(self, key: str) -> bytes | None:
        result: bytes | None = self._call("GET", self.client.get, self.prefix + key)
        return result

    def get_many(self, keys: Iterable[str]) -> list[object | None]:
        names = [self.prefix + k for k in keys]
        if not names:
            return []
        return list(self._call("MGET", self.client.mget, names))

    def set(self, key: str, payload: object, ttl: float | None) -> None:
        px = None if ttl is None else _millis(ttl)
        self._call("SET", self.client.set, self.prefix + key, cast(bytes, payload), px=px)

    def set_many(self, items: Mapping[str, object], ttl: float | None) -> None:
        if not items:
            return
        pipe = self.client.pipeline(transaction=False)
        px = None if ttl is None else _millis(ttl)
        for key, payload in items.items():
            pipe.set(self.prefix + key, cast(bytes, payload), px=px)
        self._call("SET (pipeline)", pipe.execute)

    def delete(self, key: str) -> bool:
        return bool(self._call("UNLINK", self.client.unlink, self.prefix + key))

    def delete_many(self, keys: Iterable[str]) -> int:
        names = [self.prefix + k for k in keys]
        return int(self._call("UNLINK", self.client.unlink, *names)) if names else 0

    def exists(self, key: str) -> bool:
        return bool(self._call("EXISTS", self.client.exists, self.prefix + key))

    def _scan(self, prefix: str = "") -> list[bytes]:
        pattern = _escape_glob(self.prefix + prefix) + "*"
        names: list[bytes] = self._call(
            "SCAN", lambda: list(self.client.scan_iter(pattern, count=1000))
        )
        return names

    def clear(self) -> int:
        return self.delete_prefix("")

    def delete_prefix(self, prefix: str) -> int:
        """Remove the namespace's keys that start with `prefix` (SCAN + UNLINK)."""
        removed = 0
        names = self._scan(prefix)
        for start in range(0, len(names), 500):
            removed += int(self._call("UNLINK", self.client.unlink, *names[start : start + 500]))
        return removed

    def count(self) -> int:
        return sum(1 for _ in self._scan())

    def connections(self) -> tuple[int, int]:
        """``(in_use, idle)`` connections of the pool (0, 0 when not known)."""
        in_use = getattr(self.pool, "_in_use_connections", ())
        idle = getattr(self.pool, "_available_connections", ())
        return len(in_use), len(idle)

    def close(self) -> None:
        self.client.close()
        self.pool.disconnect()
