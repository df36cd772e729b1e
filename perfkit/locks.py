"""A Redis lock with expiry, shared by every part of perfkit that coordinates a fleet.

One process holds a named lock until it releases it or the expiry passes, so a
crashed holder never blocks the others for longer than `ttl`. Release and
extension check a per-holder token (a Lua script), so a holder whose lock
expired can never release the next holder's lock.
"""

from __future__ import annotations

import secrets
import time
from types import TracebackType
from typing import Any

__all__ = ["RedisLock"]

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""


class RedisLock:
    """A named lock in Redis (``SET key token NX PX ttl``).

    Args:
        client: a ``redis.Redis`` client.
        name: the full key of the lock.
        ttl: seconds after which the lock expires if not released.
    """

    def __init__(self, client: Any, name: str, ttl: float = 30.0) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl must be > 0 seconds, got {ttl!r}")
        self.client = client
        self.name = name
        self.ttl = ttl
        self.token = secrets.token_hex(16)
        self.held = False

    def acquire(self, blocking: bool = False, timeout: float = 10.0, poll: float = 0.01) -> bool:
        """Take the lock; with `blocking`, retry until `timeout` seconds have passed."""
        deadline = time.monotonic() + timeout
        while True:
            if self.client.set(self.name, self.token, nx=True, px=int(self.ttl * 1000)):
                self.held = True
                return True
            if not blocking or time.monotonic() >= deadline:
                return False
            time.sleep(poll)  # polling Redis; a pub/sub wake-up is not worth its complexity here

    def release(self) -> bool:
        """Release the lock if this holder still has it; True when it did."""
        if not self.held:
            return False
        self.held = False
        return bool(self.client.eval(_RELEASE, 1, self.name, self.token))

    def extend(self, ttl: float | None = None) -> bool:
        """Push the expiry out again (to `ttl` or the original ttl) if still held."""
        millis = int((ttl or self.ttl) * 1000)
        return bool(self.client.eval(_EXTEND, 1, self.name, self.token, millis))

    def __enter__(self) -> RedisLock:
        if not self.acquire(blocking=True):
            raise TimeoutError(f"could not acquire Redis lock {self.name!r}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
