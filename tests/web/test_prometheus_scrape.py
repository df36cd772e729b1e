"""A real Prometheus server (Debian package `prometheus`) scrapes a wrapped app's /perfkit/metrics.

Format details (escaping, OpenMetrics, promtool on rendered output) are in
test_exposition_format.py; this file is about a live scrape.

Skipped when /usr/bin/prometheus or promtool is missing, failed when
PERFKIT_REQUIRE_SERVICES=1 (CI). The server runs on its own free port with its
own storage in tmp_path; a packaged instance on :9090 is never used.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from perfkit import Perfkit, PerfkitSettings
from perfkit.wsgi import PerfkitMiddleware
from tests.conftest import REQUIRE_SERVICES, free_port, serve_wsgi, wait_for_port

pytestmark = pytest.mark.timeout(120)

SCRAPE_DEADLINE = 30.0


def _tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        message = f"{name} is not installed (apt-get install -y prometheus)"
        if REQUIRE_SERVICES:
            pytest.fail(message + " [PERFKIT_REQUIRE_SERVICES=1]")
        pytest.skip(message)
    return path


@contextmanager
def prometheus(tmp_path: Path, target_port: int) -> Iterator[int]:
    """Run `prometheus` scraping 127.0.0.1:`target_port`/perfkit/metrics every second."""
    binary = _tool("prometheus")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "scrape_configs:\n"
        "  - job_name: perfkit\n"
        "    metrics_path: /perfkit/metrics\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target_port}']\n"
    )
    port = free_port()
    log_path = tmp_path / "prometheus.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            try:
                wait_for_port(port, timeout=20, proc=proc)
                _poll(lambda: _http(port, "/-/ready")[0] == 200, "prometheus ready", log_path)
            except (RuntimeError, TimeoutError) as exc:
                raise AssertionError(f"{exc}\n{log_path.read_text(errors='replace')}") from None
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _http(port: int, path: str, accept: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if accept:
        request.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code), exc.read()
    except OSError:
        return 0, b""


def _poll(check: Callable[[], Any], what: str, log: Path, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)  # polling the server with a deadline
    raise AssertionError(
        f"{what}: not reached after {timeout} s\n{log.read_text(errors='replace')}"
    )


def query(port: int, expr: str) -> float | None:
    """The value of an instant query with one result (None while there is none)."""
    status, body = _http(port, "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    if status != 200:
        return None
    result = json.loads(body)["data"]["result"]
    return float(result[0]["value"][1]) if len(result) == 1 else None


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    path = environ["PATH_INFO"]
    status = "200 OK"
    if path.startswith("/fail"):
        status = "503 Service Unavailable"
    elif not path.startswith("/items/") and path != "/":
        status = "404 Not Found"
    start_response(status, [("Content-Type", "text/plain")])
    return [b"ok"]


def test_prometheus_scrapes_exactly_the_requests_sent(tmp_path: Path) -> None:
    """Prometheus sees exactly the requests sent (scrapes not counted); promtool finds nothing."""
    kit = Perfkit(PerfkitSettings())
    with (
        serve_wsgi(PerfkitMiddleware(app, kit)) as app_port,
        prometheus(tmp_path, app_port) as port,
    ):
        paths = [f"/items/{i}" for i in range(20)] + ["/"] * 7 + ["/fail"] * 5 + ["/nope/x"] * 3
        statuses = [_http(app_port, p)[0] for p in paths]
        assert statuses.count(200) == 27 and statuses.count(503) == 5 and statuses.count(404) == 3
        sent = len(paths)

        def scraped() -> bool:
            return query(port, "sum(app_requests_total)") == sent

        try:
            _poll(scraped, "sum(app_requests_total)", tmp_path / "prometheus.log", SCRAPE_DEADLINE)
        except AssertionError:
            targets = _http(port, "/api/v1/targets")[1].decode(errors="replace")
            last = query(port, "sum(app_requests_total)")
            raise AssertionError(
                f"expected {sent}, Prometheus has {last}; targets: {targets}"
            ) from None

        assert query(port, 'up{job="perfkit"}') == 1.0
        assert query(port, 'sum(app_requests_total{status="503"})') == 5
        assert query(port, 'sum(app_requests_total{endpoint="/items/{id}"})') == 20
        assert query(port, "sum(app_request_duration_seconds_count)") == sent
        # Prometheus's own scrapes of /perfkit/metrics are served by perfkit, never counted
        assert kit.snapshot()["requests"]["summary"]["count"] == sent

        # the text format the server serves passes promtool's checker and linter untouched
        status, body = _http(app_port, "/perfkit/metrics")
        assert status == 200 and b"app_requests_total" in body
        result = subprocess.run(
            [_tool("promtool"), "check", "metrics"], input=body, capture_output=True, timeout=30
        )
        findings = (result.stdout + result.stderr).decode(errors="replace").strip()
        assert result.returncode == 0 and findings == "", findings
