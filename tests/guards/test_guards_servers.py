"""The guards under real servers (gunicorn, uvicorn) over real HTTP, configured from PERFKIT_*."""

from __future__ import annotations

import http.client
import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("limits")

HERE = Path(__file__).resolve().parent
APPS_DIR = HERE.parent / "apps"
if str(APPS_DIR) not in sys.path:
    sys.path.insert(0, str(APPS_DIR))

import perfkit_sample_http as client  # noqa: E402

SERVERS = ["gunicorn", "uvicorn"]


def start(kind: str, tmp_path: Path, workers: int = 1, **settings: str) -> client.SubprocessServer:
    """The guards sample app under `kind`, with ``PERFKIT_<KEY>`` variables from `settings`."""
    if kind == "gunicorn":
        args = [
            "{python}", "-m", "gunicorn", "--workers", str(workers), "--worker-class", "sync",
            "--bind", "127.0.0.1:{port}", "--graceful-timeout", "5", "--timeout", "60",
            "guards_sample_app:wsgi_app",
        ]  # fmt: skip
    else:
        args = [
            "{python}", "-m", "uvicorn", "guards_sample_app:asgi_app", "--host", "127.0.0.1",
            "--port", "{port}", "--lifespan", "on", "--log-level", "warning", "--no-access-log",
            "--no-proxy-headers",  # uvicorn would trust X-Forwarded-For from 127.0.0.1 itself
        ]  # fmt: skip
    path = os.pathsep.join(filter(None, [str(HERE), str(APPS_DIR), os.environ.get("PYTHONPATH")]))
    env = {"PYTHONPATH": path, **{"PERFKIT_" + k.upper(): v for k, v in settings.items()}}
    return client.SubprocessServer(args, tmp_path / f"{kind}.log", env)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[client.SubprocessServer]]:
    started: list[client.SubprocessServer] = []
    yield started
    for server in started:
        alive = server.alive()
        server.stop()
        assert alive, server.log()


@pytest.fixture
def namespace(redis_url: str) -> Iterator[str]:
    """A Redis key prefix of this test alone, deleted afterwards."""
    import redis

    name = f"perfkit-test-guards-{uuid.uuid4().hex}"
    yield name
    conn = redis.Redis.from_url(redis_url)
    try:
        keys = list(conn.scan_iter(match=name + "*"))
        if keys:
            conn.delete(*keys)
    finally:
        conn.close()


def get(port: int, path: str = "/plain", **headers: str) -> tuple[int, dict[str, str], bytes]:
    return client.request(port, "GET", path, headers)


def upload_chunked(port: int, chunks: int, size: int) -> tuple[int, bytes]:
    """POST a chunked body (no Content-Length) of `chunks` x `size` bytes."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        body = (b"x" * size for _ in range(chunks))
        conn.request("POST", "/upload", body=body, encode_chunked=True)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("kind", SERVERS)
def test_429_after_the_limit_with_headers_and_recovery_after_the_window(
    kind: str, tmp_path: Path, servers: list[client.SubprocessServer]
) -> None:
    """3/second: three 200s with RateLimit-* counting down, then 429 with Retry-After and a
    JSON body; once the window has passed the client is served again; /health never limited."""
    server = start(kind, tmp_path, rate_limit="3/second")
    servers.append(server)
    seen: list[tuple[int, dict[str, str], bytes]] = []

    def burst() -> bool:
        # the three allowed requests must fall in one window: retry the burst if the
        # loaded machine spread them over more than a second
        seen[:] = [get(server.port) for _ in range(4)]
        return [s for s, _, _ in seen] == [200, 200, 200, 429]

    client.poll(burst, "a burst of 4 requests to give 200, 200, 200, 429", timeout=30)
    assert [h["ratelimit-remaining"] for _, h, _ in seen[:3]] == ["2", "1", "0"]
    assert all(h["ratelimit-limit"] == "3" and h["ratelimit-policy"] == "3;w=1" for _, h, _ in seen)
    _, headers, body = seen[3]
    assert headers["retry-after"] == "1" and headers["ratelimit-remaining"] == "0"
    assert headers["content-type"] == "application/json"
    assert b'"error": "too_many_requests"' in body and b'"detail"' in body
    assert get(server.port, "/health")[0] == 200  # exempt even while limited
    client.poll(lambda: get(server.port)[0] == 200, "the window to pass", timeout=10)
    metrics = client.scrape(server.port)
    assert metrics.value("app_rate_limited_total", endpoint="/plain") >= 1
    assert metrics.requests().get(("GET", "/plain", "429"), 0) >= 1  # measured like any request


@pytest.mark.parametrize("kind", SERVERS)
def test_413_for_declared_and_for_chunked_oversize_bodies(
    kind: str, tmp_path: Path, servers: list[client.SubprocessServer]
) -> None:
    """Content-Length above the limit: 413 before the app runs; a chunked body: cut at the
    limit, the app never sees more than the limit and the client gets a 413."""
    server = start(kind, tmp_path, max_content_length="4000")
    servers.append(server)
    port = server.port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("POST", "/upload", body=b"y" * 4000)
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"4000")
    finally:
        conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("POST", "/upload", body=b"y" * 9000)
        response = conn.getresponse()
        assert response.status == 413
        assert b'"error": "request_too_large"' in response.read()
    finally:
        conn.close()
    assert upload_chunked(port, 3, 1000) == (200, b"3000")
    status, body = upload_chunked(port, 10, 1000)
    assert status == 413 and b"request body larger than 4000 bytes" in body
    metrics = client.scrape(port)
    assert metrics.value("app_request_too_large_total") == 2
    # the gauge exists: the app met RequestBodyTooLarge; it had seen at most the limit
    # (gunicorn hands over 1000-byte reads; uvicorn may deliver the whole body as one
    # message, which is then refused whole)
    seen = metrics.samples[("app_custom_value", (("name", "upload_seen"),))]
    assert 0 <= seen <= 4000


@pytest.mark.parametrize("kind", SERVERS)
def test_spoofed_forwarded_headers_are_ignored_from_untrusted_peers(
    kind: str, tmp_path: Path, servers: list[client.SubprocessServer]
) -> None:
    """A client at 127.0.0.1 (not a trusted proxy) cannot dodge the limit with
    X-Forwarded-For; when 127.0.0.1 is trusted, each forwarded client has its own limit."""
    untrusted = start(kind, tmp_path, rate_limit="2/minute", trusted_proxies="10.0.0.0/8")
    servers.append(untrusted)
    statuses = [get(untrusted.port, **{"X-Forwarded-For": f"203.0.113.{i}"})[0] for i in range(4)]
    assert statuses == [200, 200, 429, 429]
    trusted = start(kind, tmp_path, rate_limit="2/minute", trusted_proxies="127.0.0.1")
    servers.append(trusted)
    spoof = {"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}  # only the rightmost is vouched for
    assert [get(trusted.port, **spoof)[0] for _ in range(3)] == [200, 200, 429]
    fresh = [get(trusted.port, **{"X-Forwarded-For": f"203.0.113.{i}"})[0] for i in range(3)]
    assert fresh == [200, 200, 200]


def test_the_limit_holds_across_three_gunicorn_workers_sharing_redis(
    tmp_path: Path, servers: list[client.SubprocessServer], redis_url: str, namespace: str
) -> None:
    """gunicorn -w 3 with Redis: 10/minute allows exactly 10 requests in total, not 30."""
    server = start(
        "gunicorn", tmp_path, workers=3, rate_limit="10/minute",
        redis_url=redis_url, redis_namespace=namespace,
    )  # fmt: skip
    servers.append(server)
    answers = [get(server.port) for _ in range(30)]
    statuses = [status for status, _, _ in answers]
    pids = {body for status, _, body in answers if status == 200}
    assert statuses.count(200) == 10 and statuses.count(429) == 20, (statuses, pids)
    assert statuses[:10] == [200] * 10
    assert answers[-1][1]["ratelimit-limit"] == "10"


@pytest.mark.parametrize("kind", SERVERS)
def test_redis_down_falls_back_to_per_process_limits_without_failing_requests(
    kind: str, tmp_path: Path, servers: list[client.SubprocessServer]
) -> None:
    """Redis unreachable: every request is answered (200 up to the limit, then 429), none 5xx."""
    dead = f"redis://127.0.0.1:{client.free_port()}/0"  # nothing listens there
    server = start(kind, tmp_path, rate_limit="5/minute", redis_url=dead)
    servers.append(server)
    statuses = [get(server.port)[0] for _ in range(8)]
    assert statuses == [200] * 5 + [429] * 3
    snap_status, _, snap = get(server.port, "/perfkit/api/snapshot")
    guards = json.loads(snap)["guards"]
    assert snap_status == 200 and (guards["storage"], guards["fallbacks"]) == ("memory", 1)
