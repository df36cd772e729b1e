"""The request logger the middleware calls: off by default, sampled, failures always."""

from __future__ import annotations

import random
import threading
import urllib.error
import urllib.request
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from logs_support import flushed, read_lines

from perfkit.config import PerfkitSettings
from perfkit.kit import Perfkit
from perfkit.logs import make_request_logger
from perfkit.wsgi import PerfkitMiddleware


def test_off_by_default() -> None:
    """No hook at all unless log_requests is on (zero cost on the request path)."""
    assert make_request_logger(PerfkitSettings()) is None


def test_failed_and_slow_requests_always_the_rest_sampled(logs) -> None:
    """Rate 0: only 5xx and slow requests are written, flagged as such."""
    log_dir = logs()
    settings = PerfkitSettings(log_requests=True, log_request_sample_rate=0.0,
                               slow_request_threshold=1.0)  # fmt: skip
    hook = make_request_logger(settings)
    assert hook is not None
    hook("GET", "/fast", 200, 0.01, "u1", "rid-1")
    hook("GET", "/broken", 503, 0.01, None, "rid-2")
    hook("GET", "/slow", 200, 1.5, None, "rid-3", "10.0.0.9", "curl/8")
    hook("GET", "/missing", 404, 0.02)
    flushed()
    entries = read_lines(log_dir / "app_requests.log")
    assert [e["path"] for e in entries] == ["/broken", "/slow"]
    assert entries[0]["level"] == "WARNING" and entries[0]["request_id"] == "rid-2"
    assert entries[1]["slow"] is True and entries[1]["response_time_ms"] == 1500.0
    assert entries[1]["ip_address"] == "10.0.0.9" and entries[1]["user_agent"] == "curl/8"


def test_sampling_rate_is_respected(logs) -> None:
    """With rate 0.25 and a seeded generator about a quarter of ordinary requests appear."""
    log_dir = logs()
    settings = PerfkitSettings(log_requests=True, log_request_sample_rate=0.25)
    hook = make_request_logger(settings, rng=random.Random(7).random)
    assert hook is not None
    for i in range(2000):
        hook("GET", f"/items/{i}", 200, 0.001)
    flushed()
    written = len(read_lines(log_dir / "app_requests.log"))
    assert 400 <= written <= 600, written


def test_through_the_kit_and_a_real_server(logs) -> None:
    """With log_requests on, every request of a real server reaches the requests log."""
    log_dir = logs()
    kit = Perfkit(PerfkitSettings(log_requests=True))
    assert len(kit.request_hooks) == 1  # the kit wires the request log itself

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        code = "500 Internal Server Error" if environ["PATH_INFO"] == "/fail" else "200 OK"
        start_response(code, [("Content-Type", "text/plain")])
        return [b"x"]

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Silence wsgiref."""

    server = make_server("127.0.0.1", 0, PerfkitMiddleware(app, kit=kit), handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    ids = []
    try:
        for path in ("/ok", "/fail"):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}{path}") as r:
                    ids.append(r.headers["X-Request-ID"])
            except urllib.error.HTTPError as err:
                ids.append(err.headers["X-Request-ID"])
                err.close()
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
    flushed()
    entries = read_lines(log_dir / "app_requests.log")
    assert [(e["path"], e["status_code"], e["request_id"]) for e in entries] == [
        ("/ok", 200, ids[0]), ("/fail", 500, ids[1])
    ]  # fmt: skip
