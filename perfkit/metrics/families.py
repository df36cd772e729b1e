"""The exposition model: metric families and samples, independent of any text format."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = ["Collector", "MetricFamily", "MetricKind", "Sample"]

MetricKind = Literal["counter", "gauge", "histogram", "summary", "unknown"]


@dataclass(frozen=True)
class Sample:
    """One line of exposition: ``name+suffix{labels} value``.

    `suffix` is ``""`` for gauges, ``"_total"`` for counters and
    ``"_bucket"``/``"_sum"``/``"_count"`` for histograms.
    """

    suffix: str
    labels: Mapping[str, str]
    value: float


@dataclass
class MetricFamily:
    """A named metric with its type, help text and samples.

    `name` is the family name without the ``_total`` suffix of counters.
    """

    name: str
    kind: MetricKind
    help: str
    samples: list[Sample] = field(default_factory=list)

    def add(self, value: float, suffix: str = "", **labels: str) -> None:
        self.samples.append(Sample(suffix, labels, value))


class Collector(Protocol):
    """Anything that contributes metric families to ``/metrics``."""

    def collect(self) -> Iterable[MetricFamily]:
        """Return the families as they are now; called on every scrape."""
