"""The ASGI middleware under a real server (uvicorn), over real HTTP and websockets.

One uvicorn serves the module; every test compares two scrapes of
``/perfkit/metrics`` (before and after its own traffic).
"""

from __future__ import annotations

import importlib.util
import json
import signal
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from perfkit import PerfkitSettings

APPS_DIR = Path(__file__).resolve().parents[1] / "apps"
if str(APPS_DIR) not in sys.path:
    sys.path.insert(0, str(APPS_DIR))

import perfkit_sample_http as client  # noqa: E402

MAX_PATH = PerfkitSettings().max_path_length
HAS_WEBSOCKETS = importlib.util.find_spec("websockets") is not None
LONGEST_PATH = 12_000  # h11 refuses request heads over 16 KiB before the app sees them


def ws_implementation() -> str:
    if not HAS_WEBSOCKETS:
        return "none"
    from uvicorn.config import WS_PROTOCOLS

    # the sans-I/O one avoids websockets' deprecated legacy API where uvicorn has it
    return "websockets-sansio" if "websockets-sansio" in WS_PROTOCOLS else "websockets"


def uvicorn_args() -> list[str]:
    return [
        "{python}", "-m", "uvicorn", "perfkit_sample_asgi:app", "--app-dir", "{apps}",
        "--host", "127.0.0.1", "--port", "{port}", "--lifespan", "on",
        "--ws", ws_implementation(),
        "--log-level", "warning", "--no-access-log", "--timeout-graceful-shutdown", "5",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[client.SubprocessServer]:
    """The wrapped sample ASGI app under uvicorn for the whole module."""
    proc = client.SubprocessServer(uvicorn_args(), tmp_path_factory.mktemp("uvicorn") / "log")
    try:
        yield proc
        assert proc.alive(), proc.log()
    finally:
        proc.stop()


def get(port: int, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    return client.request(port, "GET", path, headers)


def test_counts_per_endpoint_equal_what_was_sent(server: client.SubprocessServer) -> None:
    """Every endpoint's count and histogram match the requests sent over HTTP."""
    port = server.port
    before = client.scrape(port)
    for _ in range(4):
        assert get(port, "/plain")[2] == b"ok"
    for item in (5, 66, 777):
        assert get(port, f"/items/{item}")[2] == f"item {item}".encode()
    for _ in range(2):
        status, _, body = get(port, "/stream?chunks=5&size=700")
        assert (status, len(body)) == (200, 3500)
    for missing in ("/nope", f"/{uuid.uuid4()}"):
        assert get(port, missing)[0] == 404
    assert get(port, "/slow?ms=60")[0] == 200
    after = client.scrape(port)
    assert after.delta(before) == {
        ("GET", "/plain", "200"): 4,
        ("GET", "/items/{id}", "200"): 3,
        ("GET", "/stream", "200"): 2,
        ("GET", "__not_found__", "404"): 2,
        ("GET", "/slow", "200"): 1,
    }
    name = "app_request_duration_seconds_bucket"
    labels = {"method": "GET", "endpoint": "/slow"}
    assert after.value(name, le="+Inf", **labels) - before.value(name, le="+Inf", **labels) == 1
    assert after.value(name, le="0.05", **labels) == before.value(name, le="0.05", **labels)


def test_request_id_is_echoed_or_generated(server: client.SubprocessServer) -> None:
    """A sane X-Request-ID comes back as sent; a missing or malformed one is replaced."""
    port = server.port
    assert get(port, "/plain", **{"X-Request-ID": "req-xyz.9"})[1]["x-request-id"] == "req-xyz.9"
    generated = {get(port, "/plain")[1]["x-request-id"] for _ in range(3)}
    assert len(generated) == 3 and all(generated)
    echoed = get(port, "/plain", **{"X-Request-ID": "bad id"})[1]["x-request-id"]
    assert echoed and echoed != "bad id"


def test_perfkit_paths_are_served_and_not_counted(server: client.SubprocessServer) -> None:
    """The API answers under /perfkit; none of its requests is counted."""
    port = server.port
    before = client.scrape(port)
    for path in ("/perfkit/health", "/perfkit/health/live", "/perfkit/health/ready"):
        status, headers, body = get(port, path)
        assert headers["content-type"].startswith("application/json"), path
        # 503 only when critical (a loaded machine may be); liveness is always 200
        health = json.loads(body)["status"]
        assert health in {"healthy", "warning", "unknown", "critical"}, body
        assert status == (503 if health == "critical" and not path.endswith("live") else 200)
    assert get(port, "/perfkit/no-such-thing")[0] == 404
    client.scrape(port)
    after = client.scrape(port)
    assert after.delta(before) == {}
    assert not [k for k in after.requests() if k[1].startswith("/perfkit")]


def test_exception_is_recorded_as_500_and_the_server_still_serves(
    server: client.SubprocessServer,
) -> None:
    """An app exception becomes a counted 500 with its type; the next request is fine."""
    port = server.port
    before = client.scrape(port)
    assert get(port, "/boom")[0] == 500
    assert get(port, "/plain")[0] == 200
    after = client.scrape(port)
    assert after.delta(before) == {("GET", "/boom", "500"): 1, ("GET", "/plain", "200"): 1}
    errors = after.value("app_errors_total", type="SampleAppError")
    assert errors - before.value("app_errors_total", type="SampleAppError") == 1
    assert "SampleAppError" in server.log()  # re-raised unchanged: uvicorn logged it


def test_client_disconnect_mid_stream_is_recorded_as_499(server: client.SubprocessServer) -> None:
    """A client that hangs up during a long streaming body is a 499, not a success."""
    before = client.scrape(server.port)
    client.disconnect_mid_stream(server.port, "/stream?chunks=100000&size=65536")

    def recorded() -> dict[tuple[str, str, str], float] | None:
        delta = client.scrape(server.port).delta(before)
        return delta if delta.get(("GET", "/stream", "499")) else None

    assert client.poll(recorded, "the stream to be recorded as 499") == {
        ("GET", "/stream", "499"): 1
    }


def test_non_utf8_and_enormous_paths_are_recorded_without_a_crash(
    server: client.SubprocessServer,
) -> None:
    """Bad UTF-8 and a huge path are recorded (bounded); the server keeps serving."""
    port = server.port
    before = client.scrape(port)
    assert get(port, "/echo/%C3%A9%FF")[0] == 200
    assert get(port, "/echo/" + "b" * LONGEST_PATH)[0] == 200
    answer = client.raw_request(
        port, b"GET /echo/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert answer.startswith((b"HTTP/1.1 200", b"HTTP/1.1 400")), answer[:100]
    assert get(port, "/plain")[0] == 200
    delta = client.scrape(port).delta(before)
    assert delta.pop(("GET", "/echo/é\ufffd", "200")) == 1
    assert delta.pop(("GET", "/plain", "200")) == 1
    if answer.startswith(b"HTTP/1.1 200"):
        [raw_key] = [k for k in delta if k[1] != "/echo/..."]
        assert delta.pop(raw_key) == 1
    [(method, endpoint, status)] = delta
    assert (method, status) == ("GET", "200")
    assert endpoint == "/echo/..."  # the cut segment is dropped: it could be part of a token


def test_odd_methods_are_recorded_under_a_bounded_name(server: client.SubprocessServer) -> None:
    """Unknown methods are one OTHER series; known ones keep their name."""
    before = client.scrape(server.port)
    for method in ("BREW", "purge", "PATCH"):
        assert client.request(server.port, method, "/plain")[0] == 200
    assert client.scrape(server.port).delta(before) == {
        ("OTHER", "/plain", "200"): 2,
        ("PATCH", "/plain", "200"): 1,
    }


def test_in_flight_gauge_counts_a_request_while_it_runs(server: client.SubprocessServer) -> None:
    """app_requests_in_progress is 1 while /hold waits, and 0 once it was released."""
    port = server.port
    results: list[int] = []
    holder = threading.Thread(target=lambda: results.append(get(port, "/hold")[0]))
    holder.start()
    try:
        busy = client.poll(
            lambda: client.scrape(port).value("app_requests_in_progress") >= 1, "in-flight >= 1"
        )
        assert busy
        assert client.scrape(port).value("app_requests_in_progress") == 1
    finally:
        assert get(port, "/release")[0] == 200
        holder.join(15)
    assert results == [200]
    client.poll(lambda: client.scrape(port).value("app_requests_in_progress") == 0, "in-flight 0")


@pytest.mark.skipif(not HAS_WEBSOCKETS, reason="the `websockets` package is not installed")
def test_websocket_passes_through_untouched(server: client.SubprocessServer) -> None:
    """A websocket session reaches the app as is and is never timed as an HTTP request."""
    from websockets.sync.client import connect

    before = client.scrape(server.port)
    with connect(f"ws://127.0.0.1:{server.port}/ws", open_timeout=15) as ws:
        for text in ("hello", "wörld"):
            ws.send(text)
            assert ws.recv(timeout=15) == "echo:" + text
    assert client.scrape(server.port).delta(before) == {}


def test_lifespan_events_reach_the_app_through_the_middleware(tmp_path: Path) -> None:
    """Startup is seen by the app before it serves; shutdown runs when uvicorn stops."""
    marker = tmp_path / "lifespan.txt"
    proc = client.SubprocessServer(
        uvicorn_args(), tmp_path / "log", env={"PERFKIT_SAMPLE_LIFESPAN_FILE": str(marker)}
    )
    try:
        status, _, body = get(proc.port, "/lifespan")
        assert (status, json.loads(body)) == (200, {"startup": True, "shutdown": False})
        assert not marker.exists()
    finally:
        code = proc.stop()
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it captured
    assert code in (0, -signal.SIGTERM), proc.log()
    assert marker.read_text() == "shutdown"
    assert "lifespan" not in proc.log().lower()  # no "lifespan unsupported/failed" from uvicorn
