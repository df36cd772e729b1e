"""HealthChecks: concurrency, per-check timeouts, caching, statuses and the built-in checks."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections import namedtuple
from pathlib import Path
from typing import Any

import pytest

from perfkit.health import (
    HealthChecks,
    backup_freshness_check,
    database_check,
    disk_space_check,
    redis_check,
    system_check,
    worst,
)
from perfkit.testing import FakeClock

Disk = namedtuple("Disk", "total used free percent")


def test_statuses_combine_with_critical_and_non_critical_checks() -> None:
    """A failing critical check is critical; a failing non-critical one only a warning."""
    checks = HealthChecks(clock=FakeClock())
    checks.add_health_check("ok", lambda: True)
    checks.add_health_check("cache", lambda: False, critical=False)
    assert checks.ready()["status"] == "warning"
    checks.add_health_check("db", lambda: 1 / 0)
    report = checks.ready(use_cache=False)
    assert report["status"] == "critical"
    assert report["checks"]["db"]["detail"].startswith("ZeroDivisionError")
    cache = report["checks"]["cache"]
    assert cache == {"status": "warning", "critical": False, "duration": cache["duration"]}
    assert checks.live()["status"] == "healthy"
    assert worst([]) == "healthy" and worst(["unknown", "healthy"]) == "unknown"


def test_checks_run_concurrently_and_a_slow_one_times_out() -> None:
    """Two checks that each wait for the other finish together; a hung check times out."""
    barrier = threading.Barrier(2, timeout=10)
    release = threading.Event()
    checks = HealthChecks(clock=FakeClock())
    checks.add_health_check("a", lambda: barrier.wait() >= 0)
    checks.add_health_check("b", lambda: barrier.wait() >= 0)
    checks.add_health_check("hung", lambda: release.wait(30), timeout=0.2, critical=False)
    began = time.perf_counter()
    report = checks.ready()
    assert time.perf_counter() - began < 5
    assert report["checks"]["a"]["status"] == report["checks"]["b"]["status"] == "healthy"
    assert report["checks"]["hung"]["status"] == "warning"
    assert "timed out after 0.2s" in report["checks"]["hung"]["detail"]
    # a hung check is not started again while its thread still runs
    again = checks.ready(use_cache=False)["checks"]["hung"]
    assert "not started again" in again["detail"]
    release.set()


def test_results_are_cached_for_the_ttl() -> None:
    """A probe storm inside the TTL runs the checks once."""
    clock = FakeClock()
    calls: list[int] = []
    checks = HealthChecks(clock=clock, cache_ttl=5)
    checks.add_health_check("counted", lambda: calls.append(1) is None)
    for _ in range(50):
        checks.ready()
    assert len(calls) == 1
    clock.advance(5)
    checks.report()
    assert len(calls) == 2


def test_check_results_may_be_strings_or_dicts_and_bad_registration_fails() -> None:
    """'warning' and {'status': ...} are understood; odd values are 'unknown'."""
    checks = HealthChecks(clock=FakeClock())
    checks.add_health_check("w", lambda: "warning")
    checks.add_health_check("d", lambda: {"status": "healthy", "lag": 3})
    checks.add_health_check("odd", lambda: 42)
    got = checks.run()
    assert (got["w"]["status"], got["d"]["lag"], got["odd"]["status"]) == ("warning", 3, "unknown")
    with pytest.raises(ValueError, match="timeout"):
        checks.add_health_check("x", lambda: True, timeout=0)
    with pytest.raises(ValueError, match="callable"):
        checks.add_health_check("x", "nope")  # type: ignore[arg-type]
    assert checks.remove_health_check("w") and "w" not in checks.run()


def test_sqlite_database_check(tmp_path: Path) -> None:
    """A real SQLite file answers; a missing one fails the check."""
    path = tmp_path / "app.db"
    sqlite3.connect(path).close()
    assert database_check(f"sqlite:///{path}")()["status"] == "healthy"
    with pytest.raises(FileNotFoundError):
        database_check(f"sqlite:///{tmp_path / 'missing.db'}")()
    with pytest.raises(ValueError, match="oracle"):
        database_check("oracle://x")


@pytest.mark.services
def test_postgres_and_mysql_database_checks(postgres_url: str, mysql_url: str) -> None:
    """The real PostgreSQL and MariaDB answer; a wrong port does not."""
    assert database_check(postgres_url)()["status"] == "healthy"
    assert database_check(mysql_url)()["status"] == "healthy"
    checks = HealthChecks(clock=FakeClock())
    checks.add_health_check(
        "pg_down", database_check("postgresql://postgres@127.0.0.1:1/test", timeout=2)
    )
    assert checks.ready()["checks"]["pg_down"]["status"] == "critical"


@pytest.mark.services
def test_redis_check(redis_url: str) -> None:
    """PING succeeds against the real Redis; an unused port is critical."""
    assert redis_check(redis_url)()["status"] == "healthy"
    checks = HealthChecks(clock=FakeClock())
    checks.add_health_check(
        "redis", redis_check(f"redis://127.0.0.1:1/0?x={uuid.uuid4().hex}", 1.0)
    )
    assert checks.ready()["status"] == "critical"


def test_disk_backup_and_system_checks() -> None:
    """Disk thresholds, backup age against a fake clock, and the system monitor's status."""

    class Ps:
        percent = 91.0

        def disk_usage(self, path: str) -> Disk:
            return Disk(100, int(self.percent), 100 - int(self.percent), self.percent)

    ps = Ps()
    assert disk_space_check("/", psutil_module=ps)()["status"] == "warning"
    ps.percent = 99.0
    assert disk_space_check("/", psutil_module=ps)()["status"] == "critical"
    clock = FakeClock()
    newest: list[Any] = [None]
    check = backup_freshness_check(lambda: newest[0], max_age_hours=24, clock=clock)
    assert check()["status"] == "warning"
    newest[0] = clock.time() - 3600
    assert check() == {"status": "healthy", "age_hours": 1.0, "max_age_hours": 24}
    clock.advance(24 * 3600)
    assert check()["status"] == "warning"

    class Monitor:
        def get_health_status(self) -> dict[str, Any]:
            return {"status": "critical", "warnings": ["cpu"], "metrics": {"cpu_percent": 99.0}}

    assert system_check(Monitor())() == {
        "status": "critical",
        "warnings": ["cpu"],
        "cpu_percent": 99.0,
    }
