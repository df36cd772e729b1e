"""The test Django project (tests/frameworks/apps/djsite) on PostgreSQL, under gunicorn,
with ``manage.py perfkit ...`` and ``manage.py monitor_performance`` run as subprocesses.

The server and the commands share perfkit settings through ``settings.PERFKIT``
(Redis as the metrics store, a namespace of the test's own), so the commands,
answered locally with no HTTP and no token, see what the server recorded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("django")
pytest.importorskip("psycopg")

from tests.frameworks._helpers import gunicorn_server, metrics_after_leaving_a_stream

APPS = Path(__file__).resolve().parent / "apps"
ROOT = Path(__file__).resolve().parents[2]


def project_env(perfkit: dict[str, Any], postgres_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PERFKIT_")}
    env["PERFKIT_TEST_POSTGRES_URL"] = postgres_url
    env["DJANGO_SETTINGS_MODULE"] = "djsite.settings"
    env["DJSITE_PERFKIT"] = json.dumps(perfkit)
    env["PYTHONPATH"] = os.pathsep.join([str(APPS), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(APPS / "manage.py"), *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture
def shared(redis_url: str, postgres_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment of the server and of the commands: one Redis namespace, PostgreSQL."""
    namespace = f"perfkit-test-django-{uuid.uuid4().hex[:10]}"
    perfkit = {
        "REDIS_URL": redis_url,
        "REDIS_NAMESPACE": namespace,
        "FLUSH_INTERVAL": 0.2,
        "DATA_DIR": str(tmp_path / "data"),
    }
    yield project_env(perfkit, postgres_url)
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{namespace}*"))
    if keys:
        client.delete(*keys)


def test_under_gunicorn_with_postgres_and_the_commands(
    shared: dict[str, str], tmp_path: Path
) -> None:
    with (
        gunicorn_server("djsite.wsgi:application", APPS, tmp_path, env=shared) as base,
        httpx.Client(base_url=base, timeout=10) as http,
    ):
        assert http.get("/items/4").json() == {"id": 4, "next": 5}
        assert http.get("/items/44").status_code == 404
        assert http.post("/items/4").status_code == 405
        assert http.get("/boom").status_code == 500
        assert http.get("/me", headers={"X-User": "pat"}).json() == {"user": "pat"}
        assert http.get("/download").content == b"x" * 5000  # sent by gunicorn's file wrapper
        text = metrics_after_leaving_a_stream(http, 3000000)
    assert text, "the disconnect was never recorded"
    for needle in [
        'endpoint="/items/<int:item_id>",status="200"} 1',
        'endpoint="/items/<int:item_id>",status="404"} 1',
        'endpoint="/items/<int:item_id>",status="405"} 1',
        'endpoint="/boom",status="500"} 1',
        'endpoint="/stream/<int:n>",status="499"} 1',
        'endpoint="/download",status="200"} 1',
        'app_errors_total{type="RuntimeError"} 1',
        'app_db_query_duration_seconds_count{operation="SELECT"}',
    ]:
        assert needle in text, needle

    # a command in another process reads what the server flushed to the shared store
    # (the other commands run in-process in test_django_middleware.py)
    summary = manage(shared, "perfkit", "summary", "--json")
    assert summary.returncode == 0, summary.stderr
    keys = {row["key"] for row in json.loads(summary.stdout)["top_endpoints"]}
    assert {"GET /items/<int:item_id>", "GET /boom", "GET /me"} <= keys


def test_monitor_performance_fails_ci_when_a_threshold_is_crossed(
    postgres_url: str, tmp_path: Path
) -> None:
    """Exit 1 when a sample crossed a warning threshold; the saved samples say which."""
    env = project_env({"ALERT_DISK_THRESHOLD": 0.5}, postgres_url)  # any used disk crosses it
    saved = tmp_path / "samples.json"
    args = ["monitor_performance", "--interval", "0.2", "--duration", "0.5", "--save", str(saved)]
    out = manage(env, *args)
    report = json.loads(saved.read_text())
    assert report["status"] in ("warning", "critical")
    assert out.returncode == {"warning": 1, "critical": 2}[report["status"]], out.stderr
    assert report["samples"] and "disk" in " ".join(report["samples"][0]["warnings"])


def test_monitor_performance_passes_under_its_thresholds(postgres_url: str, tmp_path: Path) -> None:
    """The exit code is the worst state of the saved samples (0 when none crossed)."""
    limits = {f"ALERT_{what}_{level}": 100 for what in ("CPU", "MEMORY", "DISK")
              for level in ("THRESHOLD", "CRITICAL")}  # fmt: skip
    saved = tmp_path / "samples.json"
    out = manage(
        project_env(limits, postgres_url),
        "monitor_performance", "--interval", "0.2", "--duration", "0.5", "--save", str(saved),
    )  # fmt: skip
    report = json.loads(saved.read_text())
    worst = "healthy"
    for sample in report["samples"]:
        if sample["status"] == "critical" or (sample["status"] == "warning" and worst == "healthy"):
            worst = sample["status"]
    # a saturated CPU reads 100 % and crosses even this limit: the code must still agree
    assert out.returncode == {"healthy": 0, "warning": 1, "critical": 2}[worst], out.stderr
    assert report["status"] == worst and len(report["samples"]) >= 2
    assert out.returncode != 0 or "healthy: " in out.stdout
