"""Memory: 1,000,000 requests over 10,000 distinct raw paths through the WSGI middleware.

Run: ``python tests/bench/bench_memory.py`` (``--quick``: 50,000 requests).
Half the distinct paths carry ids and template to 3 routes
(``/users/{id}``...); the other half (``/page-<word><n>``) do not template
and would each become a series without the ``max_endpoints`` cap. tracemalloc
traces every allocation from before the kit is built; the figure is what
is still allocated after the run (the kit, its registry and the templater
cache), plus the peak.
"""

from __future__ import annotations

import gc
import random
import sys
import tracemalloc
from time import perf_counter
from typing import Any

import _common as c
import apps
from bench_wsgi import drive

LIMIT_MB = 30.0
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")


def distinct_paths(count: int, seed: int = 11) -> list[tuple[str, str]]:
    """`count` distinct raw paths: half templatable ids, half untemplatable pages."""
    rng = random.Random(seed)
    paths: list[tuple[str, str]] = []
    for i in range(count):
        kind = i % 4
        if kind == 0:
            paths.append(("GET", f"/page-{WORDS[i % len(WORDS)]}{i}"))
        elif kind == 1:
            paths.append(("GET", f"/users/{i}"))
        elif kind == 2:
            paths.append(("GET", f"/docs/{WORDS[(i // 3) % len(WORDS)]}-guide-{i}/edit"))
        else:
            paths.append(("POST", f"/orders/{rng.getrandbits(64):016x}{i:04d}/items/{i}"))
    assert len({p for _, p in paths}) == count
    return paths


def main() -> int:
    args = c.bench_args(__doc__.splitlines()[0], "50,000 requests instead of 1,000,000")
    total = args.requests or (50_000 if args.quick else 1_000_000)
    from perfkit import Perfkit, PerfkitSettings
    from perfkit.wsgi import PerfkitMiddleware

    print(f"machine: {c.machine_note()}")
    paths = distinct_paths(10_000)
    order = list(range(len(paths)))
    random.Random(args.seed).shuffle(order)
    environs = apps.wsgi_environs([paths[i] for i in order])
    settings = PerfkitSettings()

    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    kit = Perfkit(settings)
    app = PerfkitMiddleware(apps.wsgi_app, kit=kit)
    t0 = perf_counter()
    drive(app, environs, total)
    kit.registry.drain()
    elapsed = perf_counter() - t0
    gc.collect()
    current, peak = tracemalloc.get_traced_memory()
    snapshot = tracemalloc.take_snapshot()
    tracemalloc.stop()
    in_perfkit = sum(
        stat.size
        for stat in snapshot.statistics("filename")
        if "/perfkit/" in stat.traceback[0].filename
    )

    registry = kit.registry
    recorded = sum(e.count for e in registry.endpoints.values())
    _, body = kit.render_metrics()
    series = sum(1 for line in body.decode().splitlines() if line.startswith("app_requests_total{"))
    used_mb = (current - base) / 1e6
    peak_mb = (peak - base) / 1e6
    rows: list[list[str]] = [
        ["requests", f"{total:,}", ""],
        ["distinct raw paths", f"{len(paths):,}", "5,000 -> 3 routes; 5,000 untemplated"],
        ["recorded (sum of endpoint counts)", f"{recorded:,}",
         "exact" if recorded == total else "MISMATCH"],
        ["endpoints (series keys)", f"{len(registry.endpoints)}",
         f"max_endpoints = {settings.max_endpoints}"],
        ["requests folded into `__other__`", f"{_other(registry):,}", "one `__other__` per method"],
        ["app_requests_total series in /metrics", f"{series}", ""],
        ["traced memory held after the run", f"{used_mb:.2f} MB", f"goal < {LIMIT_MB:.0f} MB"],
        ["  of which allocated in perfkit/ files", f"{in_perfkit / 1e6:.2f} MB", ""],
        ["traced peak during the run", f"{peak_mb:.2f} MB", ""],
        ["wall time (under tracemalloc)", f"{elapsed:.1f} s", ""],
    ]  # fmt: skip
    print(f"\nload at end {c.load_now()}\n")
    print(c.markdown_table(["measure", "value", "note"], rows))
    capped = len(registry.endpoints) <= settings.max_endpoints + 10  # + one __other__ per method
    ok = capped and used_mb < LIMIT_MB and recorded == total and not kit.errors.counts
    print(f"\nverdict: {'goal met' if ok else 'goal NOT met'}")
    return 0 if ok else 1


def _other(registry: Any) -> int:
    return sum(
        stats.count for (_, route), stats in registry.endpoints.items() if route == "__other__"
    )


if __name__ == "__main__":
    sys.exit(main())
