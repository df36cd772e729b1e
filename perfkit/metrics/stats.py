"""The registry's aggregates: exact counts and sums, min/max, sketches, histogram buckets.

Each declares its scalar fields once in `FIELDS` (see `aggregate.Field`);
only the composite parts (a sketch, status codes, histogram buckets) are
written out here. Adding a counter to an aggregate is one `Field` (and its
type annotation) plus its increment: it then merges, travels through every
store, shows in snapshot rows and, with ``metric=``, in ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from .aggregate import Aggregate, Field, Part, slots
from .sketch import QuantileSketch

__all__ = [
    "QUANTILES",
    "Aggregate",
    "Count",
    "DurationStats",
    "EndpointStats",
    "Field",
    "MinuteBucket",
    "OperationStats",
    "QueryStats",
    "QueryTally",
    "Tally",
    "summarize",
]

QUANTILES = (0.5, 0.9, 0.95, 0.99)


class Count(Aggregate):
    """One counter (error types)."""

    FIELDS: ClassVar[tuple[Field, ...]] = (Field("n", "", "sum", int),)
    __slots__ = slots(FIELDS)
    n: int

    def to_state(self) -> Any:
        return self.n  # the JSON state keeps a plain number

    def load_state(self, data: Any) -> None:
        self.n = int(data)


class Tally(Aggregate):
    """Per user or organization: count, errors, total and max duration."""

    FIELDS: ClassVar[tuple[Field, ...]] = (
        Field("count", "c", "sum", int),
        Field("errors", "e", "sum", int),
        Field("total", "t", "sum", float),
        Field("max", "m", "max", float),
    )
    __slots__ = slots(FIELDS)
    count: int
    errors: int
    total: float
    max: float

    def to_state(self) -> Any:
        return [self.count, self.errors, self.total, self.max]  # the JSON state's compact row

    def load_state(self, data: Any) -> None:
        count, errors, total, high = data
        self.count, self.errors, self.total, self.max = (
            int(count),
            int(errors),
            float(total),
            float(high),
        )

    def add(self, duration: float, error: bool) -> None:
        self.count += 1
        self.total += duration
        if duration > self.max:
            self.max = duration
        if error:
            self.errors += 1

    def to_dict(self, key: str) -> dict[str, Any]:
        return {
            "id": key,
            "count": self.count,
            "errors": self.errors,
            "error_rate": round(100.0 * self.errors / self.count, 4) if self.count else 0.0,
            "avg": self.total / self.count if self.count else None,
            "max": self.max if self.count else None,
        }


class QueryTally(Aggregate):
    """Queries of one organization: count, errors, slow ones, total and max duration."""

    FIELDS: ClassVar[tuple[Field, ...]] = (
        Field("count", "c", "sum", int),
        Field("errors", "e", "sum", int),
        Field("slow", "sl", "sum", int),
        Field("total", "t", "sum", float),
        Field("max", "m", "max", float),
    )
    __slots__ = slots(FIELDS)
    count: int
    errors: int
    slow: int
    total: float
    max: float

    def add(self, duration: float, error: bool, slow: bool) -> None:
        self.count += 1
        self.total += duration
        if duration > self.max:
            self.max = duration
        if error:
            self.errors += 1
        if slow:
            self.slow += 1

    def to_dict(self, key: str) -> dict[str, Any]:
        count = self.count
        return {
            "id": key,
            "count": count,
            "errors": self.errors,
            "error_rate": round(100.0 * self.errors / count, 4) if count else 0.0,
            "slow": self.slow,
            "slow_rate": round(100.0 * self.slow / count, 4) if count else 0.0,
            "avg": self.total / count if count else None,
            "max": self.max if count else None,
            "total_time": self.total,
        }


class DurationStats(Aggregate):
    """Count, errors, sum, min, max and a quantile sketch of durations (seconds).

    The sketch already keeps the exact count, min and max; they are read from
    it rather than kept twice (this is the hottest loop of the aggregation).
    """

    FIELDS: ClassVar[tuple[Field, ...]] = (
        Field("errors", "e", "sum", int),
        Field("slow", "sl", "sum", int),
        Field("total", "t", "sum", float, shown=False),
    )
    __slots__ = (*slots(FIELDS), "sketch")
    errors: int
    slow: int
    total: float

    def __init__(self) -> None:
        super().__init__()
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

    def merge(self, other: Any) -> None:
        super().merge(other)
        self.sketch.merge(other.sketch)

    def parts(self) -> Iterator[Part]:
        sketch = self.sketch
        if sketch.count == 0:
            return  # nothing recorded: nothing to write (not even a min of 0)
        yield from super().parts()
        yield "c", "sum", sketch.count
        yield "z", "sum", sketch.zero_count
        yield "mn", "min", sketch.min
        yield "mx", "max", sketch.max
        for index, n in sketch.bins().items():
            yield f"k{index}", "sum", n

    def load_flat(self, flat: Mapping[str, str]) -> None:
        super().load_flat(flat)
        bins = {
            int(f[1:]): int(v)
            for f, v in flat.items()
            if f[:1] == "k" and f[1:].lstrip("-").isdigit()
        }
        self.sketch = QuantileSketch.from_bins(
            bins, int(flat.get("z", 0)), float(flat.get("mn", 0.0)), float(flat.get("mx", 0.0))
        )

    def to_state(self) -> dict[str, Any]:
        return {**super().to_state(), "sketch": self.sketch.to_dict()}

    def load_state(self, data: Mapping[str, Any]) -> None:
        super().load_state(data)
        self.sketch = QuantileSketch.from_dict(data["sketch"])

    def summary(self) -> dict[str, Any]:
        sketch = self.sketch
        return summarize(sketch.count, self.errors, self.total, sketch.min, sketch.max, sketch)


class MinuteBucket(DurationStats):
    """One minute of traffic (requests or queries) for trends and windowed summaries."""

    FIELDS: ClassVar[tuple[Field, ...]] = (
        *DurationStats.FIELDS,
        Field("client_errors", "ce", "sum", int),
    )
    __slots__ = (*slots(FIELDS, DurationStats.FIELDS), "minute")
    client_errors: int

    def __init__(self, minute: int) -> None:
        super().__init__()
        self.minute = minute


class QueryStats(DurationStats):
    """Per SQL fingerprint: durations and the statement's operation (SELECT, INSERT, ...)."""

    __slots__ = ("operation",)

    def __init__(self, operation: str = "") -> None:
        super().__init__()
        self.operation = operation

    def merge(self, other: Any) -> None:
        super().merge(other)
        if not self.operation:
            self.operation = other.operation

    def parts(self) -> Iterator[Part]:
        yield "op", "put", self.operation
        yield from super().parts()

    def load_flat(self, flat: Mapping[str, str]) -> None:
        super().load_flat(flat)
        self.operation = flat.get("op", "OTHER")

    def to_state(self) -> dict[str, Any]:
        return {**super().to_state(), "operation": self.operation}

    def load_state(self, data: Mapping[str, Any]) -> None:
        super().load_state(data)
        self.operation = str(data["operation"])


class _Buckets(Aggregate):
    """Histogram buckets (the last one is +Inf) besides the declared fields."""

    __slots__ = ("buckets",)

    def __init__(self, bucket_count: int) -> None:
        super().__init__()
        self.buckets = [0] * (bucket_count + 1)

    def merge(self, other: Any) -> None:
        super().merge(other)
        for i, n in enumerate(other.buckets[: len(self.buckets)]):
            self.buckets[i] += n

    def parts(self) -> Iterator[Part]:
        yield from super().parts()
        for i, n in enumerate(self.buckets):
            yield f"h{i}", "sum", n

    def load_flat(self, flat: Mapping[str, str]) -> None:
        super().load_flat(flat)
        for i in range(len(self.buckets)):
            self.buckets[i] = int(flat.get(f"h{i}", 0))

    def to_state(self) -> dict[str, Any]:
        return {**super().to_state(), "buckets": list(self.buckets)}

    def load_state(self, data: Mapping[str, Any]) -> None:
        super().load_state(data)
        buckets = [int(n) for n in data["buckets"]]
        if len(buckets) != len(self.buckets):
            raise ValueError("histogram buckets differ from the configured ones")
        self.buckets = buckets


class OperationStats(_Buckets):
    """Per query operation: the Prometheus histogram (buckets and sum)."""

    FIELDS: ClassVar[tuple[Field, ...]] = (Field("total", "sum", "sum", float),)
    __slots__ = slots(FIELDS)
    total: float


class EndpointStats(DurationStats):
    """Per endpoint: durations plus status codes, client errors, sizes and histogram buckets."""

    FIELDS: ClassVar[tuple[Field, ...]] = (
        *DurationStats.FIELDS,
        Field("client_errors", "ce", "sum", int),
        Field(
            "bytes_sent",
            "by",
            "sum",
            int,
            metric=("app_response_size_bytes", "HTTP response body bytes sent, by endpoint."),
        ),
        Field(
            "bytes_received",
            "bi",
            "sum",
            int,
            metric=("app_request_size_bytes", "HTTP request body bytes received, by endpoint."),
        ),
        Field("ttfb_total", "tt", "sum", float, shown=False),
        Field("last_seen", "ls", "max", float, shown=False),
    )
    __slots__ = (*slots(FIELDS, DurationStats.FIELDS), "buckets", "statuses")
    client_errors: int
    bytes_sent: int
    bytes_received: int
    ttfb_total: float
    last_seen: float

    def __init__(self, bucket_count: int) -> None:
        super().__init__()
        self.statuses: dict[int, int] = {}
        self.buckets = [0] * (bucket_count + 1)  # the last one is +Inf

    def merge(self, other: Any) -> None:
        super().merge(other)
        for code, n in other.statuses.items():
            self.statuses[code] = self.statuses.get(code, 0) + n
        for i, n in enumerate(other.buckets[: len(self.buckets)]):
            self.buckets[i] += n

    def parts(self) -> Iterator[Part]:
        if self.sketch.count == 0:
            return
        yield from super().parts()
        for code, n in self.statuses.items():
            yield f"s{code}", "sum", n
        for i, n in enumerate(self.buckets):
            yield f"h{i}", "sum", n

    def load_flat(self, flat: Mapping[str, str]) -> None:
        super().load_flat(flat)
        self.statuses = {
            int(f[1:]): int(v) for f, v in flat.items() if f[:1] == "s" and f[1:].isdigit()
        }
        for i in range(len(self.buckets)):
            self.buckets[i] = int(flat.get(f"h{i}", 0))

    def to_state(self) -> dict[str, Any]:
        return {
            **super().to_state(),
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "buckets": list(self.buckets),
        }

    def load_state(self, data: Mapping[str, Any]) -> None:
        super().load_state(data)
        self.statuses = {int(k): int(v) for k, v in data["statuses"].items()}
        buckets = [int(n) for n in data["buckets"]]
        if len(buckets) != len(self.buckets):
            raise ValueError("histogram buckets differ from the configured ones")
        self.buckets = buckets


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
