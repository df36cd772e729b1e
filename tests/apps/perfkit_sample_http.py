"""Test-side helpers for the sample apps: start real servers, talk HTTP, read /perfkit/metrics."""

from __future__ import annotations

import http.client
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

__all__ = [
    "APPS_DIR",
    "Metrics",
    "SubprocessServer",
    "ThreadServer",
    "disconnect_mid_stream",
    "free_port",
    "poll",
    "raw_request",
    "request",
    "scrape",
]

APPS_DIR = Path(__file__).resolve().parent
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def poll(check: Callable[[], T | None], what: str, timeout: float = 15.0) -> T:
    """Call `check` until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.02)  # polling with a deadline, not waiting for a guess
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def request(
    port: int,
    method: str,
    path: str,
    headers: Mapping[str, str] | None = None,
    timeout: float = 15.0,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request on a fresh connection: ``(status, lower-case headers, body)``."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, headers=dict(headers or {}))
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def raw_request(port: int, data: bytes, timeout: float = 15.0) -> bytes:
    """Send raw bytes (for request lines http.client refuses to build); read to EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout) as sock:
        sock.sendall(data)
        chunks: list[bytes] = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def disconnect_mid_stream(port: int, path: str, read_at_least: int = 1024) -> int:
    """Start a long streaming response, read a little of it, then hang up; bytes read."""
    with socket.create_connection(("127.0.0.1", port), 15) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        got = 0
        while got < read_at_least:
            chunk = sock.recv(65536)
            if not chunk:
                raise AssertionError(f"the server ended the stream after {got} bytes")
            got += len(chunk)
        # a reset rather than a polite FIN: the server's next write fails at once
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return got


class Metrics:
    """One scrape of ``/perfkit/metrics``, parsed by prometheus_client's own parser."""

    def __init__(self, text: str) -> None:
        from prometheus_client.parser import text_string_to_metric_families

        self.text = text
        self.samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                self.samples[key] = sample.value

    def value(self, name: str, **labels: str) -> float:
        """The sample's value, 0 when the series does not exist (yet)."""
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)

    def series(self, name: str) -> list[tuple[dict[str, str], float]]:
        return [(dict(labels), v) for (n, labels), v in self.samples.items() if n == name]

    def requests(self) -> dict[tuple[str, str, str], float]:
        """``{(method, endpoint, status): count}`` from ``app_requests_total``."""
        return {
            (labels["method"], labels["endpoint"], labels["status"]): value
            for labels, value in self.series("app_requests_total")
        }

    def delta(self, before: Metrics) -> dict[tuple[str, str, str], float]:
        """Requests counted since `before`, by ``(method, endpoint, status)``."""
        old = before.requests()
        return {k: v - old.get(k, 0.0) for k, v in self.requests().items() if v != old.get(k, 0.0)}


def scrape(port: int, prefix: str = "/perfkit") -> Metrics:
    status, headers, body = request(port, "GET", prefix + "/metrics")
    assert status == 200, (status, body[:500])
    assert headers["content-type"].startswith("text/plain; version=0.0.4"), headers
    return Metrics(body.decode("utf-8"))


class SubprocessServer:
    """A server command run on 127.0.0.1:`port`; ready once ``/perfkit/health/live`` answers."""

    def __init__(self, args: Iterable[str], log_path: Path, env: Mapping[str, str] | None = None):
        self.port = free_port()
        self.log_path = log_path
        cmd = [a.format(port=self.port, python=sys.executable, apps=APPS_DIR) for a in args]
        pythonpath = os.pathsep.join(filter(None, [str(APPS_DIR), os.environ.get("PYTHONPATH")]))
        # the sample apps read PerfkitSettings.from_env(): keep the caller's PERFKIT_* out
        clean = {k: v for k, v in os.environ.items() if not k.startswith("PERFKIT_")}
        full_env = {**clean, "PYTHONPATH": pythonpath, **(env or {})}
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, env=full_env, cwd=str(APPS_DIR)
        )
        try:
            poll(self._ready, f"{cmd[:3]} to answer on port {self.port}", timeout=30)
        except BaseException:
            self.stop()
            raise

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return request(self.port, "GET", "/perfkit/health/live", timeout=2)[0] == 200
        except OSError:
            return False

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> int:
        """Terminate (SIGTERM: a graceful shutdown) and return the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._log.close()
        return code


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # the test reads /perfkit/metrics, not the access log


class ThreadServer:
    """wsgiref's server, in a thread of the test process, on a free port."""

    def __init__(self, app: Any) -> None:
        self.server: WSGIServer = make_server(
            "127.0.0.1", 0, app, server_class=WSGIServer, handler_class=_QuietHandler
        )
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
