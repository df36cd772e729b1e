"""ASGI per-request overhead on a Starlette app: perfkit vs starlette-exporter vs OpenTelemetry.

Run: ``python tests/bench/bench_asgi.py`` (``--quick`` for a smoke run).
The ASGI apps are called directly in one event loop with synthetic scopes
and a no-op receive/send (no HTTP client in the loop to dominate the time);
rounds are interleaved and the table shows medians. Overhead = wrapped time
- bare Starlette time, paired per round.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import _common as c
import apps

_REQUEST = {"type": "http.request", "body": b"", "more_body": False}


async def _receive() -> dict[str, Any]:
    return _REQUEST


async def _send(message: Any) -> None:
    pass


async def _drive(app: Any, scopes: list[dict[str, Any]], n: int) -> float:
    k = len(scopes)
    receive, send = _receive, _send
    t0 = c.now()
    for i in range(n):
        await app(scopes[i % k].copy(), receive, send)
    return c.now() - t0


def main() -> int:
    args = c.bench_args(__doc__.splitlines()[0], "3 rounds of 1,024 requests (a few seconds)")
    rounds = args.rounds or (3 if args.quick else 31)
    n = args.requests or (1024 if args.quick else 5120)
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from prometheus_client import REGISTRY
    from starlette_exporter import PrometheusMiddleware

    from perfkit import Perfkit
    from perfkit.asgi import PerfkitMiddleware

    print(f"machine: {c.machine_note()}")
    scopes = apps.asgi_scopes(apps.request_paths(1000))
    # each variant gets its own app instance, so no state is shared between them
    bare = apps.make_starlette_app()
    kit = Perfkit()
    perfkit_app = PerfkitMiddleware(apps.make_starlette_app(), kit=kit)
    lazy_kit = Perfkit()
    lazy_kit.registry.drain_at = 1 << 40
    lazy_app = PerfkitMiddleware(apps.make_starlette_app(), kit=lazy_kit)
    exporter_app = PrometheusMiddleware(apps.make_starlette_app())
    provider, spans = apps.make_otel_provider()
    otel_app = OpenTelemetryMiddleware(apps.make_starlette_app(), tracer_provider=provider)

    loop = asyncio.new_event_loop()
    drains: list[float] = []

    def timed(app: Any) -> float:
        return loop.run_until_complete(_drive(app, scopes, n)) / n

    def run_perfkit() -> float:
        t0 = c.now()
        loop.run_until_complete(_drive(perfkit_app, scopes, n))
        kit.registry.drain()
        return (c.now() - t0) / n

    def run_perfkit_request_path() -> float:
        elapsed = loop.run_until_complete(_drive(lazy_app, scopes, n))
        t0 = c.now()
        lazy_kit.registry.drain()
        drains.append((c.now() - t0) / n)
        return elapsed / n

    def run_otel() -> float:
        t0 = c.now()
        loop.run_until_complete(_drive(otel_app, scopes, n))
        provider.force_flush()
        return (c.now() - t0) / n

    otel_name = "OpenTelemetry ASGI (SDK, batch, no-op exporter)"
    variants = {
        "bare Starlette": lambda: timed(bare),
        "perfkit": run_perfkit,
        "perfkit, request path only": run_perfkit_request_path,
        "starlette-exporter": lambda: timed(exporter_app),
        otel_name: run_otel,
    }
    try:
        samples = c.interleave(variants, rounds, seed=args.seed)
    finally:
        loop.close()
    notes = {
        "perfkit": "total: inline drain every 512 + final drain()",
        "perfkit, request path only": (
            f"drain deferred; drain() afterwards adds "
            f"{c.fmt_us(c.median(drains[-rounds:]))} µs/request"
        ),
        "starlette-exporter": "PrometheusMiddleware defaults (group_paths=True)",
        otel_name: "includes force_flush() per batch; receive/send spans on (default)",
    }
    table, overheads = c.overhead_table(samples, "bare Starlette", notes)
    print(
        f"\n{rounds} interleaved rounds x {n} requests, timed by {c.CLOCK_NAME}; "
        f"load at end {c.load_now()}\n"
    )
    print(table)
    rows = []
    for label, mine in (
        ("perfkit total", overheads["perfkit"]),
        ("perfkit request path", overheads["perfkit, request path only"]),
    ):
        rows.append(
            c.ratio_line(
                f"{label} / starlette-exporter",
                mine,
                overheads["starlette-exporter"],
                1 / 3,
                "<= 0.333",
            )
        )
        rows.append(
            c.ratio_line(f"{label} / OpenTelemetry", mine, overheads[otel_name], 0.2, "<= 0.2")
        )
    print()
    print(c.markdown_table(c.RATIO_HEADERS, rows))
    total = (1 + rounds) * n
    recorded = sum(e.count for e in kit.registry.endpoints.values())
    exported = sum(
        s.value
        for metric in REGISTRY.collect()
        if metric.name == "starlette_requests"
        for s in metric.samples
        if s.name == "starlette_requests_total"
    )
    routes = sorted(route for _, route in kit.registry.endpoints)
    print(
        f"\nchecks: perfkit recorded {recorded}/{total} requests over "
        f"{len(routes)} endpoints ({routes}), "
        f"internal errors {dict(kit.errors.counts)}; starlette-exporter counted {exported:.0f}; "
        f"OpenTelemetry exported {spans.exported} spans"
    )
    provider.shutdown()
    return 0 if recorded == total else 1


if __name__ == "__main__":
    sys.exit(main())
