"""BackupScheduler: ticks, catch-up after downtime, failures surfaced, one runner per fleet."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from _helpers_backup import make_sqlite

from perfkit.backup import BackupScheduler, DatabaseBackup
from perfkit.errors import ConfigError
from perfkit.testing import FakeClock

START = datetime(2026, 3, 1, 10, 0, 30, tzinfo=timezone.utc).timestamp()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def backups(tmp_path: Path, clock: FakeClock) -> DatabaseBackup:
    make_sqlite(tmp_path / "a.db")
    return DatabaseBackup(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "b", clock=clock)


def test_interval_job_runs_once_per_tick(backups: DatabaseBackup, clock: FakeClock) -> None:
    """Nothing runs before the first tick; each tick runs once; next_run_time moves on."""
    scheduler = BackupScheduler(backups, clock=clock)
    scheduler.schedule_interval_backup(minutes=15)
    (job,) = scheduler.get_jobs()
    assert job["name"] == "interval" and job["next_run_time"] == "2026-03-01T10:15:00+00:00"
    assert "interval" in job["trigger"]
    assert scheduler.run_pending() == []
    clock.advance(15 * 60)
    (result,) = scheduler.run_pending()
    assert result["ran"] and result["filename"].startswith("interval_20260301_101530")
    assert scheduler.run_pending() == []  # same tick: nothing more
    assert scheduler.get_jobs()[0]["next_run_time"] == "2026-03-01T10:30:00+00:00"


def test_missed_ticks_after_downtime_run_once(backups: DatabaseBackup, clock: FakeClock) -> None:
    """A scheduler restarted after missing several ticks runs the job once, right away."""
    first = BackupScheduler(backups, clock=clock)
    first.schedule_interval_backup(hours=1)
    clock.advance(3600)
    assert len(first.run_pending()) == 1
    clock.advance(5 * 3600)  # the process was down for five ticks
    restarted = BackupScheduler(backups, clock=clock)
    restarted.schedule_interval_backup(hours=1)
    now = datetime.fromtimestamp(clock.time(), timezone.utc).isoformat()
    assert restarted.get_jobs()[0]["next_run_time"] < now  # overdue
    assert [r["ran"] for r in restarted.run_pending()] == [True]
    assert restarted.run_pending() == []
    assert len(backups.list_backups()) == 2


def test_daily_job_in_a_timezone(backups: DatabaseBackup, clock: FakeClock) -> None:
    """Daily at 02:30 Europe/Berlin is 01:30 UTC in winter."""
    scheduler = BackupScheduler(backups, clock=clock, timezone="Europe/Berlin")
    scheduler.schedule_daily_backup(2, 30)
    (job,) = scheduler.get_jobs()
    assert job["next_run_time"] == "2026-03-02T01:30:00+00:00"
    assert job["trigger"] == "daily at 02:30 (Europe/Berlin)"
    clock.set(datetime(2026, 3, 2, 1, 30, tzinfo=timezone.utc).timestamp())
    assert [r["ran"] for r in scheduler.run_pending()] == [True]
    assert scheduler.get_jobs()[0]["next_run_time"] == "2026-03-03T01:30:00+00:00"


def test_daily_job_in_local_time_by_default(backups: DatabaseBackup, clock: FakeClock) -> None:
    scheduler = BackupScheduler(backups, clock=clock)
    scheduler.schedule_daily_backup(3, 0)
    next_run = datetime.fromisoformat(scheduler.get_jobs()[0]["next_run_time"])
    local = next_run.astimezone()
    assert (local.hour, local.minute) == (3, 0) and next_run.timestamp() > START


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.schedule_daily_backup(24, 0),
        lambda s: s.schedule_daily_backup(1, 60),
        lambda s: s.schedule_interval_backup(minutes=0.5),
        lambda s: s.schedule_interval_backup(name="../x", hours=1),
    ],
)
def test_bad_schedules_are_rejected(backups: DatabaseBackup, call: object) -> None:
    scheduler = BackupScheduler(backups)
    with pytest.raises(ValueError):
        call(scheduler)  # type: ignore[operator]


def test_unknown_timezone_is_a_config_error(backups: DatabaseBackup) -> None:
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        BackupScheduler(backups, timezone="Mars/Olympus")


def test_failures_are_logged_and_surfaced(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing scheduled backup: error in the result, the job, the hook, stats and the log."""
    broken = DatabaseBackup(f"sqlite:///{tmp_path / 'missing.db'}", tmp_path / "b", clock=clock)
    seen: list[str] = []
    scheduler = BackupScheduler(broken, clock=clock, on_failure=lambda job, exc: seen.append(job))
    scheduler.schedule_interval_backup(minutes=5)
    clock.advance(300)
    (result,) = scheduler.run_pending()
    assert "does not exist" in result["error"]
    job = scheduler.get_jobs()[0]
    assert job["failures"] == 1 and "does not exist" in job["last_error"]
    assert seen == ["interval"]
    assert broken.get_backup_stats()["failures"] == 1
    assert broken.alert_metrics() == {"backup.hours_since_success": None}
    assert "scheduled backup interval failed" in caplog.text


def test_start_and_stop_the_thread(backups: DatabaseBackup, clock: FakeClock) -> None:
    """start() runs a background thread; stop() ends it promptly."""
    scheduler = BackupScheduler(backups, clock=clock, poll_interval=60)
    scheduler.schedule_interval_backup(hours=1)
    scheduler.start()
    scheduler.start()  # idempotent
    assert scheduler.running and scheduler.snapshot()["running"] is True
    scheduler.stop(timeout=10)
    assert not scheduler.running
    assert scheduler.remove_job("interval") and not scheduler.remove_job("interval")


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    import redis

    ns = f"perfkit-test-{uuid.uuid4().hex}"
    yield ns
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{ns}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.mark.services
def test_three_schedulers_sharing_redis_make_one_backup_per_tick(
    tmp_path: Path, clock: FakeClock, redis_url: str, namespace: str
) -> None:
    """Three processes' schedulers racing on each tick: exactly one backup per tick in total."""
    make_sqlite(tmp_path / "a.db")
    managers = [
        DatabaseBackup(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / f"b{i}", clock=clock)
        for i in range(3)
    ]
    schedulers = [
        BackupScheduler(m, clock=clock, redis_url=redis_url, namespace=namespace) for m in managers
    ]
    try:
        for s in schedulers:
            s.schedule_interval_backup(minutes=10)
        for tick in range(3):
            clock.advance(600)
            barrier = threading.Barrier(3)
            results: list[list[dict[str, object]]] = [[] for _ in schedulers]

            def run(
                i: int,
                barrier: threading.Barrier = barrier,
                results: list[list[dict[str, object]]] = results,
            ) -> None:
                barrier.wait(timeout=30)
                results[i] = schedulers[i].run_pending()

            threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            ran = [r for rs in results for r in rs if r["ran"]]
            assert len(ran) == 1, results
            assert sum(len(m.list_backups()) for m in managers) == tick + 1
    finally:
        for s in schedulers:
            s.stop()
