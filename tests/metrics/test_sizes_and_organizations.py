"""Request body sizes and per-organization query statistics, end to end over real servers
(wsgiref and uvicorn): the snapshot, the API, /metrics and the stores."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from perfkit import Perfkit, PerfkitSettings
from perfkit.asgi import PerfkitMiddleware as AsgiMiddleware
from perfkit.metrics.registry import Registry
from perfkit.metrics.state import from_state, merge_into, to_state
from perfkit.wsgi import PerfkitMiddleware as WsgiMiddleware
from tests.conftest import free_port, serve_wsgi

SLOW_QUERY = 0.5  # the default slow_query_threshold


def identify(request: Any) -> tuple[str | None, str | None]:
    """The organization from the X-Org header (WSGI environ or ASGI scope)."""
    if "headers" in request:  # ASGI scope
        headers = {k.decode(): v.decode() for k, v in request["headers"]}
        return None, headers.get("x-org")
    return None, request.get("HTTP_X_ORG")


def post(url: str, body: bytes | Iterator[bytes], org: str) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers={"X-Org": org})  # type: ignore[arg-type]
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()
        return int(response.status)


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return str(response.read().decode())


def check_figures(kit: Perfkit, base: str, sizes: list[int]) -> None:
    """What every surface says after `sizes` bodies to /upload from acme, globex, acme..."""

    def upload() -> dict[str, Any] | None:
        rows = kit.snapshot()["requests"]["endpoints"]
        return next((e for e in rows if e["key"] == "POST /upload"), None)

    # the middleware records after the last byte is sent, so the client may be first
    deadline = time.monotonic() + 30
    while (row := upload()) is None or row["count"] < len(sizes):
        assert time.monotonic() < deadline, row
        time.sleep(0.02)  # polling the recorded figures with a deadline
    assert row["bytes_received"] == sum(sizes) and row["count"] == len(sizes)
    assert row["avg_request_bytes"] == pytest.approx(sum(sizes) / len(sizes))
    text = scrape(base + "/perfkit/metrics")
    labels = '{method="POST",endpoint="/upload"}'
    assert f"app_request_size_bytes_total{labels} {sum(sizes)}" in text, text
    assert "# TYPE app_request_size_bytes_total counter" in text
    assert f"app_response_size_bytes_total{labels} {2 * len(sizes)}" in text  # "ok" each
    assert (
        f'app_requests_total{{method="POST",endpoint="/upload",status="200"}} {len(sizes)}' in text
    )

    orgs = {r["id"]: r for r in kit.snapshot()["queries"]["organizations"]}
    assert set(orgs) == {"acme", "globex"}
    acme, globex = orgs["acme"], orgs["globex"]
    n_acme = (len(sizes) + 1) // 2
    assert (acme["count"], acme["slow"]) == (2 * n_acme, n_acme)  # a fast and a slow query each
    assert globex["count"] == 2 * (len(sizes) // 2)
    assert acme["max"] == pytest.approx(0.75) and acme["slow_rate"] == 50.0
    with urllib.request.urlopen(base + "/perfkit/api/queries/summary", timeout=30) as response:
        api = json.loads(response.read())
    assert {r["id"] for r in api["organizations"]} == {"acme", "globex"}
    with urllib.request.urlopen(base + "/perfkit/api/requests/endpoints", timeout=30) as response:
        rows = json.loads(response.read())["endpoints"]
    assert next(r for r in rows if r["key"] == "POST /upload")["bytes_received"] == sum(sizes)


def test_wsgi_counts_declared_bodies_and_each_organizations_queries() -> None:
    kit = Perfkit()

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        environ["wsgi.input"].read(length)
        kit.record_query_performance("SELECT * FROM orders WHERE id = 1", 0.01)
        kit.record_query_performance("SELECT * FROM reports WHERE day = '2024-01-01'", 0.75)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    sizes = [1000, 0, 4096]
    with serve_wsgi(WsgiMiddleware(app, kit, identify=identify)) as port:
        base = f"http://127.0.0.1:{port}"
        for i, size in enumerate(sizes):
            assert post(base + "/upload", b"x" * size, "acme" if i % 2 == 0 else "globex") == 200
        check_figures(kit, base, sizes)


@pytest.fixture
def uvicorn_kit() -> Iterator[tuple[Perfkit, str]]:
    """The middleware over a small ASGI app under uvicorn, in this process."""
    import uvicorn

    kit = Perfkit()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        kit.record_query_performance("SELECT * FROM orders WHERE id = 1", 0.01)
        kit.record_query_performance("SELECT * FROM reports WHERE day = '2024-01-01'", 0.75)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b"ok"})

    port = free_port()
    config = uvicorn.Config(
        AsgiMiddleware(app, kit, identify=identify), host="127.0.0.1", port=port,
        log_level="warning", lifespan="off",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)  # polling the server's start with a deadline
    try:
        yield kit, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


def test_asgi_counts_every_body_byte_chunked_ones_too(uvicorn_kit: tuple[Perfkit, str]) -> None:
    """ASGI counts what arrives, so a chunked body (no Content-Length) is counted exactly."""
    kit, base = uvicorn_kit
    assert post(base + "/upload", b"y" * 1500, "acme") == 200

    def chunks() -> Iterator[bytes]:
        yield b"a" * 700
        yield b"b" * 300

    assert post(base + "/upload", chunks(), "globex") == 200  # Transfer-Encoding: chunked
    check_figures(kit, base, [1500, 1000])


def test_the_new_figures_survive_the_json_state_and_merge() -> None:
    """One declaration each: the JSON state and merging carry them with no extra code."""
    settings = PerfkitSettings()
    registry = Registry(settings)
    registry.record_query("SELECT 1", 0.9, organization="acme")
    from perfkit.metrics.record import RequestRecord

    registry.record_request(RequestRecord("POST", "/upload", 200, 0.1, 2, request_size=321))
    registry.drain()
    copy = from_state(json.loads(json.dumps(to_state(registry))), settings)
    merge_into(copy, registry)
    assert copy.query_organizations["acme"].count == 2
    assert copy.query_organizations["acme"].slow == 2
    assert copy.endpoints[("POST", "/upload")].bytes_received == 642
