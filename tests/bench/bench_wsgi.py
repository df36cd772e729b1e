"""WSGI per-request overhead: perfkit vs a prometheus_client middleware vs OpenTelemetry.

Run: ``python tests/bench/bench_wsgi.py`` (``--quick`` for a smoke run).
Everything runs in this process, driven by synthetic environs (call the
app, iterate the body, close it); rounds are interleaved and the table
shows medians. Overhead = wrapped time - bare time, paired per round.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

import _common as c
import apps

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _start_response(status: str, headers: Any, exc_info: Any = None) -> Callable[[bytes], None]:
    return _write


def _write(data: bytes) -> None:
    pass


def drive(app: WSGIApp, environs: list[dict[str, Any]], n: int) -> float:
    """Serve `n` requests in-process; seconds spent."""
    k = len(environs)
    start_response = _start_response
    t0 = c.now()
    for i in range(n):
        body = app(environs[i % k].copy(), start_response)
        try:
            for _chunk in body:
                pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
    return c.now() - t0


def main() -> int:
    args = c.bench_args(__doc__.splitlines()[0], "3 rounds of 1,024 requests (a few seconds)")
    rounds = args.rounds or (3 if args.quick else 31)
    n = args.requests or (1024 if args.quick else 5120)
    from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

    from perfkit import Perfkit
    from perfkit.wsgi import PerfkitMiddleware

    print(f"machine: {c.machine_note()}")
    environs = apps.wsgi_environs(apps.request_paths(1000))
    bare = apps.wsgi_app

    kit = Perfkit()
    perfkit_app = PerfkitMiddleware(bare, kit=kit)
    # the same middleware with aggregation deferred: the loop is the request path only
    lazy_kit = Perfkit()
    lazy_kit.registry.drain_at = 1 << 40
    lazy_app = PerfkitMiddleware(bare, kit=lazy_kit)
    prom_app = apps.PrometheusClientMiddleware(bare)
    provider, exporter = apps.make_otel_provider()
    otel_app = OpenTelemetryMiddleware(bare, tracer_provider=provider)

    drains: list[float] = []

    def run_bare() -> float:
        return drive(bare, environs, n) / n

    def run_perfkit() -> float:
        t0 = c.now()
        drive(perfkit_app, environs, n)
        kit.registry.drain()  # whatever is still queued is part of the cost
        return (c.now() - t0) / n

    def run_perfkit_request_path() -> float:
        elapsed = drive(lazy_app, environs, n)
        t0 = c.now()
        lazy_kit.registry.drain()
        drains.append((c.now() - t0) / n)
        return elapsed / n

    def run_prometheus() -> float:
        return drive(prom_app, environs, n) / n

    def run_otel() -> float:
        t0 = c.now()
        drive(otel_app, environs, n)
        provider.force_flush()  # export what the batch processor still holds
        return (c.now() - t0) / n

    variants = {
        "bare app": run_bare,
        "perfkit": run_perfkit,
        "perfkit, request path only": run_perfkit_request_path,
        "prometheus_client middleware": run_prometheus,
        "OpenTelemetry (SDK, batch, no-op exporter)": run_otel,
    }
    samples = c.interleave(variants, rounds, seed=args.seed)
    drain_median = c.median(drains[-rounds:])
    notes = {
        "perfkit": "total: inline drain every 512 + final drain()",
        "perfkit, request path only": (
            f"drain deferred; drain() afterwards adds {c.fmt_us(drain_median)} µs/request"
        ),
        "prometheus_client middleware": "Counter{method,path,status} + Histogram{method,path}",
        "OpenTelemetry (SDK, batch, no-op exporter)": "includes force_flush() per batch",
    }
    table, overheads = c.overhead_table(samples, "bare app", notes)
    print(
        f"\n{rounds} interleaved rounds x {n} requests, timed by {c.CLOCK_NAME}; "
        f"load at end {c.load_now()}\n"
    )
    print(table)
    mine = overheads["perfkit"]
    path_only = overheads["perfkit, request path only"]
    rows = [
        c.ratio_line(
            "perfkit total / prometheus_client",
            mine,
            overheads["prometheus_client middleware"],
            1.0,
            "<= 1",
        ),
        c.ratio_line(
            "perfkit total / OpenTelemetry",
            mine,
            overheads["OpenTelemetry (SDK, batch, no-op exporter)"],
            0.2,
            "<= 0.2",
        ),
        c.ratio_line(
            "perfkit request path / prometheus_client",
            path_only,
            overheads["prometheus_client middleware"],
            1.0,
            "<= 1",
        ),
        c.ratio_line(
            "perfkit request path / OpenTelemetry",
            path_only,
            overheads["OpenTelemetry (SDK, batch, no-op exporter)"],
            0.2,
            "<= 0.2",
        ),
    ]
    print()
    print(c.markdown_table(c.RATIO_HEADERS, rows))
    total = (warm := 1 + rounds) * n
    recorded = sum(e.count for e in kit.registry.endpoints.values())
    print(
        f"\nchecks: perfkit recorded {recorded}/{total} requests over "
        f"{len(kit.registry.endpoints)} endpoints, internal errors {dict(kit.errors.counts)}; "
        f"OpenTelemetry exported {exporter.exported}/{warm * n} spans"
    )
    provider.shutdown()
    return 0 if recorded == total else 1


if __name__ == "__main__":
    sys.exit(main())
