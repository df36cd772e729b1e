"""get_recommendations: actionable sentences from snapshot figures."""

from __future__ import annotations

from perfkit.recommendations import get_recommendations


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
