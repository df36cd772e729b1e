"""Single flight: concurrent misses of one key compute once.

In one process, the first caller (thread or asyncio task) computes and the
others wait for its result; a failure reaches every waiter and is not
cached. Across processes, the computing caller also takes a `RedisLock`
(expiring, so a crashed holder blocks the others for at most its ttl); the
processes that do not get it poll the cache until the value appears.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from ..locks import RedisLock

__all__ = ["AsyncFlights", "ThreadFlights", "poll_delays", "redis_lock"]

T = TypeVar("T")


class _Flight(Generic[T]):
    __slots__ = ("error", "event", "owner", "result")

    def __init__(self) -> None:
        self.owner = threading.get_ident()
        self.event = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None


class ThreadFlights:
    """Per-key flights shared by the threads of one process."""

    def __init__(self) -> None:
        self._flights: dict[str, _Flight[Any]] = {}
        self._lock = threading.Lock()

    def do(self, key: str, fn: Callable[[], T]) -> tuple[bool, T]:
        """``(True, fn())`` for the caller that computed, ``(False, its result)`` for the others."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None and flight.owner == threading.get_ident():
                return True, fn()  # a recursive call of the same key: waiting would deadlock
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            flight.event.wait()
            if flight.error is not None:
                raise flight.error
            return False, flight.result  # type: ignore[return-value]
        try:
            flight.result = fn()
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key]
            flight.event.set()
        return True, flight.result


class AsyncFlights:
    """Per-key flights shared by the tasks of each event loop."""

    def __init__(self) -> None:
        self._flights: dict[tuple[int, str], asyncio.Future[Any]] = {}

    async def do(self, key: str, fn: Callable[[], Awaitable[T]]) -> tuple[bool, T]:
        """Like `ThreadFlights.do` for coroutines; a cancelled leader lets a waiter take over."""
        loop = asyncio.get_running_loop()
        slot = (id(loop), key)
        while True:
            future = self._flights.get(slot)
            if future is None:
                break
            try:
                return False, await asyncio.shield(future)
            except asyncio.CancelledError:
                if not future.cancelled():
                    raise  # this waiter itself was cancelled
        future = loop.create_future()
        self._flights[slot] = future
        try:
            result = await fn()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" noise when nobody waits
            raise
        else:
            future.set_result(result)
            return True, result
        finally:
            self._flights.pop(slot, None)


def redis_lock(client: Any, name: str, ttl: float) -> RedisLock | None:
    """A held `RedisLock`, or None when another process holds it.

    Redis errors propagate; callers treat them as "no coordination".
    """
    lock = RedisLock(client, name, ttl=ttl)
    return lock if lock.acquire(blocking=False) else None


def poll_delays(timeout: float) -> Callable[[], float | None]:
    """Successive waits (5 ms doubling to 50 ms) until `timeout`; None when it has passed."""
    deadline = time.monotonic() + timeout
    delay = 0.005

    def next_delay() -> float | None:
        nonlocal delay
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        current, delay = min(delay, left), min(delay * 2, 0.05)
        return current

    return next_delay
