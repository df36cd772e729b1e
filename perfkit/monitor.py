"""Decorators that time queries and outbound calls.

Both work with and without arguments, on sync and async functions and on
methods, and keep signatures and introspection (they are wrapt proxies).
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable
from time import perf_counter
from typing import Any, TypeVar, overload

import wrapt

from .kit import Perfkit, get_kit

__all__ = ["monitor_api_performance", "monitor_query_performance"]

F = TypeVar("F", bound=Callable[..., Any])

_log = logging.getLogger("perfkit.monitor")
_SQL_START = re.compile(r"\s*(?:SELECT|INSERT|UPDATE|DELETE|WITH|REPLACE|MERGE|CALL)\b", re.I)


def _find_sql(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
    """The first argument that looks like an SQL statement, if any."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, str) and _SQL_START.match(value):
            return value
    return None


def _make(
    kind: str,
    fn: Callable[..., Any],
    name: str | None,
    kit: Perfkit | None,
    slow_threshold: float | None,
) -> Any:
    label = name or getattr(fn, "__qualname__", None) or repr(fn)

    def record(duration: float, error: bool, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        target = kit or get_kit()
        if kind == "query":
            query = name or _find_sql(args, kwargs) or label
            target.record_query_performance(
                query, duration, error=error, slow_threshold=slow_threshold
            )
        else:
            target.record_call(label, duration, error, slow_threshold=slow_threshold)

    if inspect.iscoroutinefunction(fn):

        @wrapt.decorator
        async def async_wrapper(
            wrapped: Callable[..., Any],
            instance: Any,
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
        ) -> Any:
            start = perf_counter()
            error = True
            try:
                result = await wrapped(*args, **kwargs)
                error = False
                return result
            finally:
                record(perf_counter() - start, error, args, kwargs)

        return async_wrapper(fn)

    @wrapt.decorator
    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        start = perf_counter()
        error = True
        try:
            result = wrapped(*args, **kwargs)
            error = False
            return result
        finally:
            record(perf_counter() - start, error, args, kwargs)

    return wrapper(fn)


def _decorator_factory(kind: str) -> Callable[..., Any]:
    def decorator(
        fn: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        kit: Perfkit | None = None,
        slow_threshold: float | None = None,
    ) -> Any:
        if slow_threshold is not None and (
            isinstance(slow_threshold, bool)
            or not isinstance(slow_threshold, (int, float))
            or slow_threshold < 0
        ):
            raise ValueError(f"slow_threshold must be seconds >= 0, got {slow_threshold!r}")
        if name is not None and (not isinstance(name, str) or not name):
            raise ValueError(f"name must be a non-empty string, got {name!r}")
        if fn is None:
            return lambda f: _make(kind, f, name, kit, slow_threshold)
        if not callable(fn):
            raise TypeError(f"expected a function to decorate, got {fn!r}")
        return _make(kind, fn, name, kit, slow_threshold)

    return decorator


@overload
def monitor_query_performance(fn: F) -> F: ...
@overload
def monitor_query_performance(
    fn: None = None,
    *,
    name: str | None = None,
    kit: Perfkit | None = None,
    slow_threshold: float | None = None,
) -> Callable[[F], F]: ...
def monitor_query_performance(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    kit: Perfkit | None = None,
    slow_threshold: float | None = None,
) -> Any:
    """Time each call as a database query.

    The query is `name` when given, else the first argument that looks like
    SQL (fingerprinted: literals stripped), else the function's qualified name.

    Args:
        name: the query label to record under.
        kit: the kit to record into (the default kit, at call time, when omitted).
        slow_threshold: seconds over which a call counts as slow (default: the
            kit's ``slow_query_threshold``).
    """
    return _QUERY(fn, name=name, kit=kit, slow_threshold=slow_threshold)


@overload
def monitor_api_performance(fn: F) -> F: ...
@overload
def monitor_api_performance(
    fn: None = None,
    *,
    name: str | None = None,
    kit: Perfkit | None = None,
    slow_threshold: float | None = None,
) -> Callable[[F], F]: ...
def monitor_api_performance(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    kit: Perfkit | None = None,
    slow_threshold: float | None = None,
) -> Any:
    """Time each call as an API call (outbound HTTP, RPC, any function worth timing).

    Recorded under `name` (default: the function's qualified name) in the
    snapshot's ``queries.calls`` table; an exception counts as an error and
    propagates unchanged.
    """
    return _API(fn, name=name, kit=kit, slow_threshold=slow_threshold)


_QUERY = _decorator_factory("query")
_API = _decorator_factory("api")
