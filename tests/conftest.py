"""Shared fixtures: external services (skip locally, fail in CI), free ports, servers."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import urlparse
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

REQUIRE_SERVICES = os.environ.get("PERFKIT_REQUIRE_SERVICES") == "1"

REDIS_URL = os.environ.get("PERFKIT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "PERFKIT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
MYSQL_URL = os.environ.get("PERFKIT_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")


def service_unavailable(what: str, url: str, error: object) -> None:
    """Skip when a service is missing on a user's machine; fail when CI requires it."""
    message = f"{what} at {url} is unreachable ({error}); set the URL variable or start it"
    if REQUIRE_SERVICES:
        pytest.fail(message + " [PERFKIT_REQUIRE_SERVICES=1]")
    pytest.skip(message)


def _port_answers(url: str, default_port: int) -> Exception | None:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 2
        ):
            return None
    except OSError as exc:
        return exc


def setup_example_django() -> None:
    """Django set up once per process with the example project's settings (django_project)."""
    import django
    from django.conf import settings

    if not settings.configured:
        os.environ["DJANGO_SETTINGS_MODULE"] = "django_project.settings"
        try:
            django.setup()
        finally:
            os.environ.pop("DJANGO_SETTINGS_MODULE", None)  # read once; keep children clean


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int,
    timeout: float = 15.0,
    proc: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
) -> None:
    """Poll until 127.0.0.1:`port` accepts connections (or fail after `timeout`).

    With `proc`, fail at once when the server exits; `log` is quoted in the error.
    """

    def shown() -> str:
        return f":\n{log.read_text(errors='replace')}" if log is not None else ""

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before port {port}{shown()}")
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.02)  # polling a port with a deadline, not waiting for a guess
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s{shown()}")


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


@contextmanager
def serve_wsgi(app: Any) -> Iterator[int]:
    """Serve a WSGI app with wsgiref (threaded, quiet) on a free 127.0.0.1 port; yields it."""
    server = make_server("127.0.0.1", 0, app, _ThreadingServer, _QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield int(server.server_port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


# What /health may answer in a test: the machine running the tests may itself be critical
# (a loaded 2-core box reaches 100 % CPU, which no threshold can stay under).
HEALTH_ANSWERS = (200, 503)

# Thresholds at 100 %: a test's health must not depend on how busy the machine is.
CALM_SYSTEM_LEVELS = {
    f"alert_{part}_{level}": 100.0
    for part in ("cpu", "memory", "disk")
    for level in ("threshold", "critical")
}


@pytest.fixture
def redis_url() -> str:
    error = _port_answers(REDIS_URL, 6379)
    if error is not None:
        service_unavailable("Redis", REDIS_URL, error)
    return REDIS_URL


@pytest.fixture
def postgres_url() -> str:
    error = _port_answers(POSTGRES_URL, 5432)
    if error is not None:
        service_unavailable("PostgreSQL", POSTGRES_URL, error)
    return POSTGRES_URL


@pytest.fixture
def mysql_url() -> str:
    error = _port_answers(MYSQL_URL, 3306)
    if error is not None:
        service_unavailable("MariaDB/MySQL", MYSQL_URL, error)
    return MYSQL_URL
