"""A circuit breaker: after repeated failures, skip the remote side for a while.

States: *closed* (calls go through), *open* (calls are skipped until
`retry_interval` has passed) and *half-open* (exactly one caller probes; the
others keep skipping until the probe ends). A dead Redis therefore costs one
timeout per `retry_interval`, not one per call.
"""

from __future__ import annotations

import threading

from ..clock import Clock, SystemClock

__all__ = ["CircuitBreaker"]


class CircuitBreaker:
    """Counts consecutive failures and opens after `threshold` of them.

    Args:
        threshold: consecutive failures that open the circuit.
        retry_interval: seconds the circuit stays open before one probe.
        clock: the monotonic clock (tests pass a FakeClock).
    """

    def __init__(
        self, threshold: int = 2, retry_interval: float = 5.0, clock: Clock | None = None
    ) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
            raise ValueError(f"breaker threshold must be an integer >= 1, got {threshold!r}")
        if isinstance(retry_interval, bool) or not retry_interval > 0:
            raise ValueError(f"retry_interval must be > 0 seconds, got {retry_interval!r}")
        self.threshold = threshold
        self.retry_interval = float(retry_interval)
        self.clock: Clock = clock or SystemClock()
        self.failures = 0
        self.opened_at: float | None = None
        self._probing = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self._probing else "open"

    def allow(self) -> bool:
        """True when a closed circuit lets calls through (open: see `try_probe`)."""
        return self.opened_at is None

    def try_probe(self) -> bool:
        """True for the one caller that should probe an open circuit now."""
        with self._lock:
            if self.opened_at is None or self._probing:
                return False
            if self.clock.monotonic() - self.opened_at < self.retry_interval:
                return False
            self._probing = True
            return True

    def success(self) -> None:
        with self._lock:
            self.failures = 0
            self.opened_at = None
            self._probing = False

    def failure(self) -> bool:
        """Record a failure; True when this one opened (or re-opened) the circuit."""
        with self._lock:
            self.failures += 1
            if self._probing or (self.opened_at is None and self.failures >= self.threshold):
                self.opened_at = self.clock.monotonic()
                self._probing = False
                return True
            return False
