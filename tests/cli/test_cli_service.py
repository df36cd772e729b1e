"""CLI commands run as subprocesses against a live server."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perfkit import Perfkit, PerfkitSettings
from perfkit.health import HealthChecks
from perfkit.wsgi import PerfkitMiddleware
from tests.conftest import serve_wsgi

TOKEN = "cli-test-token"


class Health:
    """The status the test sets, read by the kit's one readiness check."""

    def __init__(self) -> None:
        self.status = "healthy"


def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    status = "500 Internal Server Error" if environ["PATH_INFO"] == "/fail" else "200 OK"
    start_response(status, [("Content-Type", "text/plain")])
    return [b"ok"]


@pytest.fixture
def service() -> Iterator[tuple[str, Perfkit, Health]]:
    kit = Perfkit(PerfkitSettings(token=TOKEN))
    health = Health()
    kit.register_component("health", HealthChecks(cache_ttl=0))  # no system checks
    kit.add_health_check("probe", lambda: health.status)
    with serve_wsgi(PerfkitMiddleware(app, kit)) as port:
        base = f"http://127.0.0.1:{port}"
        for path in ("/users/1", "/users/2", "/fail"):
            with contextlib.suppress(OSError):  # the /fail answer is an HTTPError
                urllib.request.urlopen(base + path, timeout=5).read()
        yield base + "/perfkit", kit, health


def perfkit(*args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess[str]:
    extra = ["--token", token] if token else []
    return subprocess.run(
        [sys.executable, "-m", "perfkit", *args, *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_status_and_summary(service: tuple[str, Perfkit, Health]) -> None:
    url, _, _ = service
    out = perfkit("status", "--url", url)
    assert out.returncode == 0, out.stderr
    assert "health:   healthy" in out.stdout and "3 requests" in out.stdout
    out = perfkit("summary", "--url", url, "--hours", "1", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["requests"]["count"] == 3 and data["requests"]["errors"] == 1
    out = perfkit("summary", "--url", url)
    assert "GET /users/{id}" in out.stdout


def test_wrong_token_and_unreachable_service_are_one_line_errors(
    service: tuple[str, Perfkit, Health],
) -> None:
    url, _, _ = service
    out = perfkit("summary", "--url", url, token="nope")
    assert out.returncode == 2
    assert "HTTP 401" in out.stderr and "Traceback" not in out.stderr
    out = perfkit("status", "--url", "http://127.0.0.1:9/perfkit")
    assert out.returncode == 2 and "cannot reach" in out.stderr
    out = perfkit("summary", "--url", url, "--hours", "0")
    assert out.returncode == 2 and "hours in 1..720" in out.stderr


def test_health_check_exit_codes(service: tuple[str, Perfkit, Health]) -> None:
    url, _, health = service
    assert perfkit("health-check", "--url", url).returncode == 0
    health.status = "warning"
    assert perfkit("health-check", "--url", url).returncode == 1
    health.status = "critical"
    out = perfkit("health-check", "--url", url)
    assert out.returncode == 2 and out.stdout.strip() == "critical"
    assert perfkit("health-check", "--url", "http://127.0.0.1:9/perfkit").returncode == 2


def test_export_reset_and_cleanup(service: tuple[str, Perfkit, Health], tmp_path: Path) -> None:
    url, kit, _ = service
    target = tmp_path / "export.json"
    out = perfkit("export-metrics", "--url", url, "--hours", "1", "--output-file", str(target))
    assert out.returncode == 0, out.stderr
    exported = json.loads(target.read_text())
    assert exported["snapshot"]["requests"]["summary"]["count"] == 3
    prom = tmp_path / "metrics.txt"
    out = perfkit(
        "export-metrics", "--url", url, "--format", "prometheus", "--output-file", str(prom)
    )
    assert out.returncode == 0 and "app_requests_total" in prom.read_text()
    assert perfkit("cleanup", "--url", url).returncode == 0
    assert perfkit("reset-counters", "--url", url).returncode == 0
    assert kit.snapshot()["requests"]["summary"]["count"] == 0


def test_monitor_saves_samples(tmp_path: Path) -> None:
    target = tmp_path / "samples.json"
    out = perfkit(
        "monitor", "--interval", "0.2", "--duration", "0.7", "--save", str(target), token=None
    )
    assert out.returncode == 0, out.stderr
    samples = json.loads(target.read_text())
    assert len(samples) >= 2
    assert {"cpu_percent", "ram_percent", "disk_percent"} <= set(samples[0])
