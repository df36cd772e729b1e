"""The Redis store against a real Redis: exact merged figures, idempotent flushes, outages."""

from __future__ import annotations

import math
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfkit import Perfkit, PerfkitSettings
from perfkit.metrics.stores.redis import RedisStore
from tests.conftest import REQUIRE_SERVICES, free_port, wait_for_port


def worker_kit(redis_url: str, namespace: str, **extra: object) -> Perfkit:
    settings = PerfkitSettings(
        redis_url=redis_url, redis_namespace=namespace, flush_interval=60.0, **extra
    )
    return Perfkit(settings)


def exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[math.floor(q * (len(ordered) - 1))]


def test_three_workers_merge_exactly(redis_url: str, namespace: str) -> None:
    """Counts, sums, statuses and buckets add up exactly; quantiles stay within 1 %."""
    rng = random.Random(5)
    kits = [worker_kit(redis_url, namespace) for _ in range(3)]
    durations: list[float] = []
    for i in range(3000):
        kit = kits[i % 3]
        duration = rng.lognormvariate(-4, 1)
        durations.append(duration)
        status = 500 if i % 50 == 0 else 200
        kit.record_request("GET", "/items/{id}", status, duration, size=3, user=f"u{i % 4}")
        if i % 3 == 0:
            kit.record_query_performance(f"SELECT * FROM t WHERE id = {i}", duration / 10)
    for kit in kits:
        assert kit.store.flush()
    reader = worker_kit(redis_url, namespace)
    snap = reader.snapshot()
    row = snap["requests"]["endpoints"][0]
    assert (row["key"], row["count"], row["errors"]) == ("GET /items/{id}", 3000, 60)
    assert row["bytes_sent"] == 9000
    assert row["statuses"] == {"200": 2940, "500": 60}
    for q, key in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        assert abs(row[key] - exact(durations, q)) <= 0.01 * exact(durations, q)
    assert abs(snap["requests"]["summary"]["avg"] - sum(durations) / 3000) < 1e-9
    assert sorted((u["id"], u["count"]) for u in snap["requests"]["users"]) == [
        ("u0", 750), ("u1", 750), ("u2", 750), ("u3", 750),
    ]  # fmt: skip
    assert snap["queries"]["fingerprints"][0]["count"] == 1000
    text = reader.render_metrics()[1].decode()
    assert 'app_requests_total{method="GET",endpoint="/items/{id}",status="200"} 2940' in text
    assert 'app_request_duration_seconds_count{method="GET",endpoint="/items/{id}"} 3000' in text
    assert len(snap["fleet"]["workers"]) == 3
    assert text.count("perfkit_worker_rss_bytes{worker=") == 3  # process figures per worker


def test_a_resent_flush_is_not_counted_twice(redis_url: str, namespace: str) -> None:
    """A batch whose first try reached Redis but whose answer was lost is resent as a no-op."""
    kit = worker_kit(redis_url, namespace)
    store = kit.store
    assert isinstance(store, RedisStore)
    for _ in range(10):
        kit.record_request("GET", "/a", 200, 0.01)
    assert store.flush()
    seq = store._seq
    for _ in range(5):
        kit.record_request("GET", "/a", 200, 0.01)
    delta = kit.registry.take_delta()
    import json

    from perfkit.metrics.stores.codec import delta_ops

    payload = json.dumps(delta_ops(delta, store.keys, 3600))
    store.send(seq + 1, payload)  # the try that reached Redis...
    store.send(seq + 1, payload)  # ...and its resend after a lost answer
    store._seq = seq + 1
    view = store.fleet_registry()
    with view.locked():
        assert view.endpoints[("GET", "/a")].count == 15


def test_reads_include_the_unflushed_delta_and_reset_clears_the_fleet(
    redis_url: str, namespace: str
) -> None:
    first, second = worker_kit(redis_url, namespace), worker_kit(redis_url, namespace)
    first.record_request("GET", "/x", 200, 0.1)
    assert first.store.flush()
    second.record_request("GET", "/x", 200, 0.1)  # not flushed yet
    assert second.store.local().endpoints[("GET", "/x")].count == 1
    assert second.snapshot()["requests"]["summary"]["count"] == 2
    # that read shipped second's delta first, so every worker now reads the same figures
    assert first.snapshot()["requests"]["summary"]["count"] == 2
    second.reset()
    assert first.store.load()[0].endpoints == {}


def test_alert_notifications_go_out_once_per_fleet(redis_url: str, namespace: str) -> None:
    kits = [worker_kit(redis_url, namespace) for _ in range(3)]
    claims = [kit.fleet.claim_notification("cpu:critical:firing:0", 30) for kit in kits]
    assert claims.count(True) == 1
    gates = [kit.alerts.fleet_gate for kit in kits]
    assert all(gate is not None for gate in gates)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[Any]:
    """A redis-server of the test's own, with an append-only file so a restart keeps data."""
    binary = shutil.which("redis-server")
    if binary is None:
        if REQUIRE_SERVICES:
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"]
        args += ["--appendfsync", "always", "--dir", str(tmp_path)]
        proc = subprocess.Popen(
            [binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        procs.append(proc)
        wait_for_port(port, proc=proc)

    def kill() -> None:
        proc = procs[-1]
        proc.kill()
        proc.wait()

    start()
    try:
        yield f"redis://127.0.0.1:{port}/0", start, kill
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_redis_outage_keeps_the_delta_and_completes_after(
    own_redis: tuple[str, callable, callable],
) -> None:  # type: ignore[type-arg]
    url, start, kill = own_redis  # type: ignore[misc]
    kit = Perfkit(PerfkitSettings(redis_url=url, flush_interval=60.0))
    store = kit.store
    for _ in range(100):
        kit.record_request("GET", "/o", 200, 0.01)
    assert store.flush()
    kill()
    for _ in range(50):
        kit.record_request("GET", "/o", 200, 0.01)  # the request path never waits on Redis
    assert not store.flush()
    assert store.failures >= 1
    assert kit.snapshot()["requests"]["summary"]["count"] >= 50  # served locally meanwhile
    start()
    for _ in range(25):
        kit.record_request("GET", "/o", 200, 0.01)
    deadline = time.monotonic() + 10  # a restarted Redis answers "loading" until its AOF is read
    while not store.flush():
        assert time.monotonic() < deadline, store.last_error
        time.sleep(0.05)
    fleet, _ = store.load()
    assert fleet.endpoints[("GET", "/o")].count == 175


def test_host_figures_are_sampled_once_per_host(redis_url: str, namespace: str) -> None:
    """Workers of one host share one system sampler: the others adopt its figures."""
    kits = [worker_kit(redis_url, namespace) for _ in range(3)]
    monitors = [kit.system for kit in kits]
    taken = [monitor.sample() for monitor in monitors]
    assert [m.sampled for m in monitors] == [1, 0, 0]
    assert [m.adopted for m in monitors] == [0, 1, 1]
    assert taken[0] is not None and taken[1] == taken[0] == taken[2]
    assert monitors[2].disks == monitors[0].disks
    # every worker still evaluates alerts on the host figures and exposes them
    assert "system_cpu_usage_percent" in kits[2].render_metrics()[1].decode()


def test_host_sampling_fails_open_without_redis() -> None:
    kit = Perfkit(PerfkitSettings(redis_url="redis://127.0.0.1:9/0", flush_interval=60.0))
    assert kit.system.sample() is not None
    assert kit.system.sampled == 1


def test_caps_hold_across_flushes_and_workers(redis_url: str, namespace: str) -> None:
    """New series past a cap go to __other__ fleet-wide; totals stay exact."""
    kits = [worker_kit(redis_url, namespace, max_endpoints=3, max_users=2) for _ in range(2)]
    for flush in range(4):
        for i in range(3):
            kit = kits[(flush + i) % 2]
            kit.record_request("GET", f"/r{flush}-{i}", 200, 0.01, user=f"u{flush}-{i}")
        for kit in kits:
            assert kit.store.flush()
    store = kits[0].store
    client = store.client
    assert client.scard(store.keys.endpoints) <= 4  # three routes and GET __other__
    assert client.scard(store.keys.user_ids) <= 3
    snap = kits[0].snapshot()["requests"]
    assert sum(e["count"] for e in snap["endpoints"]) == 12
    assert {e["endpoint"] for e in snap["endpoints"]} >= {"__other__"}
    assert sum(u["count"] for u in snap["users"]) == 12
