"""One hit, with its header figures, per limit: the `limits` storages called directly.

The `limits` strategies answer ``hit()`` and ``get_window_stats()`` separately,
rebuild and escape the storage key on each call, and go through the storage's
exception-wrapping layer every time. Here the same storage methods (and, for
Redis, the same Lua scripts the library registers) are called with a key built
once from `RateLimitItem.key_for`'s own layout, and the figures for the
``RateLimit-*`` headers come with the hit:

- memory, moving window: ``acquire_entry`` then ``get_moving_window`` (two
  in-process calls, no lock of ours);
- memory, counters: ``incr`` / ``acquire_sliding_window_entry`` plus the
  window read;
- Redis: the acquire script and the window script (or ``TTL``) in one
  pipeline, so one round trip per limit whatever the headers.

The algorithms stay the library's; only the calling is ours. A hit answers
``(allowed, remaining, reset_seconds)``.
"""

from __future__ import annotations

import inspect
import math
import time
from typing import Any

__all__ = ["OK", "Hit", "memory_window", "redis_window", "sliding_figures"]

Hit = tuple[bool, int, float]  # allowed, remaining in the window, seconds until a slot frees
OK: Hit = (True, 0, 0.0)  # allowed, figures not asked for (no allocation on that path)


def sliding_figures(
    amount: int, seconds: int, prev: int, prev_ttl: float, cur: int, cur_ttl: float
) -> tuple[int, float]:
    """Remaining and reset seconds of a sliding window counter, as
    `SlidingWindowCounterRateLimiter.get_window_stats` computes them (see below)."""
    remaining = max(0, amount - math.floor(prev * prev_ttl / seconds + cur))
    if not (prev or cur):
        return remaining, 0.0
    # the library's formula, except that an exact multiple (a TTL read in the very
    # millisecond the window was set, common with a pipeline) is a full period, not 0
    prev_in = (prev_ttl % (seconds / prev) or seconds / prev) if prev else math.inf
    cur_in = (cur_ttl % seconds or seconds) if cur else math.inf
    return remaining, min(prev_in, cur_in)


def _raw(storage: Any, name: str) -> Any:
    """``storage.<name>`` without `limits`' exception-translating wrapper.

    `limits` wraps every storage method (once per subclass, so twice for a
    subclass) to turn driver errors into `StorageError` when
    ``wrap_exceptions`` is on. The memory storage has it off, so the wrapper
    only re-raises; each layer still costs a call with ``*args, **kwargs``.
    """
    method = getattr(type(storage), name)
    if getattr(storage, "wrap_exceptions", True):
        return getattr(storage, name)  # the translation is wanted: keep it
    return inspect.unwrap(method).__get__(storage)


class _MemoryMoving:
    """The moving window (exact) in `limits`' `MemoryStorage`."""

    def __init__(self, storage: Any) -> None:
        self.acquire = _raw(storage, "acquire_entry")
        self.window = _raw(storage, "get_moving_window")

    def hit(self, key: str, amount: int, seconds: int, figures: bool) -> Hit:
        allowed = bool(self.acquire(key, amount, seconds))
        if allowed and not figures:
            return OK
        start, count = self.window(key, amount, seconds)
        return allowed, amount - count, start + seconds - time.time()


class _MemorySliding:
    """The sliding window counter (two counters per key) in `MemoryStorage`."""

    def __init__(self, storage: Any) -> None:
        self.acquire = _raw(storage, "acquire_sliding_window_entry")
        self.window = _raw(storage, "get_sliding_window")

    def hit(self, key: str, amount: int, seconds: int, figures: bool) -> Hit:
        allowed = bool(self.acquire(key, amount, seconds, 1))
        if allowed and not figures:
            return OK
        remaining, reset = sliding_figures(amount, seconds, *self.window(key, seconds))
        return allowed, remaining, reset


class _MemoryFixed:
    """The fixed window in `MemoryStorage`: the incremented count gives the figures."""

    def __init__(self, storage: Any) -> None:
        self.incr = _raw(storage, "incr")
        self.expiry = _raw(storage, "get_expiry")

    def hit(self, key: str, amount: int, seconds: int, figures: bool) -> Hit:
        count = self.incr(key, seconds, 1)
        allowed = count <= amount
        if allowed and not figures:
            return OK
        return allowed, max(amount - count, 0), self.expiry(key) - time.time()


def memory_window(strategy: str, storage: Any) -> Any:
    """The memory-storage window for `strategy` (an object with ``hit(key, amount, seconds,
    figures) -> Hit``)."""
    classes = {
        "moving-window": _MemoryMoving,
        "sliding-window-counter": _MemorySliding,
        "fixed-window": _MemoryFixed,
    }
    return classes[strategy](storage)


class _RedisWindow:
    """The `limits` Lua scripts of a `RedisStorage`, the hit and its figures in one pipeline.

    The scripts are run by SHA (`EVALSHA`) in a non-transactional pipeline: a
    pipeline of redis-py `Script` objects would first ask ``SCRIPT EXISTS`` (a
    second round trip on every request). A script the server has forgotten
    (restart, ``SCRIPT FLUSH``) is reloaded by running it once through its
    `Script` object, which loads it.
    """

    def __init__(self, strategy: str, storage: Any) -> None:
        import redis.exceptions

        self.strategy = strategy
        self.client = storage.get_connection()
        self.prefix = storage.key_prefix + ":"
        self.no_script = redis.exceptions.NoScriptError
        if strategy == "moving-window":
            self.acquire, self.window = storage.lua_acquire_moving_window, storage.lua_moving_window
        elif strategy == "sliding-window-counter":
            self.acquire = storage.lua_acquire_sliding_window
            self.window = storage.lua_sliding_window
        else:
            self.acquire, self.window = storage.lua_incr_expire, None

    def _calls(self, key: str, amount: int, seconds: int) -> list[tuple[Any, list[str], list[Any]]]:
        """(script or None for TTL, keys, args) of the hit and of the figures."""
        now = time.time()
        if self.strategy == "moving-window":
            k = [self.prefix + key]
            return [
                (self.acquire, k, [now, amount, seconds, 1]),
                (self.window, k, [now - seconds, amount]),
            ]
        if self.strategy == "sliding-window-counter":
            current = self.prefix + "{" + key + "}"  # `RedisStorage`'s own key layout
            k = [current + "/-1", current]
            return [(self.acquire, k, [amount, seconds, 1]), (self.window, k, [seconds])]
        k = [self.prefix + key]
        return [(self.acquire, k, [seconds, 1]), (None, k, [])]

    def _run(self, calls: list[tuple[Any, list[str], list[Any]]]) -> list[Any]:
        if len(calls) == 1:
            script, keys, args = calls[0]
            return [script(keys, args)]  # one command: the `Script` object does EVALSHA
        pipe = self.client.pipeline(transaction=False)
        for script, keys, args in calls:
            if script is None:
                pipe.ttl(keys[0])
            else:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
        results: list[Any] = pipe.execute(raise_on_error=False)
        for i, result in enumerate(results):
            if isinstance(result, self.no_script):
                # run it (and the reads queued after it, which saw the state before
                # it) again one by one: a `Script` object loads itself when needed
                for j in range(i, len(calls)):
                    script, keys, args = calls[j]
                    results[j] = self.client.ttl(keys[0]) if script is None else script(keys, args)
                return results
            if isinstance(result, Exception):
                raise result
        return results

    def hit(self, key: str, amount: int, seconds: int, figures: bool) -> Hit:
        calls = self._calls(key, amount, seconds)
        if not figures:
            result = self._run(calls[:1])[0]
            allowed = bool(result) if self.window is not None else int(result) <= amount
            if allowed:
                return OK
            results = [result, *self._run(calls[1:])]  # refused: the figures for Retry-After
        else:
            results = self._run(calls)
        return self._figures(results, amount, seconds)

    def _figures(self, results: list[Any], amount: int, seconds: int) -> Hit:
        first, second = results
        if self.strategy == "moving-window":
            if second:
                start, count = float(second[0]), int(second[1])
            else:
                start, count = time.time(), 0
            return bool(first), amount - count, start + seconds - time.time()
        if self.strategy == "sliding-window-counter":
            w = second or [0, 0, 0, 0]
            remaining, reset = sliding_figures(
                amount, seconds,
                int(w[0] or 0), max(0.0, float(w[1] or 0)) / 1000,
                int(w[2] or 0), max(0.0, float(w[3] or 0)) / 1000,
            )  # fmt: skip
            return bool(first), remaining, reset
        count = int(first)
        return count <= amount, max(amount - count, 0), float(max(int(second), 0))


def redis_window(strategy: str, storage: Any) -> _RedisWindow:
    """The Redis-storage window for `strategy` (one round trip per limit)."""
    return _RedisWindow(strategy, storage)
