"""The rate limiter: the `limits` library's windows over memory or Redis storage.

The storages' window methods are called directly with keys prepared once per
scope, so a hit and its header figures cost one storage call (Redis: one
pipelined round trip per limit); see `perfkit.guards.windows`.

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

__all__ = ["STRATEGIES", "Decision", "RateLimiter", "Rule"]

STRATEGIES = ("moving-window", "sliding-window-counter", "fixed-window")
MAX_RULES = 4096


class Decision(NamedTuple):
    """The answer for one request: allowed or not, and the figures for the headers."""

    allowed: bool
    limit: int = 0  # the amount of the limit reported (0: no figures computed)
    remaining: int = 0
    reset: float = 0.0  # seconds until the reported window frees a slot (whole, rounded up)
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

    The storage's private scheduling hook is replaced on the instance (a subclass
    would make `limits` wrap every storage method a second time). Whether a sweep is
    pending is a flag, not ``Timer.is_alive()`` (a lock, as costly as the hit itself).
    Expiry is also checked on every read, so the sweep only frees memory; if a later
    `limits` renames the hook, its own scheduling simply runs.
    """
    storage = lib.storage.MemoryStorage()

    def holding() -> bool:
        return bool(storage.expirations) or any(storage.events.values())

    sweeper = _Sweeper(storage._MemoryStorage__expire_events, holding)
    storage._MemoryStorage__schedule_expiry = sweeper.schedule
    return storage


class _Sweeper:
    """Runs the storage's expiry pass once a second while the storage holds entries.

    A sweep that runs before an entry's expiry (a window longer than the delay,
    or a timer that fires a little early) schedules the next one: memory is
    freed even when no hit comes after the last.
    """

    def __init__(self, expire: Callable[[], None], holding: Callable[[], bool]) -> None:
        self.expire = expire
        self.holding = holding
        self.pending = False

    def schedule(self) -> None:
        if not self.pending:
            self.pending = True  # two threads racing here start two sweeps: harmless
            timer = threading.Timer(1.0, self._sweep)
            timer.daemon = True  # never keeps the interpreter alive
            timer.start()

    def _sweep(self) -> None:
        self.pending = False  # hits from now on schedule the next sweep
        # a sweep racing a clear() or a new key may trip; reads check expiry anyway
        # and the next sweep frees what this one missed
        with contextlib.suppress(KeyError, RuntimeError):
            self.expire()
        with contextlib.suppress(RuntimeError):  # a dict changing under the check
            if self.holding():
                self.schedule()


def _check(window: Any, rule: Rule, client: str, figures: bool) -> Decision:
    """Hit every limit of `rule` for `client` until one refuses; the figures of the
    limit with the fewest requests left (reset rounded up to whole seconds)."""
    parts = rule.parts
    if len(parts) == 1:  # the usual case, without the bookkeeping of several limits
        head, tail, amount, seconds = parts[0]
        allowed, remaining, reset = window.hit(head + client + tail, amount, seconds, figures)
        if allowed and not figures:
            return ALLOWED
        return _decision(allowed, amount, remaining if allowed else 0, reset, seconds)
    best: Decision | None = None
    for head, tail, amount, seconds in parts:
        allowed, remaining, reset = window.hit(head + client + tail, amount, seconds, figures)
        if not allowed:
            return _decision(False, amount, 0, reset, seconds)
        if figures and (best is None or remaining < best.remaining):
            best = _decision(True, amount, remaining, reset, seconds)
    return best or ALLOWED


_DECISIONS: dict[tuple[bool, int, int, int, int], Decision] = {}
MAX_DECISIONS = 8192


def _decision(allowed: bool, amount: int, remaining: int, reset: float, seconds: int) -> Decision:
    """A shared `Decision` (figures in whole seconds take few values, and the
    responses cache their header fields per decision)."""
    key = (
        allowed, amount, remaining if remaining > 0 else 0,
        math.ceil(reset) if reset > 0.0 else 0, seconds,
    )  # fmt: skip
    decision = _DECISIONS.get(key)
    if decision is None:
        decision = Decision(*key[:3], float(key[3]), key[4])
        if len(_DECISIONS) >= MAX_DECISIONS:
            _DECISIONS.clear()  # bounded; refilled from the current traffic
        _DECISIONS[key] = decision
    return decision


class Rule:
    """The limits of one scope, prepared once: each limit's storage-key parts and figures.

    A storage key is ``head + client + tail``, exactly what
    ``RateLimitItem.key_for(scope + "|" + client)`` builds (the layout is read
    from `key_for` itself, so it follows the library), without the per-call
    escaping and joining.
    """

    __slots__ = ("parts", "scope", "specs")

    def __init__(self, specs: Sequence[LimitSpec], scope: str, items: Sequence[Any]) -> None:
        self.specs = tuple(specs)
        self.scope = scope
        parts = []
        for spec, item in zip(self.specs, items, strict=True):
            head, tail = item.key_for(scope + "|" + _MARK).rsplit(_MARK, 1)
            parts.append((head, tail, spec.amount, spec.seconds))
        self.parts: tuple[tuple[str, str, int, int], ...] = tuple(parts)

    def key(self, index: int, client: str) -> str:
        """The storage key of limit `index` for `client`."""
        head, tail, _, _ = self.parts[index]
        return head + client + tail


_MARK = "\x00perfkit-client\x00"  # stands for the client in a probe key (split at the last one)


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
        from .windows import memory_window, redis_window

        self.strategy = strategy
        self.retry_interval = retry_interval
        self.on_storage_change = on_storage_change
        self._memory = memory_window(strategy, _memory_storage(lib))
        self._redis_storage: Any = None
        self._redis: Any = None
        self._errors: tuple[type[BaseException], ...] = (OSError,)
        if redis_url:
            import redis

            self._redis_storage = lib.storage.RedisStorage(
                redis_url, key_prefix=namespace, wrap_exceptions=True,
                socket_timeout=timeout, socket_connect_timeout=timeout,
            )  # fmt: skip
            self._redis = redis_window(strategy, self._redis_storage)
            self._errors = (lib.errors.StorageError, redis.RedisError, OSError)
        self._items: dict[LimitSpec, Any] = {}
        self._rules: dict[tuple[tuple[LimitSpec, ...], str], Rule] = {}
        self._parse = lib.parse
        self._down_at: float | None = None
        self._probing = False
        self._lock = threading.Lock()

    @property
    def storage(self) -> str:
        """``redis`` when counters are shared now, ``memory`` otherwise."""
        return "redis" if self._redis is not None and self._down_at is None else "memory"

    def item(self, spec: LimitSpec) -> Any:
        """The `limits` item of `spec` (parsed once)."""
        item = self._items.get(spec)
        if item is None:
            item = self._items[spec] = self._parse(spec.text)
        return item

    def rule(self, specs: Sequence[LimitSpec], scope: str) -> Rule:
        """The prepared limits of `scope` (cached: callers keep it for their hot path)."""
        specs = tuple(specs)
        rule = self._rules.get((specs, scope))
        if rule is None:
            rule = Rule(specs, scope, [self.item(spec) for spec in specs])
            if len(self._rules) >= MAX_RULES:
                self._rules.clear()  # bounded: scopes are routes, normally few
            self._rules[(specs, scope)] = rule
        return rule

    def hit(self, specs: Sequence[LimitSpec], scope: str, client: str, figures: bool) -> Decision:
        """Count one request of `client` against every spec; the first full one refuses it."""
        return self.check(self.rule(specs, scope), client, figures)

    def check(self, rule: Rule, client: str, figures: bool) -> Decision:
        """`hit` for a prepared rule (the middleware's path)."""
        window = self._redis
        if window is None or (self._down_at is not None and not self._recovered()):
            return _check(self._memory, rule, client, figures)
        try:
            return _check(window, rule, client, figures)
        except self._errors as exc:
            self._went_down(exc)
            return _check(self._memory, rule, client, figures)

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
