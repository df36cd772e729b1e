"""The registry's metric families for Prometheus exposition."""

from __future__ import annotations

from collections.abc import Sequence

from .families import MetricFamily
from .registry import Registry
from .stats import EndpointStats

__all__ = ["registry_families"]


def _histogram(
    family: MetricFamily,
    bounds: Sequence[float],
    buckets: Sequence[int],
    total: float,
    labels: dict[str, str],
) -> None:
    cumulative = 0
    for bound, n in zip(bounds, buckets, strict=False):
        cumulative += n
        family.add(cumulative, "_bucket", **labels, le=repr(float(bound)))
    cumulative += buckets[-1]
    family.add(cumulative, "_bucket", **labels, le="+Inf")
    family.add(total, "_sum", **labels)
    family.add(cumulative, "_count", **labels)


def registry_families(registry: Registry) -> list[MetricFamily]:
    """Requests, durations, in-flight, errors, query durations and user gauges."""
    requests = MetricFamily(
        "app_requests", "counter", "HTTP requests served, by endpoint and status."
    )
    durations = MetricFamily(
        "app_request_duration_seconds", "histogram", "HTTP request duration until the last byte."
    )
    in_progress = MetricFamily("app_requests_in_progress", "gauge", "HTTP requests being served.")
    errors = MetricFamily("app_errors", "counter", "Exceptions raised by the app, by type.")
    queries = MetricFamily(
        "app_db_query_duration_seconds", "histogram", "Database query duration, by operation."
    )
    gauges = MetricFamily(
        "app_custom_value", "gauge", "Values set with kit.set_gauge(name, value)."
    )
    # one counter family per endpoint field that declares a metric (EndpointStats.FIELDS)
    declared = [
        (f.attr, MetricFamily(f.metric[0], "counter", f.metric[1]))
        for f in EndpointStats.FIELDS
        if f.metric is not None
    ]
    bounds = registry.bucket_bounds
    with registry.locked():
        for (method, route), stats in registry.endpoints.items():
            for status, n in sorted(stats.statuses.items()):
                requests.add(n, "_total", method=method, endpoint=route, status=str(status))
            _histogram(
                durations, bounds, stats.buckets, stats.total, {"method": method, "endpoint": route}
            )
            for attr, family in declared:
                family.add(getattr(stats, attr), "_total", method=method, endpoint=route)
        in_progress.add(registry.in_progress)
        for error_type, count in registry.error_types.items():
            errors.add(count.n, "_total", type=error_type)
        for operation, ops in sorted(registry.query_operations.items()):
            _histogram(queries, bounds, ops.buckets, ops.total, {"operation": operation})
        for name, value in sorted(registry.gauges.items()):
            gauges.add(value, name=name)
    return [requests, durations, *(f for _, f in declared), in_progress, errors, queries, gauges]
