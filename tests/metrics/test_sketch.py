"""The quantile sketch: relative error, merging, bounded memory."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfkit.metrics.sketch import QuantileSketch

QS = (0.5, 0.9, 0.95, 0.99)


def exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[math.floor(q * (len(ordered) - 1))]


def assert_within(sketch: QuantileSketch, values: list[float], tolerance: float = 0.01) -> None:
    for q, estimate in zip(QS, sketch.quantiles(QS), strict=True):
        truth = exact(values, q)
        assert estimate is not None
        assert abs(estimate - truth) <= tolerance * truth, (q, estimate, truth)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    mu=st.floats(-9, 2),
    sigma=st.floats(0.05, 2.5),
    n=st.integers(50, 5000),
)
def test_lognormal_quantiles_within_one_percent(seed: int, mu: float, sigma: float, n: int) -> None:
    """p50/p90/p95/p99 are within 1 % of the exact order statistic on lognormal data."""
    rng = random.Random(seed)
    values = [rng.lognormvariate(mu, sigma) for _ in range(n)]
    sketch = QuantileSketch()
    for v in values:
        sketch.add(v)
    assert_within(sketch, values)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    fast=st.floats(1e-5, 0.01),
    slow=st.floats(0.5, 30),
    share=st.floats(0.01, 0.5),
    n=st.integers(100, 5000),
)
def test_bimodal_quantiles_within_one_percent(
    seed: int, fast: float, slow: float, share: float, n: int
) -> None:
    """A fast mode and a slow tail: the quantiles still land within 1 %."""
    rng = random.Random(seed)
    values = [
        rng.gauss(slow, slow * 0.1) if rng.random() < share else rng.gauss(fast, fast * 0.2)
        for _ in range(n)
    ]
    values = [max(v, 1e-7) for v in values]
    sketch = QuantileSketch()
    for v in values:
        sketch.add(v)
    assert_within(sketch, values)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(1e-6, 1e4), min_size=1, max_size=400), st.integers(1, 5))
def test_merge_equals_one_sketch(values: list[float], parts: int) -> None:
    """Merging sketches of parts gives exactly the sketch of the whole (counts add)."""
    whole = QuantileSketch()
    pieces = [QuantileSketch() for _ in range(parts)]
    for i, v in enumerate(values):
        whole.add(v)
        pieces[i % parts].add(v)
    merged = QuantileSketch()
    for piece in pieces:
        merged.merge(piece)
    assert merged.count == whole.count == len(values)
    assert merged.quantiles(QS) == whole.quantiles(QS)
    assert merged.min == min(values) and merged.max == max(values)


def test_round_trip_through_dict() -> None:
    sketch = QuantileSketch()
    for v in (0.0, 0.001, 0.2, 3.0, 3.0):
        sketch.add(v)
    again = QuantileSketch.from_dict(sketch.to_dict())
    assert again.quantiles(QS) == sketch.quantiles(QS)
    assert again.count == 5 and again.zero_count == 1


def test_memory_is_bounded_however_wide_the_spread() -> None:
    """Values over 15 orders of magnitude never grow the bins past max_bins."""
    sketch = QuantileSketch(max_bins=256)
    for exponent in range(-9, 7):
        for mantissa in range(1, 100):
            sketch.add(mantissa * 10.0**exponent)
    assert len(sketch.counts) <= 256
    assert sketch.count == 16 * 99
    high = sketch.quantile(0.99)
    assert high is not None and high > 1e5  # the top of the range stays accurate


def test_empty_and_extremes() -> None:
    sketch = QuantileSketch()
    assert sketch.quantile(0.5) is None
    sketch.add(0.25)
    assert sketch.quantile(0) == sketch.quantile(1) == 0.25
    with pytest.raises(ValueError, match="quantile must be in"):
        sketch.quantile(1.5)
    with pytest.raises(ValueError, match="relative_accuracy"):
        QuantileSketch(relative_accuracy=0)


def test_negative_and_zero_values_count_as_zero() -> None:
    sketch = QuantileSketch()
    sketch.add(-1.0)
    sketch.add(0.0)
    sketch.add(2.0)
    assert sketch.count == 3 and sketch.zero_count == 2
    assert sketch.quantile(0) == 0.0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-1.0, 1e6, allow_nan=False), max_size=300), st.integers(16, 64))
def test_add_many_is_the_same_as_adding_each(values: list[float], max_bins: int) -> None:
    one_by_one = QuantileSketch(max_bins=max_bins)
    for v in values:
        one_by_one.add(v)
    batched = QuantileSketch(max_bins=max_bins)
    batched.add_many(values)
    assert batched.to_dict() == one_by_one.to_dict()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1e6, allow_nan=False)), max_size=300))
def test_add_indexed_is_the_same_as_adding_each(values: list[float]) -> None:
    """Same bins, counts and extremes (within max_bins; folding past it depends on order)."""
    one_by_one = QuantileSketch()
    for v in values:
        one_by_one.add(v)
    indexed = QuantileSketch()
    indexed.add_indexed([indexed.index_of(v) for v in values], values)
    assert indexed.quantiles(QS) == one_by_one.quantiles(QS)
    assert (indexed.count, indexed.zero_count, indexed.min, indexed.max) == (
        one_by_one.count,
        one_by_one.zero_count,
        one_by_one.min,
        one_by_one.max,
    )


def test_bins_from_a_store_never_allocate_past_max_bins() -> None:
    """A corrupted or foreign store cannot make a sketch allocate gigabytes."""
    sketch = QuantileSketch.from_bins({-(10**12): 1, 5: 2, 10**12: 3}, 0, 0.1, 1e9)
    assert len(sketch.counts) <= sketch.max_bins
    assert sketch.count == 6
