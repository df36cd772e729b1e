"""The registry's exposition with each endpoint series' text cached: a scrape re-renders
only the series whose figures changed since the last one.

The endpoint families (requests by status, the duration histogram, the counters
that endpoint fields declare) are nearly all of a scrape. A series' sample lines
are the same in Prometheus 0.0.4 and OpenMetrics (only family headers differ),
so one cache serves both formats. A series' key is everything its lines are
made of (total, statuses, histogram buckets, declared fields), so a cached text
is never stale, whichever registry (this process's or a fleet view) it came from.

The registry's lock is held only while the figures are copied into keys, not
while text is built, so a scrape holds up a request's inline drain briefly.

The output is byte for byte what `render(registry_families(registry))` gives
(a test checks it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from .collect import registry_families
from .exposition import escape_label_value, format_value, render_into
from .families import MetricFamily
from .registry import Registry
from .stats import EndpointStats

__all__ = ["SeriesText"]

_DECLARED = [(f.attr, f.metric) for f in EndpointStats.FIELDS if f.metric is not None]

# (total, statuses, buckets, declared values): what a series' lines are made of
Key = tuple[float, tuple[tuple[int, int], ...], tuple[int, ...], tuple[float, ...]]
# per series: its key, then its lines of each endpoint family (requests, histogram, declared...)
Entry = tuple[Key, list[str]]


class SeriesText:
    """Renders a registry's families, reusing the text of unchanged endpoint series."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], Entry] = {}
        self._bounds: tuple[float, ...] = ()
        self._le: list[str] = []
        self._lock = threading.Lock()  # one scrape updates the cache at a time
        self.rendered = 0  # series rendered afresh (for tests and benchmarks)

    def render(
        self, registry: Registry, others: Iterable[MetricFamily], openmetrics: bool
    ) -> bytes:
        """The whole exposition: the registry's families, then `others`."""
        declared = [attr for attr, _ in _DECLARED]
        with registry.locked():
            figures = [
                (
                    name,
                    (
                        stats.total,
                        tuple(stats.statuses.items()),
                        tuple(stats.buckets),
                        tuple([getattr(stats, a) for a in declared]),
                    ),
                )
                for name, stats in registry.endpoints.items()
            ]
            bounds = registry.bucket_bounds
        rest = registry_families(_without_endpoints(registry))
        with self._lock:
            if bounds != self._bounds:
                self._entries = {}
                self._bounds = bounds
                self._le = [repr(float(b)) for b in bounds]  # as collect.py writes `le`
            entries = self._fresh(figures)
        lines: list[str] = []
        seen: set[str] = set()
        families = len(_DECLARED) + 2
        heads = rest[:families]  # the endpoint families, emptied: headers only
        for i, family in enumerate(heads):
            render_into(lines, seen, [family], openmetrics)
            for _key, texts in entries:
                lines.append(texts[i])
        render_into(lines, seen, [*rest[families:], *others], openmetrics)
        if openmetrics:
            lines.append("# EOF")
        return ("\n".join(line for line in lines if line) + "\n").encode("utf-8")

    def _fresh(self, figures: list[tuple[tuple[str, str], Key]]) -> list[Entry]:
        old = self._entries
        new: dict[tuple[str, str], Entry] = {}
        for name, key in figures:
            entry = old.get(name)
            if entry is None or entry[0] != key:
                entry = (key, self._lines(name, key))
                self.rendered += 1
            new[name] = entry
        self._entries = new  # series gone from the table are forgotten: bounded
        return list(new.values())

    def _lines(self, name: tuple[str, str], key: Key) -> list[str]:
        total, statuses, buckets, values = key
        labels = f'method="{escape_label_value(name[0])}",endpoint="{escape_label_value(name[1])}"'
        requests = "\n".join(
            f'app_requests_total{{{labels},status="{status}"}} {n}'
            for status, n in sorted(statuses)
        )
        histogram: list[str] = []
        bucket = "app_request_duration_seconds_bucket{" + labels
        cumulative = 0
        for le, n in zip(self._le, buckets, strict=False):
            cumulative += n
            histogram.append(f'{bucket},le="{le}"}} {cumulative}')
        cumulative += buckets[-1]
        histogram.append(f'{bucket},le="+Inf"}} {cumulative}')
        histogram.append(f"app_request_duration_seconds_sum{{{labels}}} {format_value(total)}")
        histogram.append(f"app_request_duration_seconds_count{{{labels}}} {cumulative}")
        declared = [
            f"{metric[0]}_total{{{labels}}} {format_value(value)}"
            for (_attr, metric), value in zip(_DECLARED, values, strict=True)
        ]
        return [requests, "\n".join(histogram), *declared]


class _NoEndpoints:
    """A registry seen without its endpoints (their families come from the cache)."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self.endpoints: dict[tuple[str, str], EndpointStats] = {}

    def __getattr__(self, name: str) -> object:
        return getattr(self._registry, name)


def _without_endpoints(registry: Registry) -> Registry:
    return _NoEndpoints(registry)  # type: ignore[return-value]
