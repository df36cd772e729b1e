"""Aggregates: exact counts and sums, min/max, a quantile sketch, Prometheus buckets."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

from .sketch import QuantileSketch

__all__ = ["QUANTILES", "DurationStats", "EndpointStats", "summarize"]

QUANTILES = (0.5, 0.9, 0.95, 0.99)


class DurationStats:
    """Count, errors, sum, min, max and a quantile sketch of durations (seconds).

    The sketch already keeps the exact count, min and max; they are read from
    it rather than kept twice (this is the hottest loop of the aggregation).
    """

    __slots__ = ("errors", "sketch", "slow", "total")

    def __init__(self) -> None:
        self.errors = 0
        self.slow = 0
        self.total = 0.0
        self.sketch = QuantileSketch()

    @property
    def count(self) -> int:
        return self.sketch.count

    @property
    def min(self) -> float:
        return self.sketch.min

    @property
    def max(self) -> float:
        return self.sketch.max if self.sketch.count else 0.0

    def add(self, duration: float, error: bool, slow: bool) -> None:
        self.sketch.add(duration)
        self.total += duration
        if error:
            self.errors += 1
        if slow:
            self.slow += 1

    def merge(self, other: DurationStats) -> None:
        self.errors += other.errors
        self.slow += other.slow
        self.total += other.total
        self.sketch.merge(other.sketch)

    def summary(self) -> dict[str, Any]:
        sketch = self.sketch
        return summarize(sketch.count, self.errors, self.total, sketch.min, sketch.max, sketch)


def summarize(
    count: int, errors: int, total: float, low: float, high: float, sketch: QuantileSketch
) -> dict[str, Any]:
    """The documented statistics block: count, errors, error_rate (%), avg, min, max, p50..p99."""
    if count == 0:
        return {
            "count": 0, "errors": 0, "error_rate": 0.0, "avg": None, "min": None,
            "max": None, "p50": None, "p90": None, "p95": None, "p99": None,
        }  # fmt: skip
    p50, p90, p95, p99 = sketch.quantiles(QUANTILES)
    return {
        "count": count,
        "errors": errors,
        "error_rate": round(100.0 * errors / count, 4),
        "avg": total / count,
        "min": low,
        "max": high,
        "p50": p50,
        "p90": p90,
        "p95": p95,
        "p99": p99,
    }


class EndpointStats(DurationStats):
    """Per endpoint: durations plus status codes, client errors, sizes and histogram buckets."""

    __slots__ = ("buckets", "bytes_sent", "client_errors", "last_seen", "statuses", "ttfb_total")

    def __init__(self, bucket_count: int) -> None:
        super().__init__()
        self.client_errors = 0
        self.bytes_sent = 0
        self.ttfb_total = 0.0
        self.last_seen = 0.0
        self.statuses: dict[int, int] = {}
        self.buckets = [0] * (bucket_count + 1)  # the last one is +Inf

    def observe_bucket(self, bounds: Sequence[float], duration: float) -> None:
        self.buckets[bisect_left(bounds, duration)] += 1
