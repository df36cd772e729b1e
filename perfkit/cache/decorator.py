"""``@cached``: memoise sync and async functions and methods in a `CacheManager`."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload

from .._defaults import default_cache
from ..errors import CacheBackendError
from .flight import AsyncFlights, ThreadFlights, poll_delays, redis_lock
from .keys import MAX_KEY_LENGTH, function_identity, key_builder, validate_key
from .manager import MISSING, check_ttl
from .stale import Refreshes, envelope, open_envelope

if TYPE_CHECKING:
    from .manager import CacheManager

__all__ = ["CachedFunction", "cached"]

R_co = TypeVar("R_co", covariant=True)
F = TypeVar("F", bound=Callable[..., Any])

CALL = object()  # a compute step: "run the function now" (any other step is a delay)
_THREADS = ThreadFlights()
_TASKS = AsyncFlights()
_REFRESHES = Refreshes()


class CachedFunction(Protocol[R_co]):
    """A function wrapped by `cached`, with its cache controls."""

    __wrapped__: Callable[..., Any]

    def __call__(self, *args: Any, **kwargs: Any) -> R_co: ...

    def __get__(self, obj: Any, objtype: type | None = None) -> Any: ...

    def cache_key(self, *args: Any, **kwargs: Any) -> str:
        """The key a call with these arguments uses (methods: without ``self``)."""
        ...

    def invalidate(self, *args: Any, **kwargs: Any) -> bool:
        """Forget the cached result of a call with these arguments."""
        ...

    def clear_cache(self) -> int:
        """Forget every cached result of this function."""
        ...


@overload
def cached(ttl: F) -> F: ...


@overload
def cached(
    ttl: float | None = None,
    key_prefix: str | None = None,
    cache: CacheManager | None = None,
    key: Callable[..., str] | None = None,
    unless: Callable[[], bool] | None = None,
    *,
    cache_none: bool = False,
    include_self: bool = False,
    lock_ttl: float = 10.0,
    stale_ttl: float = 0,
) -> Callable[[F], F]: ...


def cached(
    ttl: Any = None,
    key_prefix: str | None = None,
    cache: CacheManager | None = None,
    key: Callable[..., str] | None = None,
    unless: Callable[[], bool] | None = None,
    *,
    cache_none: bool = False,
    include_self: bool = False,
    lock_ttl: float = 10.0,
    stale_ttl: float = 0,
) -> Any:
    """Cache a function's results; concurrent misses of one key compute once.

    Works on sync and async functions and methods (put it under
    ``@classmethod``/``@staticmethod``). The wrapper has ``cache_key(...)``,
    ``invalidate(...)`` and ``clear_cache()``; exceptions are never cached.

    Args:
        ttl: seconds to keep a result (default: the cache's default_ttl; 0: forever).
        key_prefix: the name part of the keys (default: the function's identity,
            ``module.qualname`` plus, for closures, a digest of what they captured).
        cache: a `CacheManager`; default: ``perfkit.get_kit().cache``, looked up at call time.
        key: ``key(*args, **kwargs) -> str`` builds the argument part of the key yourself.
        unless: when ``unless()`` is true, the call bypasses the cache.
        cache_none: also cache ``None`` results.
        include_self: make ``self``/``cls`` part of the key (needs a supported type).
        lock_ttl: with Redis, how long one process may compute before others take over.
        stale_ttl: keep results this many seconds past `ttl` and serve them stale while
            one caller recomputes (see `perfkit.cache.stale`); 0 turns it off.
    """
    if callable(ttl):
        return cached()(ttl)
    life = None if ttl is None else check_ttl(ttl)
    if key_prefix is not None:
        key_prefix = validate_key(key_prefix, "key_prefix")
        if len(key_prefix) > MAX_KEY_LENGTH // 2:
            raise ValueError(f"key_prefix must be at most {MAX_KEY_LENGTH // 2} characters")
    if cache is not None and not callable(getattr(cache, "lookup", None)):
        raise TypeError(f"cache must be a CacheManager, got {cache!r}")
    if key is not None and not callable(key):
        raise TypeError(f"key must be a callable returning a str, got {key!r}")
    if unless is not None and not callable(unless):
        raise TypeError(f"unless must be a callable returning a bool, got {unless!r}")
    if isinstance(lock_ttl, bool) or not isinstance(lock_ttl, (int, float)) or lock_ttl <= 0:
        raise ValueError(f"lock_ttl must be > 0 seconds, got {lock_ttl!r}")
    stale = check_ttl(stale_ttl, "stale_ttl") or 0.0

    def decorate(func: F) -> F:
        if isinstance(func, (classmethod, staticmethod)):
            raise TypeError("put @cached below @classmethod/@staticmethod, not above")
        name = key_prefix or function_identity(func)
        try:
            signature: inspect.Signature | None = inspect.signature(func)
        except (TypeError, ValueError):
            signature = None
        params = list(signature.parameters) if signature is not None else []
        skip_first = not include_self and bool(params) and params[0] in ("self", "cls")

        build = key_builder(name, signature, skip_first)

        def make_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
            if key is not None:
                user_args = args[1:] if skip_first else args
                return f"{name}:{validate_key(key(*user_args, **kwargs), 'key(...) result')}"
            return build(args, kwargs)

        def key_without_self(*args: Any, **kwargs: Any) -> str:
            return make_key((None, *args) if skip_first else args, kwargs)

        def resolve() -> CacheManager:
            if cache is not None:
                return cache
            return default_cache()  # perfkit.get_kit().cache, at call time

        def ttl_for(c: CacheManager) -> float | None:
            return c.default_ttl if ttl is None else life

        def remember(c: CacheManager, k: str, value: Any) -> bytes | None:
            """Store `value`; the serialised copy for the waiters (None: not cached)."""
            if value is None and not cache_none:
                return None
            data = c.encode(value, k)  # TypeError for an unserialisable result: a caller bug
            life = ttl_for(c)
            # redis mode: the failure is counted and logged by the manager; the result still returns
            with contextlib.suppress(CacheBackendError):
                if stale:
                    kept = None if life is None else life + stale
                    c.store(k, envelope(c.clock.time(), life, value), kept)
                else:
                    c.store(k, value, life, data)
            return data

        def lookup(c: CacheManager, k: str, count: bool = True) -> tuple[Any, bool]:
            """``(value or MISSING, stale)``; a failing Redis in redis mode is a miss."""
            try:
                found = c.lookup(k, count=count)
            except CacheBackendError:
                return MISSING, False
            return open_envelope(found, c.clock.time(), MISSING) if stale else (found, False)

        def peek(c: CacheManager, k: str) -> Any:
            return lookup(c, k, count=False)[0]

        def claim_refresh(c: CacheManager, k: str) -> Any:
            """A held Redis lock, True (no coordination needed) or None (someone else refreshes)."""
            if not _REFRESHES.claim(f"{id(c)}:{k}"):
                return None
            client = c.lock_client()
            try:
                lock = None if client is None else redis_lock(client, c.lock_name(k), lock_ttl)
            except Exception:  # Redis failed: refresh without coordination
                return True
            if client is not None and lock is None:
                _REFRESHES.done(f"{id(c)}:{k}")
            return True if client is None else lock

        def end_refresh(c: CacheManager, k: str, claim: Any) -> None:
            if claim is not True:
                _release(claim)
            _REFRESHES.done(f"{id(c)}:{k}")

        def share(leader: bool, c: CacheManager, k: str, outcome: tuple[Any, bytes | None]) -> Any:
            value, data = outcome
            return value if leader or data is None else c.decode(k, data)

        def compute_steps(
            c: CacheManager, k: str
        ) -> Generator[object, Any, tuple[Any, bytes | None]]:
            """The cross-process flight as steps, for the sync and the async driver alike.

            Yields ``CALL`` (send back the function's result) or a delay in seconds to
            wait; returns ``(value, serialised copy)``. The Redis lock is released in
            ``finally`` whatever the function does.
            """
            found = peek(c, k)  # a flight that just ended stored it before leaving
            if found is not MISSING:
                return found, c.encode(found, k)
            client = c.lock_client()
            waits = poll_delays(lock_ttl)
            while client is not None:
                try:
                    lock = redis_lock(client, c.lock_name(k), lock_ttl)
                except Exception:  # Redis failed: compute without coordination
                    break
                if lock is not None:
                    try:
                        found = peek(c, k)
                        if found is not MISSING:
                            return found, c.encode(found, k)
                        value = yield CALL
                        return value, remember(c, k, value)
                    finally:
                        _release(lock)
                found = peek(c, k)
                if found is not MISSING:
                    return found, c.encode(found, k)
                delay = waits()
                if delay is None:
                    break  # the holder is too slow or gone: compute ourselves
                yield delay
            value = yield CALL
            return value, remember(c, k, value)

        if inspect.iscoroutinefunction(func):

            async def compute_async(
                c: CacheManager, k: str, args: Any, kwargs: Any
            ) -> tuple[Any, bytes | None]:
                steps = compute_steps(c, k)
                try:
                    step = next(steps)
                    while True:
                        if step is CALL:
                            try:
                                value = await func(*args, **kwargs)
                            except BaseException as exc:
                                step = steps.throw(exc)  # releases the lock, re-raises
                            else:
                                step = steps.send(value)
                        else:
                            await asyncio.sleep(float(step))  # type: ignore[arg-type]
                            step = steps.send(None)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                if unless is not None and unless():
                    return await func(*args, **kwargs)
                c = resolve()
                k = make_key(args, kwargs)
                found, is_stale = lookup(c, k)
                if found is not MISSING:
                    claim = claim_refresh(c, k) if is_stale else None
                    if claim is None:
                        return found
                    try:
                        value = await func(*args, **kwargs)
                        remember(c, k, value)
                        return value
                    finally:
                        end_refresh(c, k, claim)
                leader, outcome = await _TASKS.do(
                    f"{id(c)}:{k}", lambda: compute_async(c, k, args, kwargs)
                )
                return share(leader, c, k, outcome)

            wrapper: Any = async_wrapper
        else:

            def compute(
                c: CacheManager, k: str, args: Any, kwargs: Any
            ) -> tuple[Any, bytes | None]:
                steps = compute_steps(c, k)
                try:
                    step = next(steps)
                    while True:
                        if step is CALL:
                            try:
                                value = func(*args, **kwargs)
                            except BaseException as exc:
                                step = steps.throw(exc)  # releases the lock, re-raises
                            else:
                                step = steps.send(value)
                        else:
                            time.sleep(float(step))  # type: ignore[arg-type]  # bounded wait
                            step = steps.send(None)
                except StopIteration as done:
                    return done.value  # type: ignore[no-any-return]

            @functools.wraps(func)
            def sync_wrapper(*args: Any, **kwargs: Any) -> Any:
                if unless is not None and unless():
                    return func(*args, **kwargs)
                c = resolve()
                k = make_key(args, kwargs)
                found, is_stale = lookup(c, k)
                if found is not MISSING:
                    claim = claim_refresh(c, k) if is_stale else None
                    if claim is None:
                        return found
                    try:
                        value = func(*args, **kwargs)
                        remember(c, k, value)
                        return value
                    finally:
                        end_refresh(c, k, claim)
                leader, outcome = _THREADS.do(f"{id(c)}:{k}", lambda: compute(c, k, args, kwargs))
                return share(leader, c, k, outcome)

            wrapper = sync_wrapper

        def invalidate(*args: Any, **kwargs: Any) -> bool:
            return resolve().delete(key_without_self(*args, **kwargs))

        def clear_cache() -> int:
            return resolve().clear_prefix(f"{name}:")

        wrapper.cache_key = key_without_self
        wrapper.invalidate = invalidate
        wrapper.clear_cache = clear_cache
        return wrapper  # type: ignore[no-any-return]

    return decorate


def _release(lock: Any) -> None:
    # the lock expires by itself; a failed release only delays the other processes
    with contextlib.suppress(Exception):
        lock.release()
