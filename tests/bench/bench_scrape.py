"""/perfkit/metrics with 1,000 endpoint series vs prometheus_client's generate_latest.

Run: ``python tests/bench/bench_scrape.py`` (``--quick`` for a smoke run).
Both sides hold the same 1,000 (method, endpoint) histogram series with the
same buckets and a status counter each. Variants, interleaved per round:

- perfkit, changed: 10% of the series got a request since the last scrape;
- perfkit, unchanged: nothing changed since the last scrape;
- perfkit, uncached: every series rendered afresh (`render(kit.collect())`);
- generate_latest over the prometheus_client registry.
"""

from __future__ import annotations

import random
import sys

import _common as c

SERIES = 1000


def main() -> int:
    args = c.bench_args(__doc__.splitlines()[0], "3 rounds")
    rounds = args.rounds or (3 if args.quick else 15)
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

    from perfkit import Perfkit
    from perfkit.metrics.exposition import render

    print(f"machine: {c.machine_note()}")
    kit = Perfkit()
    buckets = kit.settings.histogram_buckets
    prom = CollectorRegistry()
    requests = Counter("app_requests", "requests", ["method", "endpoint", "status"], registry=prom)
    durations = Histogram(
        "app_request_duration_seconds", "durations", ["method", "endpoint"],
        buckets=buckets, registry=prom,
    )  # fmt: skip
    rng = random.Random(args.seed)
    names = [(rng.choice(["GET", "POST"]), f"/api/v1/thing{i}/{{id}}") for i in range(SERIES)]
    for method, route in names:
        d = rng.random() / 10
        kit.record_request(method, route, 200, d)
        requests.labels(method, route, "200").inc()
        durations.labels(method, route).observe(d)
    kit.render_metrics()

    def changed() -> float:
        for method, route in rng.sample(names, SERIES // 10):
            kit.record_request(method, route, 200, rng.random() / 10)
        kit.registry.drain()  # the records' aggregation is not the scrape's cost
        t0 = c.now()
        kit.render_metrics()
        return c.now() - t0

    def unchanged() -> float:
        t0 = c.now()
        kit.render_metrics()
        return c.now() - t0

    def uncached() -> float:
        t0 = c.now()
        render(kit.collect())
        return c.now() - t0

    def prometheus() -> float:
        t0 = c.now()
        generate_latest(prom)
        return c.now() - t0

    variants = {
        "perfkit, 10% of series changed": changed,
        "perfkit, nothing changed": unchanged,
        "perfkit, uncached render": uncached,
        "prometheus_client generate_latest": prometheus,
    }
    samples = c.interleave(variants, rounds, seed=args.seed)
    peer = c.median(samples["prometheus_client generate_latest"])
    print(f"\n{rounds} interleaved rounds, {SERIES} series, timed by {c.CLOCK_NAME}; "
          f"load at end {c.load_now()}\n")  # fmt: skip
    goals = {"perfkit, 10% of series changed": 0.25, "perfkit, nothing changed": 0.05}
    rows = []
    for name, values in samples.items():
        mine = c.median(values)
        goal = goals.get(name)
        verdict = "" if goal is None else ("met" if mine / peer <= goal else "NOT met")
        rows.append([
            name, f"{mine * 1e3:.2f}", f"{mine / peer:.3f}",
            "" if goal is None else f"<= {goal}", verdict,
        ])  # fmt: skip
    print(c.markdown_table(["variant", "ms per scrape", "x generate_latest", "goal", ""], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
