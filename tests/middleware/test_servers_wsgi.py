"""The WSGI middleware under real servers: gunicorn (sync worker) and wsgiref, over real HTTP.

Each server runs once per module; every test compares two scrapes of
``/perfkit/metrics`` (before and after its own traffic), so tests do not
depend on each other's requests.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from perfkit import Perfkit, PerfkitSettings

APPS_DIR = Path(__file__).resolve().parents[1] / "apps"
if str(APPS_DIR) not in sys.path:
    sys.path.insert(0, str(APPS_DIR))

import perfkit_sample_http as client  # noqa: E402
import perfkit_sample_wsgi  # noqa: E402

MAX_PATH = PerfkitSettings().max_path_length


@dataclass
class Served:
    name: str
    port: int
    longest_path: int  # the longest request target the server itself accepts


@pytest.fixture(scope="module", params=["gunicorn", "wsgiref"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The wrapped sample app, served on a free 127.0.0.1 port for the whole module."""
    if request.param == "gunicorn":
        log = tmp_path_factory.mktemp("gunicorn") / "server.log"
        args = [
            "{python}", "-m", "gunicorn", "--workers", "1", "--worker-class", "sync",
            "--bind", "127.0.0.1:{port}", "--graceful-timeout", "5", "--timeout", "60",
            "perfkit_sample_wsgi:app",
        ]  # fmt: skip
        proc = client.SubprocessServer(args, log)
        try:
            # gunicorn refuses request lines over 4094 bytes before the app sees them
            yield Served("gunicorn", proc.port, 4000)
            assert proc.alive(), proc.log()
        finally:
            proc.stop()
    else:
        thread = client.ThreadServer(perfkit_sample_wsgi.make_app(Perfkit(PerfkitSettings())))
        try:
            yield Served("wsgiref", thread.port, 60_000)
        finally:
            thread.stop()


def get(server: Served, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    return client.request(server.port, "GET", path, headers)


def test_counts_per_endpoint_equal_what_was_sent(server: Served) -> None:
    """Every endpoint's count, status and histogram match the requests sent over HTTP."""
    before = client.scrape(server.port)
    for _ in range(5):
        assert get(server, "/plain")[2] == b"ok"
    for item in (1, 22, 333, 4444):
        assert get(server, f"/items/{item}")[2] == f"item {item}".encode()
    for _ in range(3):
        status, _, body = get(server, "/stream?chunks=4&size=1000")
        assert (status, len(body)) == (200, 4000)
    for _ in range(2):
        assert get(server, "/write")[2] == b"written through write()"
    for missing in ("/nope", "/nope/1", f"/{uuid.uuid4().hex}/x"):
        assert get(server, missing)[0] == 404
    for _ in range(2):
        assert get(server, "/slow?ms=60")[0] == 200

    after = client.scrape(server.port)
    assert after.delta(before) == {
        ("GET", "/plain", "200"): 5,
        ("GET", "/items/{id}", "200"): 4,
        ("GET", "/stream", "200"): 3,
        ("GET", "/write", "200"): 2,
        ("GET", "__not_found__", "404"): 3,
        ("GET", "/slow", "200"): 2,
    }

    def hist(metrics: client.Metrics, suffix: str, endpoint: str, **le: str) -> float:
        name = "app_request_duration_seconds" + suffix
        return metrics.value(name, method="GET", endpoint=endpoint, **le)

    assert hist(after, "_count", "/items/{id}") - hist(before, "_count", "/items/{id}") == 4
    # the app sleeps 60 ms: both requests are above the 0.05 bucket, below +Inf
    slow_inf = hist(after, "_bucket", "/slow", le="+Inf") - hist(
        before, "_bucket", "/slow", le="+Inf"
    )
    slow_50ms = hist(after, "_bucket", "/slow", le="0.05") - hist(
        before, "_bucket", "/slow", le="0.05"
    )
    assert (slow_inf, slow_50ms) == (2, 0)
    assert hist(after, "_sum", "/slow") - hist(before, "_sum", "/slow") >= 0.12


def test_request_id_is_echoed_or_generated(server: Served) -> None:
    """A sane X-Request-ID comes back as sent; a missing or malformed one is replaced."""
    assert get(server, "/plain", **{"X-Request-ID": "req-abc.123"})[1]["x-request-id"] == (
        "req-abc.123"
    )
    generated = {get(server, "/plain")[1]["x-request-id"] for _ in range(3)}
    assert len(generated) == 3 and all(generated)
    for bad in ("has space", "x" * 300, "semi;colon"):
        echoed = get(server, "/items/7", **{"X-Request-ID": bad})[1]["x-request-id"]
        assert echoed and echoed != bad
    assert "x-request-id" in {k.lower() for k in get(server, "/nope")[1]}


def test_perfkit_paths_are_served_and_not_counted(server: Served) -> None:
    """/perfkit/metrics, /health, /health/live, /health/ready answer; none is counted."""
    before = client.scrape(server.port)
    for path in ("/perfkit/health", "/perfkit/health/live", "/perfkit/health/ready"):
        status, headers, body = get(server, path)
        assert headers["content-type"].startswith("application/json"), path
        # 503 only when critical (a loaded machine may be); liveness is always 200
        health = json.loads(body)["status"]
        assert health in {"healthy", "warning", "unknown", "critical"}, body
        assert status == (503 if health == "critical" and not path.endswith("live") else 200)
    assert get(server, "/perfkit/no-such-thing")[0] == 404
    assert client.request(server.port, "POST", "/perfkit/metrics")[0] == 405
    client.scrape(server.port)
    after = client.scrape(server.port)
    assert after.delta(before) == {}
    assert not [k for k in after.requests() if k[1].startswith("/perfkit")]


def test_exception_is_recorded_as_500_and_the_server_still_serves(server: Served) -> None:
    """An app exception becomes a counted 500 with its type; the next request is fine."""
    before = client.scrape(server.port)
    assert get(server, "/boom")[0] == 500
    assert get(server, "/boom")[0] == 500
    assert get(server, "/plain")[0] == 200
    after = client.scrape(server.port)
    assert after.delta(before) == {("GET", "/boom", "500"): 2, ("GET", "/plain", "200"): 1}
    errors = after.value("app_errors_total", type="SampleAppError")
    assert errors - before.value("app_errors_total", type="SampleAppError") == 2


def test_client_disconnect_mid_stream_is_recorded_as_499(server: Served) -> None:
    """A client that hangs up during a long streaming body is a 499, not a success."""
    before = client.scrape(server.port)
    client.disconnect_mid_stream(server.port, "/stream?chunks=100000&size=65536")

    def recorded() -> dict[tuple[str, str, str], float] | None:
        delta = client.scrape(server.port).delta(before)
        return delta if delta.get(("GET", "/stream", "499")) else None

    delta = client.poll(recorded, "the disconnected stream to be recorded as 499")
    assert delta == {("GET", "/stream", "499"): 1}
    assert get(server, "/plain")[2] == b"ok"


def test_non_utf8_and_enormous_paths_are_recorded_without_a_crash(server: Served) -> None:
    """Percent-encoded bad UTF-8, raw high bytes and a huge path are recorded, bounded."""
    before = client.scrape(server.port)
    assert get(server, "/echo/%C3%A9%FF")[0] == 200  # "é" then a byte that is not UTF-8
    huge = "/echo/" + "a" * (server.longest_path - 6)
    assert get(server, huge)[0] == 200
    answer = client.raw_request(
        server.port, b"GET /echo/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    # a server may refuse raw high bytes itself (gunicorn: 400); it must not be perfkit's 500
    assert answer.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200", b"HTTP/1.1 400")), answer[:100]
    assert get(server, "/plain")[0] == 200

    delta = client.scrape(server.port).delta(before)
    assert delta.pop(("GET", "/echo/é\ufffd", "200")) == 1
    assert delta.pop(("GET", "/plain", "200")) == 1
    if b" 200 " in answer.split(b"\r\n", 1)[0]:
        assert delta.pop(("GET", "/echo/\ufffd\ufffd", "200")) == 1
    [(method, endpoint, status)] = delta  # only the huge path is left
    assert (method, status, delta[(method, endpoint, status)]) == ("GET", "200", 1)
    assert endpoint == "/echo/..."  # the cut segment is dropped: it could be part of a token


def test_odd_methods_are_recorded_under_a_bounded_name(server: Served) -> None:
    """Unknown methods are one OTHER series; known ones keep their name."""
    before = client.scrape(server.port)
    for method in ("BREW", "M-SEARCH", "DELETE"):
        assert client.request(server.port, method, "/plain")[0] == 200
    assert client.scrape(server.port).delta(before) == {
        ("OTHER", "/plain", "200"): 2,
        ("DELETE", "/plain", "200"): 1,
    }
