"""A mergeable relative-error quantile sketch (logarithmic bins, in the manner of DDSketch).

Every positive value ``v`` falls in bin ``ceil(log(v) / log(gamma))`` with
``gamma = (1 + a) / (1 - a)``; answering a quantile with the bin's midpoint
``2 * gamma**i / (gamma + 1)`` is then within relative error ``a`` of the
true value of that rank. Bins are counts, so two sketches merge by adding
them, exactly. Memory is bounded by `max_bins`: past it the lowest bins are
folded together (only the smallest quantiles lose accuracy; with the defaults
that takes a spread of more than six orders of magnitude).
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["DEFAULT_RELATIVE_ACCURACY", "QuantileSketch"]

DEFAULT_RELATIVE_ACCURACY = 0.0075
_MIN_POSITIVE = 1e-9  # values below a nanosecond count as zero
ZERO_INDEX = -(1 << 62)  # the "bin" of values that count as zero (see index_of)
_INF = float("inf")


class QuantileSketch:
    """Quantiles within `relative_accuracy` of the exact value, in fixed memory.

    Bins live in one contiguous ``array('q')`` (8 bytes a bin, from index
    `offset` upwards) rather than a dict: a few hundred bins cost a few KB.
    """

    __slots__ = (
        "_gamma",
        "_multiplier",
        "count",
        "counts",
        "max",
        "max_bins",
        "min",
        "offset",
        "zero_count",
    )

    def __init__(
        self, relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY, max_bins: int = 2048
    ) -> None:
        if not 0 < relative_accuracy < 1:
            raise ValueError(f"relative_accuracy must be in (0, 1), got {relative_accuracy!r}")
        if max_bins < 16:
            raise ValueError(f"max_bins must be >= 16, got {max_bins!r}")
        self._gamma = (1 + relative_accuracy) / (1 - relative_accuracy)
        self._multiplier = 1 / math.log(self._gamma)
        self.max_bins = max_bins
        self.counts = array("q")
        self.offset = 0
        self.zero_count = 0
        self.count = 0
        self.min = math.inf
        self.max = -math.inf

    @property
    def relative_accuracy(self) -> float:
        return (self._gamma - 1) / (self._gamma + 1)

    def add(self, value: float, weight: int = 1) -> None:
        """Record `value` (`weight` times). Negative values count as zero; NaN and
        infinities are ignored (they have no rank)."""
        if value > _MIN_POSITIVE:
            if value == _INF:
                return
            index = math.ceil(math.log(value) * self._multiplier)
            pos = index - self.offset
            counts = self.counts
            if 0 <= pos < len(counts):
                counts[pos] += weight
            else:
                self._add_outside(index, weight)
        elif value != value:  # NaN
            return
        else:
            self.zero_count += weight
            value = max(value, 0.0)
        self.count += weight
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value

    def add_many(self, values: list[float]) -> None:
        """Record every value of `values`: the same as `add` for each, in one tight loop."""
        multiplier = self._multiplier
        counts = self.counts
        offset = self.offset
        size = len(counts)
        low = self.min
        high = self.max
        zeros = 0
        log = math.log
        ceil = math.ceil
        skipped = 0
        for value in values:
            if value > _MIN_POSITIVE:
                if value == _INF:
                    skipped += 1
                    continue
                pos = ceil(log(value) * multiplier) - offset
                if 0 <= pos < size:
                    counts[pos] += 1
                else:
                    self._add_outside(pos + offset, 1)
                    counts = self.counts
                    offset = self.offset
                    size = len(counts)
            elif value != value:  # NaN
                skipped += 1
                continue
            else:
                zeros += 1
                value = max(value, 0.0)
            if value < low:
                low = value
            if value > high:
                high = value
        self.zero_count += zeros
        self.count += len(values) - skipped
        self.min = low
        self.max = high

    def index_of(self, value: float) -> int:
        """The bin index of `value` (`ZERO_INDEX` for values that count as zero).

        With `add_indexed`, a batch computes each value's bin once and feeds
        several sketches of the same accuracy (an endpoint's and its minute's).
        """
        if value > _MIN_POSITIVE:
            return math.ceil(math.log(value) * self._multiplier)
        return ZERO_INDEX

    def add_indexed(self, indices: list[int], values: list[float]) -> None:
        """Record `values` whose bins `index_of` already gave as `indices` (same order).

        NaN and infinite values must have been left out by the caller.
        """
        if not values:
            return
        counted = Counter(indices)
        zeros = counted.pop(ZERO_INDEX, 0)
        counts = self.counts
        offset = self.offset
        for index, n in sorted(counted.items(), reverse=True):  # highest first: folding is stable
            pos = index - offset
            if 0 <= pos < len(counts):
                counts[pos] += n
            else:
                self._add_outside(index, n)
                counts = self.counts
                offset = self.offset
        self.zero_count += zeros
        self.count += len(values)
        low = min(values)
        high = max(values)
        if low < self.min:
            self.min = max(low, 0.0)
        if high > self.max:
            self.max = high

    def _add_outside(self, index: int, weight: int) -> None:
        """Widen the bin range to take `index`, then fold the lowest bins if too wide."""
        counts = self.counts
        if not counts:
            self.offset = index
            self.counts = array("q", [weight])
            return
        if index < self.offset:
            if self.offset + len(counts) - index > self.max_bins:
                counts[0] += weight  # below the kept range: the lowest bin absorbs it
                return
            self.counts = array("q", bytes(8 * (self.offset - index))) + counts
            self.offset = index
            self.counts[0] += weight
            return
        counts.extend(array("q", bytes(8 * (index - self.offset - len(counts) + 1))))
        counts[index - self.offset] += weight
        self._fold_excess()

    def _fold_excess(self) -> None:
        excess = len(self.counts) - self.max_bins
        if excess > 0:
            folded = sum(self.counts[: excess + 1])
            del self.counts[:excess]
            self.counts[0] = folded
            self.offset += excess

    def merge(self, other: QuantileSketch) -> None:
        """Add every value recorded in `other` to this sketch."""
        if abs(other._gamma - self._gamma) > 1e-12:
            raise ValueError("cannot merge sketches of different relative accuracy")
        for pos, n in enumerate(other.counts):
            if n:
                index = other.offset + pos
                mine = index - self.offset
                if 0 <= mine < len(self.counts):
                    self.counts[mine] += n
                else:
                    self._add_outside(index, n)
        self.zero_count += other.zero_count
        self.count += other.count
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)

    def quantile(self, q: float) -> float | None:
        """The value at quantile `q` (0..1), or None when the sketch is empty."""
        return self.quantiles((q,))[0]

    def quantiles(self, qs: Iterable[float]) -> list[float | None]:
        """Several quantiles in one pass over the bins; each must be in [0, 1]."""
        wanted = list(qs)
        for q in wanted:
            if not 0 <= q <= 1:
                raise ValueError(f"quantile must be in [0, 1], got {q!r}")
        if self.count == 0:
            return [None] * len(wanted)
        order = sorted(range(len(wanted)), key=wanted.__getitem__)
        ranks = [wanted[i] * (self.count - 1) for i in order]
        results: list[float | None] = [None] * len(wanted)
        done = 0
        cumulative = self.zero_count
        while done < len(order) and ranks[done] < cumulative:
            results[order[done]] = max(self.min, 0.0)
            done += 1
        for pos, n in enumerate(self.counts):
            if done == len(order):
                break
            if not n:
                continue
            cumulative += n
            if ranks[done] < cumulative:
                value = self._clamp(self._value(self.offset + pos))
                while done < len(order) and ranks[done] < cumulative:
                    results[order[done]] = value
                    done += 1
        for i in order[done:]:
            results[i] = self.max
        for i, q in enumerate(wanted):
            if q == 1:
                results[i] = self.max  # the maximum is known exactly
        return results

    def _value(self, index: int) -> float:
        return 2 * self._gamma**index / (self._gamma + 1)

    def _clamp(self, value: float) -> float:
        return min(max(value, self.min), self.max)

    def copy(self) -> QuantileSketch:
        clone = QuantileSketch.__new__(QuantileSketch)
        clone._gamma = self._gamma
        clone._multiplier = self._multiplier
        clone.max_bins = self.max_bins
        clone.counts = array("q", self.counts)
        clone.offset = self.offset
        clone.zero_count = self.zero_count
        clone.count = self.count
        clone.min = self.min
        clone.max = self.max
        return clone

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (for stores and the fleet merge)."""
        return {
            "relative_accuracy": self.relative_accuracy,
            "offset": self.offset,
            "counts": list(self.counts),
            "zero_count": self.zero_count,
            "count": self.count,
            "min": None if self.count == 0 else self.min,
            "max": None if self.count == 0 else self.max,
        }

    @classmethod
    def from_bins(
        cls, bins: Mapping[int, int], zero_count: int, low: float, high: float
    ) -> QuantileSketch:
        """A sketch from sparse bins (``index -> count``), e.g. read back from a store."""
        sketch = cls()
        if bins:
            last = max(bins)
            # never allocate past max_bins, whatever a store hands back: lower bins fold
            first = max(min(bins), last - sketch.max_bins + 1)
            sketch.offset = first
            sketch.counts = array("q", bytes(8 * (last - first + 1)))
            for index, n in bins.items():
                sketch.counts[max(index, first) - first] += n
        sketch.zero_count = zero_count
        sketch.count = zero_count + sum(bins.values())
        if sketch.count:
            sketch.min, sketch.max = low, high
        return sketch

    def bins(self) -> dict[int, int]:
        """The non-empty bins as ``index -> count``."""
        offset = self.offset
        return {offset + pos: n for pos, n in enumerate(self.counts) if n}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuantileSketch:
        """Rebuild a sketch from `to_dict` output."""
        sketch = cls(float(data.get("relative_accuracy", DEFAULT_RELATIVE_ACCURACY)))
        sketch.offset = int(data["offset"])
        sketch.counts = array("q", (int(n) for n in data["counts"]))
        sketch.zero_count = int(data["zero_count"])
        sketch.count = int(data["count"])
        if sketch.count:
            sketch.min = float(data["min"])
            sketch.max = float(data["max"])
        return sketch
