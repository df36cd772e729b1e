"""Helpers for testing code that uses perfkit: a fake clock, a request sink, metric capture."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .metrics.record import RequestRecord

if TYPE_CHECKING:
    from .config import PerfkitSettings
    from .kit import Perfkit

__all__ = ["FakeClock", "InMemorySink", "RecordedRequest", "capture_metrics"]


class FakeClock:
    """A clock that moves only when told to; both `time()` and `monotonic()` follow it.

    Args:
        start: the initial wall-clock time (seconds since the epoch).
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def time(self) -> float:
        return self._now

    def monotonic(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by `seconds`."""
        if seconds < 0:
            raise ValueError(f"a clock does not go backwards (advance({seconds!r}))")
        with self._lock:
            self._now += seconds

    def set(self, now: float) -> None:
        """Jump to `now`."""
        with self._lock:
            self._now = now


RecordedRequest = RequestRecord  # one request as the middleware recorded it


class InMemorySink:
    """A kit request hook that keeps every recorded request, for assertions.

    ``kit.request_hooks.append(sink)``; then inspect ``sink.requests``
    (`RequestRecord` objects: method, path, status, duration, user, request_id, ...).
    """

    def __init__(self) -> None:
        self.requests: list[RequestRecord] = []
        self._lock = threading.Lock()

    def __call__(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()


@contextmanager
def capture_metrics(settings: PerfkitSettings | None = None, **kwargs: Any) -> Iterator[Perfkit]:
    """A fresh kit that is the process default (`get_kit()`) for the block, then restored.

    Decorators used without ``kit=`` record into it; nothing leaks between tests::

        with capture_metrics() as kit:
            load_user(1)
        assert kit.snapshot()["queries"]["summary"]["count"] == 1
    """
    from . import kit as kit_module

    fresh = kit_module.Perfkit(settings, **kwargs)
    previous = kit_module._default_kit
    kit_module.set_default_kit(fresh)
    try:
        yield fresh
    finally:
        fresh.stop()
        kit_module.set_default_kit(previous)
