"""Helpers for testing code that uses perfkit: a fake clock and metric capture."""

from __future__ import annotations

import threading

__all__ = ["FakeClock"]


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
