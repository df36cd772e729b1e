"""The host store under real multi-worker servers, no Redis: chosen by itself, exact from
every worker, quantiles within 1 %, counters that never decrease, and workers that come
and go (--max-requests, SIGKILL, HUP) without loss, double counting or growth."""

from __future__ import annotations

import os
import signal
import sqlite3
import statistics
import time
from pathlib import Path

import pytest

from perfkit.metrics.sketch import QuantileSketch
from perfkit.metrics.stores.host import host_store_path

from .servers import (
    Scraper,
    drive,
    every_worker_reports,
    exact_p99,
    gunicorn,
    poll,
    requests_total,
    snapshot,
    uvicorn,
)

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def host_env(tmp_path: Path) -> dict[str, str]:
    """No PERFKIT_REDIS_URL, no PERFKIT_METRICS_STORE: the store is perfkit's own choice."""
    durations = tmp_path / "durations"
    durations.mkdir()
    return {
        "PERFKIT_DATA_DIR": str(tmp_path / "data"),
        "PERFKIT_FLUSH_INTERVAL": "0.2",
        "PERFKIT_MONITORING_INTERVAL": "60",
        "FLEET_DURATIONS_DIR": str(durations),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }


def check_exact(port: int, env: dict[str, str], total: int, workers: int) -> None:
    poll(lambda: requests_total(port) == total)
    every_worker_reports(port, total, workers)
    (row,) = snapshot(port)["requests"]["endpoints"]
    count, p99 = exact_p99(Path(env["FLEET_DURATIONS_DIR"]))
    assert row["count"] == count == total
    assert abs(row["p99"] - p99) <= 0.01 * p99, (row["p99"], p99)


def test_gunicorn_four_workers_no_redis(host_env: dict[str, str], tmp_path: Path) -> None:
    server = gunicorn(4, host_env, tmp_path / "gunicorn.log")
    try:
        scraper = Scraper(server.port)
        drive(server.port, 10_000)
        check_exact(server.port, host_env, 10_000, workers=4)
        scraper.stop()
        assert scraper.scrapes > 20 and not scraper.drops, scraper.drops[:5]
        assert len(snapshot(server.port)["fleet"]["workers"]) == 4
    finally:
        server.stop()


def test_uvicorn_three_workers_no_redis(host_env: dict[str, str], tmp_path: Path) -> None:
    server = uvicorn(3, host_env, tmp_path / "uvicorn.log")
    try:
        scraper = Scraper(server.port)
        drive(server.port, 10_000, keep_alive=True)
        check_exact(server.port, host_env, 10_000, workers=3)
        scraper.stop()
        assert scraper.scrapes > 20 and not scraper.drops, scraper.drops[:5]
    finally:
        server.stop()


def scrape_seconds(port: int, n: int = 7) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        requests_total(port)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def lasting_keys(data_dir: str) -> tuple[int, int]:
    """(keys that restarts could pile up, the most fields any one of them holds) in the host
    file. Minute buckets (``...rm:<minute>``, ``...qm:<minute>``) are left out: they grow with
    the minutes a test spans and are bounded by the retention, not by restarts."""
    with sqlite3.connect(host_store_path(data_dir)) as conn:
        rows = conn.execute(
            "SELECT k, count(*) FROM cells WHERE k NOT LIKE '%rm:%' AND k NOT LIKE '%qm:%'"
            " GROUP BY k"
        ).fetchall()
        members = conn.execute("SELECT count(*) FROM members").fetchone()[0]
    return len(rows) + int(members), max((int(n) for _, n in rows), default=0)


def worker_rows(data_dir: str) -> int:
    with sqlite3.connect(host_store_path(data_dir)) as conn:
        return int(conn.execute("SELECT count(*) FROM workers").fetchone()[0])


@pytest.mark.timeout(400)  # gunicorn's own respawns: ~15 s per 1,000 requests on a loaded box
def test_recycled_workers_keep_size_and_scrape_time_flat(
    host_env: dict[str, str], tmp_path: Path
) -> None:
    """gunicorn --max-requests 50: a hundred worker restarts in 5,000 requests (four workers
    recycle side by side; --preload so a restart is a fork, not a fresh import)."""
    server = gunicorn(4, host_env, tmp_path / "gunicorn.log", "--max-requests", "50", "--preload")
    try:
        drive(server.port, 1_000)
        poll(lambda: requests_total(server.port) == 1_000)
        path = host_store_path(host_env["PERFKIT_DATA_DIR"])
        early_size = os.path.getsize(path)
        early_keys, _ = lasting_keys(host_env["PERFKIT_DATA_DIR"])
        early_scrape = scrape_seconds(server.port)
        drive(server.port, 4_000)
        poll(lambda: requests_total(server.port) == 5_000)  # every recycled worker flushed
        late_size = os.path.getsize(path)
        # the WAL beside it grows to its checkpoint (200 pages) and is cut back to 1 MiB
        assert snapshot(server.port)["fleet"]["size_bytes"] - late_size <= 2 * 1024 * 1024
        late_scrape = scrape_seconds(server.port)
        # a hundred restarts add no keys; a series' fields are bounded by its sketch's bins
        late_keys, widest = lasting_keys(host_env["PERFKIT_DATA_DIR"])
        assert late_keys <= early_keys + 2, (early_keys, late_keys)
        assert widest <= QuantileSketch().max_bins + 64, widest
        # the file may still grow by the minute buckets of the minutes this test spans
        assert late_size <= early_size + 4 * 1024 * 1024, (early_size, late_size)
        # flat, not equal: a hundred restarts' worth of growth (prometheus_client's files) is far
        # beyond this margin, which a loaded 2-core machine's scheduling noise stays within
        assert late_scrape <= early_scrape * 3 + 0.05, (early_scrape, late_scrape)
        # gone workers' rows removed: the four live ones and a few dying ones at most (of ~100)
        assert worker_rows(host_env["PERFKIT_DATA_DIR"]) <= 8
        every_worker_reports(server.port, 5_000, workers=4)
    finally:
        server.stop()


def test_sigkill_and_hup_lose_nothing_flushed_and_count_nothing_twice(
    host_env: dict[str, str], tmp_path: Path
) -> None:
    server = gunicorn(2, host_env, tmp_path / "gunicorn.log")
    try:
        drive(server.port, 400, threads=4)
        poll(lambda: requests_total(server.port) == 400)  # flushed: every view has them
        victim = snapshot(server.port)["fleet"]["workers"][0]["pid"]
        os.kill(victim, signal.SIGKILL)

        def pids() -> set[int]:
            return {w["pid"] for w in snapshot(server.port)["fleet"]["workers"]}

        poll(lambda: victim not in pids() and len(pids()) == 2)  # its row went, a new one came
        drive(server.port, 200, threads=4)
        poll(lambda: requests_total(server.port) == 600)
        before = pids()
        server.proc.send_signal(signal.SIGHUP)  # graceful reload: new workers, old ones flush
        poll(lambda: not (pids() & before) and len(pids()) == 2)
        drive(server.port, 200, threads=4)
        poll(lambda: requests_total(server.port) == 800)
        every_worker_reports(server.port, 800, workers=2)
        poll(lambda: worker_rows(host_env["PERFKIT_DATA_DIR"]) == 2)
    finally:
        server.stop()


def test_a_per_process_store_with_several_workers_says_so(
    host_env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "gunicorn.log"
    server = gunicorn(2, {**host_env, "PERFKIT_METRICS_STORE": "memory"}, log)
    try:
        drive(server.port, 20, threads=2)
        snap = snapshot(server.port)
        assert snap["scope"] == "process"
        assert "this worker only" in snap["scope_note"] and "gunicorn" in snap["scope_note"]
        assert not os.path.exists(host_env["PERFKIT_DATA_DIR"])
    finally:
        server.stop()
    said = [line for line in log.read_text().splitlines() if "own figures" in line]
    assert 1 <= len(said) <= 2, said  # once per worker process, not per request
