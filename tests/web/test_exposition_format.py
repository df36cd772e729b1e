"""/metrics read back by real parsers: prometheus_client (0.0.4, OpenMetrics) and promtool."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_prometheus

from perfkit import Perfkit, PerfkitSettings
from perfkit.metrics.exposition import OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, render
from perfkit.metrics.families import MetricFamily
from perfkit.testing import FakeClock
from perfkit.web.api import ApiRequest, handle

OPENMETRICS_ACCEPT = "application/openmetrics-text"
# what a Prometheus 2.x server sends when it scrapes
PROMETHEUS_SCRAPE_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
Parser = Callable[[str], Iterable[Any]]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# label values as users produce them: any unicode but surrogates, which UTF-8 cannot carry
label_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


def new_kit(**overrides: Any) -> Perfkit:
    return Perfkit(PerfkitSettings(**overrides), clock=FakeClock())


def parsed(kit: Perfkit, accept: str | None, parser: Parser) -> Samples:
    """Render the kit's /metrics for `accept` and read it back with `parser`."""
    _, body = kit.render_metrics(accept)
    samples: Samples = {}
    for family in parser(body.decode("utf-8")):
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            assert key not in samples, f"duplicate series {key}"
            samples[key] = sample.value
    return samples


def series(samples: Samples, name: str) -> list[tuple[dict[str, str], float]]:
    return [(dict(labels), value) for (n, labels), value in samples.items() if n == name]


# ------------------------------------------------------------------ escaping
@FAST
@given(routes=st.lists(label_text, min_size=1, max_size=5, unique=True), error_type=label_text)
def test_label_values_round_trip_exactly_in_both_formats(
    routes: list[str], error_type: str
) -> None:
    """Route names and error types with any unicode come back from both parsers unchanged."""
    kit = new_kit()
    for i, route in enumerate(routes):
        kit.record_api_performance(route, "GET", 0.01 * (i + 1), 200)
    kit.record_request("POST", "/fails", 500, 0.1, error_type=error_type)
    expected = {("GET", route, "200"): 1.0 for route in routes} | {("POST", "/fails", "500"): 1.0}

    results = []
    for accept, parser in ((None, parse_prometheus), (OPENMETRICS_ACCEPT, parse_openmetrics)):
        samples = parsed(kit, accept, parser)
        got = {
            (labels["method"], labels["endpoint"], labels["status"]): value
            for labels, value in series(samples, "app_requests_total")
        }
        assert got == expected
        assert series(samples, "app_errors_total") == [({"type": error_type}, 1.0)]
        endpoints = {
            labels["endpoint"]
            for labels, _ in series(samples, "app_request_duration_seconds_count")
        }
        assert endpoints == {*routes, "/fails"}
        results.append(samples)
    assert results[0] == results[1]  # both formats carry exactly the same samples


@FAST
@given(help_text=label_text.map(str.strip), value=label_text)
def test_help_text_and_label_values_of_any_family_round_trip(help_text: str, value: str) -> None:
    """render() escapes help texts and label values that both parsers read back as given.

    (Whitespace around a help text is not kept by the formats themselves.)
    """
    family = MetricFamily("sample_metric", "gauge", help_text)
    family.add(1.5, where=value, fixed="x")
    for openmetrics, parser in ((False, parse_prometheus), (True, parse_openmetrics)):
        [read] = list(parser(render([family], openmetrics=openmetrics).decode("utf-8")))
        assert read.documentation == help_text
        assert [(s.name, s.labels, s.value) for s in read.samples] == [
            ("sample_metric", {"where": value, "fixed": "x"}, 1.5)
        ]


# ---------------------------------------------------------------- histograms
durations = st.lists(
    st.one_of(
        st.floats(min_value=0.0, max_value=15.0, allow_nan=False),
        st.sampled_from(PerfkitSettings().histogram_buckets),  # exactly on a bound: le is <=
    ),
    min_size=1,
    max_size=60,
)


@FAST
@given(values=durations, statuses=st.lists(st.sampled_from([200, 201, 404, 500]), min_size=1))
def test_histogram_buckets_are_cumulative_and_count_equals_requests(
    values: list[float], statuses: list[int]
) -> None:
    """Each bucket counts durations <= le; +Inf, _count and the request counters agree."""
    kit = new_kit()
    for i, duration in enumerate(values):
        kit.record_api_performance("/h", "GET", duration, statuses[i % len(statuses)])
    for accept, parser in ((None, parse_prometheus), (OPENMETRICS_ACCEPT, parse_openmetrics)):
        samples = parsed(kit, accept, parser)
        buckets = sorted(
            (float(labels["le"]), value)
            for labels, value in series(samples, "app_request_duration_seconds_bucket")
        )
        assert [le for le, _ in buckets] == [*PerfkitSettings().histogram_buckets, math.inf]
        for le, count in buckets:
            assert count == sum(1 for d in values if d <= le), f"le={le}"
        counts = [count for _, count in buckets]
        assert counts == sorted(counts)  # cumulative
        [(_, total)] = series(samples, "app_request_duration_seconds_count")
        requests = sum(value for _, value in series(samples, "app_requests_total"))
        assert counts[-1] == total == requests == len(values)
        [(_, duration_sum)] = series(samples, "app_request_duration_seconds_sum")
        assert duration_sum == pytest.approx(math.fsum(values), rel=1e-9, abs=1e-12)


@FAST
@given(
    bounds=st.lists(
        st.floats(min_value=1e-9, max_value=1e9, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=12,
        unique=True,
    ).map(sorted)
)
def test_configured_bucket_bounds_are_exact_le_labels(bounds: list[float]) -> None:
    """Any configured bounds are rendered as le labels that parse back to the same floats."""
    kit = new_kit(histogram_buckets=tuple(bounds))
    kit.record_api_performance("/b", "GET", bounds[0], 200)
    kit.record_query_performance("SELECT 1", bounds[-1])
    for accept, parser in ((None, parse_prometheus), (OPENMETRICS_ACCEPT, parse_openmetrics)):
        samples = parsed(kit, accept, parser)
        for name in ("app_request_duration_seconds_bucket", "app_db_query_duration_seconds_bucket"):
            les = sorted(float(labels["le"]) for labels, _ in series(samples, name))
            assert les == [*bounds, math.inf], name


def test_non_finite_durations_never_break_the_exposition() -> None:
    """A NaN or infinite duration given by hand must not poison _sum or the OpenMetrics output."""
    kit = new_kit()
    kit.record_api_performance("/nan", "GET", float("nan"), 200)
    kit.record_api_performance("/inf", "GET", float("inf"), 200)
    kit.record_query_performance("SELECT 1", float("nan"))
    kit.record_api_performance("/ok", "GET", 0.2, 200)
    for accept, parser in ((None, parse_prometheus), (OPENMETRICS_ACCEPT, parse_openmetrics)):
        samples = parsed(kit, accept, parser)
        for (name, labels), value in samples.items():
            if name.endswith("_sum"):
                assert math.isfinite(value), (name, labels, value)


# ------------------------------------------------------------- negotiation
@pytest.mark.parametrize(
    ("accept", "openmetrics"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("text/plain", False),
        ("text/plain;version=0.0.4", False),
        ("application/json, text/html;q=0.9", False),
        ("application/openmetrics-text", True),
        ("application/openmetrics-text; version=1.0.0; charset=utf-8", True),
        (PROMETHEUS_SCRAPE_ACCEPT, True),
        # media types are case-insensitive (RFC 9110, 8.3.1)
        ("Application/OpenMetrics-Text; version=1.0.0", True),
        # q=0 means "not acceptable" (RFC 9110, 12.4.2)
        ("application/openmetrics-text;q=0, text/plain;version=0.0.4", False),
    ],
)
def test_format_is_chosen_by_accept(accept: str | None, openmetrics: bool) -> None:
    """GET /metrics answers OpenMetrics only when the client asks for it."""
    kit = new_kit()
    kit.record_api_performance("/n", "GET", 0.05, 200)
    headers = {} if accept is None else {"accept": accept}
    response = handle(kit, ApiRequest("GET", "/metrics", headers=headers))
    assert response.status == 200
    text = response.body.decode("utf-8")
    if openmetrics:
        assert response.content_type == OPENMETRICS_CONTENT_TYPE
        assert text.endswith("# EOF\n") and text.count("# EOF") == 1
        families = {f.name for f in parse_openmetrics(text)}
    else:
        assert response.content_type == PROMETHEUS_CONTENT_TYPE
        assert "# EOF" not in text
        families = {f.name for f in parse_prometheus(text)}
    assert {"app_requests", "app_request_duration_seconds", "app_requests_in_progress"} <= families


# ------------------------------------------------------------------ promtool
NASTY = ['quote"d', "back\\slash", "new\nline", "tab\tand é ü 中文 🎉", "", "{braces}", "a=b,c"]


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        message = "promtool is not installed (Debian package `prometheus`)"
        if os.environ.get("PERFKIT_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " [PERFKIT_REQUIRE_SERVICES=1]")
        pytest.skip(message)
    return found


def check_metrics(body: bytes) -> None:
    result = subprocess.run(
        [promtool(), "check", "metrics"], input=body, capture_output=True, timeout=60
    )
    report = (result.stdout + result.stderr).decode(errors="replace")
    assert (result.returncode, report) == (0, ""), body.decode(errors="replace")[:3000]


def kit_with_traffic() -> Perfkit:
    kit = new_kit()
    for i, name in enumerate(NASTY):
        kit.record_api_performance(name, "GET", 0.003 * (i + 1), 200)
    for status, duration in ((201, 0.02), (404, 0.001), (500, 3.0), (503, 12.0)):
        kit.record_api_performance("/users/{id}", "POST", duration, status)
    for error in ("ValueError", 'Odd"Error\\', "ÉrreurÀ"):
        kit.record_request("GET", "/boom", 500, 0.01, error_type=error)
    kit.record_query_performance("SELECT * FROM users WHERE id = 1", 0.004)
    kit.record_query_performance("UPDATE users SET name = 'x' WHERE id = 2", 0.7)
    kit.record_query_performance("VACUUM", 0.1)
    return kit


def test_promtool_accepts_the_output_of_a_kit_with_traffic() -> None:
    """Requests (with hostile names), errors and queries pass `promtool check metrics`."""
    check_metrics(kit_with_traffic().render_metrics(None)[1])


def test_promtool_accepts_the_output_with_user_gauges() -> None:
    """Gauges set with kit.set_gauge are exposed under a name promtool's linter accepts."""
    kit = kit_with_traffic()
    kit.set_gauge("db.connections", 12)
    kit.set_gauge('queue depth "main"', 3.5)
    _, body = kit.render_metrics(None)
    gauges = [s for f in parse_prometheus(body.decode()) if f.type == "gauge" for s in f.samples]
    assert {s.value for s in gauges} >= {12.0, 3.5}  # the gauges are exposed...
    check_metrics(body)  # ...under a name the linter accepts
