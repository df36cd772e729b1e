"""Clocks: the wall clock for timestamps and buckets, a monotonic one for durations."""

from __future__ import annotations

from time import perf_counter as _perf_counter
from time import time as _wall_time
from typing import Protocol

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    """What perfkit needs of time; tests inject `perfkit.testing.FakeClock`."""

    def time(self) -> float:
        """Seconds since the epoch (wall clock)."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for durations and timeouts)."""


class SystemClock:
    """The real clocks."""

    time = staticmethod(_wall_time)
    monotonic = staticmethod(_perf_counter)
