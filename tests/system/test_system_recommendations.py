"""get_recommendations: actionable sentences from snapshot figures."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from perfkit import Perfkit, PerfkitSettings
from perfkit.errors import BackupError
from perfkit.recommendations import get_recommendations
from perfkit.testing import FakeClock


def make_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    conn.close()


def test_healthy_figures_give_no_advice() -> None:
    """Nothing to say when everything is fine."""
    snapshot = {
        "system": {"current": {"cpu_percent": 20.0, "ram_percent": 30.0, "disk_percent": 40.0}},
        "requests": {"summary": {"error_rate": 0.5}, "slowest_endpoints": []},
        "cache": {"hit_rate": 95.0, "total_requests": 1000},
    }
    assert get_recommendations(snapshot) == []


def test_each_problem_gets_a_sentence_naming_it() -> None:
    """High CPU/memory/disk, errors, slow endpoints and queries, low hit rate, stale backup."""
    now = 1_700_000_000.0
    snapshot = {
        "system": {"current": {"cpu_percent": 93.0, "ram_percent": 88.0, "disk_percent": 91.0}},
        "requests": {
            "summary": {"error_rate": 12.5},
            "slowest_endpoints": [
                {"key": "GET /reports/{id}", "p95": 3.2},
                {"key": "GET /health", "p95": 0.01},
            ],
        },
        "queries": {
            "fingerprints": [
                {"fingerprint": "SELECT * FROM orders WHERE id = ?", "p95": 1.5, "count": 40}
            ],
            "summary": {"slow_rate": 30.0},
        },
        "cache": {"hit_rate": 41.0, "total_requests": 500},
        "backups": {"newest_backup": now - 50 * 3600},
    }
    tips = get_recommendations(snapshot, now=now)
    text = "\n".join(tips)
    for needle in ["CPU usage is 93%", "Memory usage is 88%", "Disk usage is 91%",
                   "12.5% of requests fail", "GET /reports/{id} (p95 3.20 s)",
                   "SELECT * FROM orders WHERE id = ?", "Cache hit rate is 41%",
                   "newest backup is 50 h old"]:  # fmt: skip
        assert needle in text
    assert "GET /health" not in text
    assert len(tips) == 8


def test_flat_alert_metrics_and_missing_backup() -> None:
    """The flat dotted dict works too; no backup at all is called out."""
    tips = get_recommendations(
        {"system.cpu_percent": 85.0, "cache.hit_rate": 50.0, "backups": {"newest_backup": None}}
    )
    assert any("CPU usage is 85%" in t for t in tips)
    assert any("Cache hit rate is 50%" in t for t in tips)
    assert any("No database backup" in t for t in tips)


# Every sentence get_recommendations can emit, each from the smallest snapshot that
# causes it. A new recommendation without a row here fails test_the_catalogue_is_complete.
NOW = 1_700_000_000.0
CATALOGUE: dict[str, tuple[dict[str, Any], str]] = {
    "cpu": ({"system.cpu_percent": 80.0}, "CPU usage is 80%"),
    "memory": ({"system.memory_percent": 81.0}, "Memory usage is 81%"),
    "disk": ({"system.disk_percent": 90.0}, "Disk usage is 90%"),
    "errors": ({"requests.error_rate": 10.0}, "10.0% of requests fail"),
    "slow_endpoints": (
        {"requests": {"slowest_endpoints": [{"key": "GET /a", "p95": 1.0}]}},
        "Slow endpoints: GET /a (p95 1.00 s)",
    ),
    "slow_query": (
        {"queries": {"fingerprints": [{"fingerprint": "SELECT ?", "p95": 0.5, "count": 3}]}},
        "Slow query (p95 0.50 s, 3 calls): SELECT ?",
    ),
    "slow_rate": ({"queries.slow_rate": 15.0}, "15% of queries are slow"),
    "cache": ({"cache.hit_rate": 69.0}, "Cache hit rate is 69%"),
    "backup_failed": (
        {"backups": {"total_backups": 0, "last_failure": NOW - 60, "last_error": "disk full"}},
        "The last backup failed (disk full)",
    ),
    "no_backup": ({"backups": {"total_backups": 0, "newest_backup": None}}, "No database backup"),
    "stale_backup": (
        {
            "backups": {
                "total_backups": 1,
                "newest_backup": "db-1.sql.gz",  # a file name, not a time
                "newest": {"timestamp": "2023-11-13T22:13:20+00:00"},  # NOW - 24 h
            }
        },
        "The newest backup is 24 h old",
    ),
    "guards_rate_limited": (
        {"guards": {"limited_clients_by_endpoint": {"GET /x": 2}, "rate_limited": {"GET /x": 9}}},
        "2 clients hit the rate limit on GET /x (9 requests refused)",
    ),
    "guards_too_large": (
        {"guards": {"too_large": 1, "max_content_length": 1024}},
        "1 request refused for a body above 1024 bytes",
    ),
}


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_each_recommendation_alone(name: str) -> None:
    """Each cause gives exactly its sentence, at the documented boundary."""
    snapshot, needle = CATALOGUE[name]
    if name == "stale_backup":  # just past 24 h: the boundary itself is not stale yet
        snapshot = {**snapshot, "generated_at": NOW + 60}
        assert get_recommendations({**snapshot, "generated_at": NOW}) == []
    tips = get_recommendations(snapshot, now=snapshot.get("generated_at", NOW))  # type: ignore[arg-type]
    assert len(tips) == 1 and needle in tips[0], tips


def test_the_catalogue_is_complete() -> None:
    """The catalogue holds one row per sentence the module can write."""
    import inspect

    import perfkit.recommendations

    sources = inspect.getsource(perfkit.recommendations)
    assert sources.count("tips.append(") + sources.count("tips +=") - 2 == len(CATALOGUE)


def test_levels_follow_the_snapshot_thresholds() -> None:
    """The alert rules' warning levels (snapshot ``thresholds``) decide, not constants."""
    thresholds = {"system.cpu_percent": {"warning": 50.0, "critical": 60.0, "comparison": ">"}}
    assert get_recommendations({"system.cpu_percent": 55.0, "thresholds": thresholds})
    assert not get_recommendations({"system.cpu_percent": 79.0})


def test_real_backups_give_the_right_advice(tmp_path: Path) -> None:
    """A kit with two SQLite backups is not told none exist; stale and failed runs are named."""
    make_sqlite(tmp_path / "a.db")
    settings = PerfkitSettings(
        database_url=f"sqlite:///{tmp_path / 'a.db'}", backup_dir=str(tmp_path / "b")
    )
    clock = FakeClock(NOW)
    kit = Perfkit(settings, clock=clock)

    def backup_tips() -> list[str]:
        return [t for t in kit.get_recommendations() if "backup" in t.lower()]

    assert backup_tips() == ["No database backup exists: schedule daily backups."]
    kit.backups.create_backup()
    clock.advance(61)
    kit.backups.create_backup()
    assert len(kit.backups.list_backups()) == 2
    assert backup_tips() == []
    clock.advance(25 * 3600)
    assert backup_tips() == ["The newest backup is 25 h old: check the backup schedule."]
    (tmp_path / "a.db").unlink()  # the next run fails for real
    with pytest.raises(BackupError):
        kit.backups.create_backup()
    (failed,) = [t for t in backup_tips() if "failed" in t]
    assert "a.db" in failed or "exist" in failed, failed
