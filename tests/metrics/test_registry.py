"""The registry: exact counts under threads, bounded tables, windows and retention."""

from __future__ import annotations

import threading

import pytest

from perfkit import Perfkit, PerfkitSettings
from perfkit.metrics.record import RequestRecord
from perfkit.metrics.registry import Registry
from perfkit.testing import FakeClock


def test_counts_are_exact_across_8_threads() -> None:
    """8 threads x 20,000 records: every count and sum is exact."""
    kit = Perfkit()
    per_thread = 20_000
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        barrier.wait()
        for i in range(per_thread):
            status = 500 if i % 100 == 0 else 200
            kit.record_request("GET", f"/t{n % 2}", status, 0.001, size=10)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    snap = kit.snapshot()["requests"]
    assert snap["summary"]["count"] == 8 * per_thread
    assert snap["summary"]["errors"] == 8 * per_thread // 100
    assert {e["endpoint"]: e["count"] for e in snap["endpoints"]} == {
        "/t0": 4 * per_thread,
        "/t1": 4 * per_thread,
    }
    assert sum(e["bytes_sent"] for e in snap["endpoints"]) == 8 * per_thread * 10
    text = kit.render_metrics()[1].decode()
    assert 'app_requests_total{method="GET",endpoint="/t0",status="200"} 79200' in text


def test_endpoints_users_and_orgs_are_capped() -> None:
    settings = PerfkitSettings(max_endpoints=5, max_users=3, max_organizations=2)
    registry = Registry(settings)
    for i in range(50):
        registry.record_request(
            RequestRecord("GET", f"/p{i}", 200, 0.01, user=f"u{i}", organization=f"o{i}")
        )
    with registry.locked():
        assert len(registry.endpoints) == 6  # 5 plus the one overflow series
        assert ("GET", "__other__") in registry.endpoints
        assert registry.endpoints[("GET", "__other__")].count == 45
        assert len(registry.users) == 4 and registry.users["__other__"].count == 47
        assert len(registry.organizations) == 3
        assert registry.dropped_endpoints == 45


def test_raw_paths_are_templated_off_the_request_path() -> None:
    registry = Registry()
    for i in range(100):
        registry.record_request(RequestRecord("GET", None, 200, 0.01, path=f"/users/{i}"))
    with registry.locked():
        assert list(registry.endpoints) == [("GET", "/users/{id}")]


def test_minute_buckets_expire_after_retention() -> None:
    clock = FakeClock()
    registry = Registry(PerfkitSettings(retention_hours=1), clock)
    registry.record_request(RequestRecord("GET", "/a", 200, 0.1))
    clock.advance(30 * 60)
    registry.record_request(RequestRecord("GET", "/a", 200, 0.2))
    clock.advance(45 * 60)
    registry.record_request(RequestRecord("GET", "/a", 200, 0.3))
    with registry.locked():
        assert len(registry.request_minutes) == 2  # the first minute fell out of the hour
        assert registry.endpoints[("GET", "/a")].count == 3  # cumulative tables keep all


def test_summary_window_only_counts_recent_minutes() -> None:
    clock = FakeClock()
    kit = Perfkit(PerfkitSettings(), clock=clock)
    for _ in range(10):
        kit.record_api_performance("/old", "GET", 0.5, 200)
    clock.advance(3 * 3600)
    for _ in range(4):
        kit.record_api_performance("/new", "GET", 0.1, 503)
    recent = kit.get_performance_summary(hours=1)
    assert recent["requests"]["count"] == 4
    assert recent["requests"]["errors"] == 4
    assert recent["requests"]["error_rate"] == 100.0
    assert recent["requests"]["p95"] == pytest.approx(0.1, rel=0.01)
    day = kit.get_performance_summary(hours=24)
    assert day["requests"]["count"] == 14
    with pytest.raises(ValueError, match="hours must be"):
        kit.get_performance_summary(hours=0)


def test_user_ids_are_pseudonymised_with_a_key() -> None:
    registry = Registry(PerfkitSettings(user_id_hash_key="secret"))
    registry.record_request(RequestRecord("GET", "/a", 200, 0.1, user="alice@example.com"))
    registry.record_request(RequestRecord("GET", "/a", 200, 0.1, user="alice@example.com"))
    with registry.locked():
        (key,) = registry.users
    assert "alice" not in key and key.startswith("u_")
    assert registry.users[key].count == 2


def test_slow_requests_are_kept_bounded_with_details() -> None:
    registry = Registry(PerfkitSettings(slow_request_threshold=0.5, slow_requests_kept=3))
    for i in range(10):
        registry.record_request(
            RequestRecord("POST", "/slow", 201, 1.0 + i, path=f"/slow?i={i}", request_id=str(i))
        )
    with registry.locked():
        slow = list(registry.slow_requests)
    assert [s["request_id"] for s in slow] == ["7", "8", "9"]
    assert slow[-1]["duration"] == 10.0 and slow[-1]["status"] == 201


def test_queries_are_fingerprinted_and_capped() -> None:
    kit = Perfkit(PerfkitSettings(max_queries=2, slow_query_threshold=0.1))
    for i in range(5):
        kit.record_query_performance(f"SELECT * FROM t WHERE id = {i}", 0.01)
    kit.record_query_performance("UPDATE t SET a = 1", 0.2, organization_id=7)
    kit.record_query_performance("DELETE FROM t", 0.01)
    queries = kit.snapshot()["queries"]
    assert {q["fingerprint"]: q["count"] for q in queries["fingerprints"]} == {
        "SELECT * FROM t WHERE id = ?": 5,
        "UPDATE t SET a = ?": 1,
        "__other__": 1,
    }
    assert queries["summary"]["slow"] == 1
    assert queries["slow"][0]["organization_id"] == "7"
    text = kit.render_metrics()[1].decode()
    assert 'app_db_query_duration_seconds_count{operation="SELECT"} 5' in text
    assert "id = 1" not in text


def test_reset_starts_from_zero() -> None:
    kit = Perfkit()
    kit.record_api_performance("/a", "GET", 0.1, 200)
    kit.reset()
    assert kit.snapshot()["requests"]["summary"]["count"] == 0


def test_in_flight_gauge_counts_begun_requests() -> None:
    registry = Registry()
    registry.begin_request()
    registry.begin_request()
    registry.end_request()
    assert registry.in_progress == 1
    assert registry.in_progress == 1  # reading does not change it
    registry.end_request()
    assert registry.in_progress == 0


def test_started_kit_aggregates_in_the_background() -> None:
    """After start(), queued records are aggregated without any reader asking."""
    import time

    kit = Perfkit().start()
    try:
        kit.record_request("GET", "/bg", 200, 0.01)
        deadline = time.monotonic() + 5
        while kit.registry.drained == 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # polling a background thread's progress, with a deadline
        assert kit.registry.drained == 1
    finally:
        kit.stop()
    assert kit.running is False
    kit.stop()  # idempotent


def test_rate_is_per_second_of_the_time_the_window_covers() -> None:
    """A steady 1 request/s reads as 1/s over 5 minutes, wherever in a minute we are."""
    clock = FakeClock(1_700_000_000.0 - 1_700_000_000.0 % 60)  # on a minute boundary
    kit = Perfkit(clock=clock)
    start = clock.time()
    kit.registry.started_at = start - 3600
    for _ in range(600):
        kit.record_request("GET", "/r", 200, 0.01)
        clock.advance(1.0)
    rate = kit.alert_metrics()["requests.rate"]
    assert rate is not None and abs(rate - 1.0) < 0.01, rate
