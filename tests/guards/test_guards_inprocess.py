"""The guards in process: body cutting, exemptions, routes, keys, kit wiring, Redis fallback."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfkit import Perfkit, PerfkitSettings
from perfkit.alerts.defaults import guard_alert_rules
from perfkit.asgi import PerfkitMiddleware as AsgiMiddleware
from perfkit.errors import ConfigError, MissingDependencyError
from perfkit.guards import Guards, RequestBodyTooLarge
from perfkit.guards.body import LimitedInput
from perfkit.recommendations import guard_recommendations
from perfkit.wsgi import PerfkitMiddleware as WsgiMiddleware

pytest.importorskip("limits")

APPS_DIR = Path(__file__).resolve().parents[1] / "apps"
if str(APPS_DIR) not in sys.path:
    sys.path.insert(0, str(APPS_DIR))

import perfkit_sample_http as client  # noqa: E402

Response = tuple[int, dict[str, str], bytes]


def call(app: Any, path: str = "/x", body: bytes | None = None, **environ: Any) -> Response:
    """One request through a WSGI app: ``(status, headers, body)``; no Content-Length
    is sent for `body` unless given (like a chunked upload)."""
    env: dict[str, Any] = {
        "REQUEST_METHOD": "POST" if body is not None else "GET", "PATH_INFO": path,
        "REMOTE_ADDR": "192.0.2.1", "wsgi.input": io.BytesIO(body or b""),
        "SERVER_NAME": "test", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
    }  # fmt: skip
    if body is not None and "CONTENT_LENGTH" not in environ:
        env["HTTP_TRANSFER_ENCODING"] = "chunked"
    env.update(environ)
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = int(status[:3]), {k.lower(): v for k, v in headers}
        return lambda data: None

    result = app(env, start_response)
    try:
        data = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return seen["status"], seen["headers"], data


def reader(read: Callable[[Any], bytes], on_error: str = "raise") -> Any:
    """A WSGI app that reads its body with `read(stream)`; on the guard's error it
    re-raises, or answers 500 itself like a framework's error page."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            data = read(environ["wsgi.input"])
        except RequestBodyTooLarge:
            if on_error == "raise":
                raise
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [b"framework error page"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(len(data)).encode()]

    return app


def ok_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 300),
    st.integers(0, 600),
    st.lists(st.sampled_from(["read", "read-all", "readline", "iter"]), min_size=1, max_size=6),
    st.integers(1, 80),
)
def test_limited_input_never_hands_over_more_than_the_limit(
    limit: int, size: int, calls: list[str], chunk: int
) -> None:
    """Whatever mix of read/readline/iteration, the app gets at most `limit` bytes, and an
    error exactly when the body is larger."""
    body = b"".join(b"%03d\n" % (i % 1000) for i in range(size // 4 + 1))[:size]
    stream = LimitedInput(io.BytesIO(body), limit)
    got = b""
    readers = {
        "read": lambda: stream.read(chunk),
        "read-all": lambda: stream.read(),
        "readline": lambda: stream.readline(),
        "iter": lambda: b"".join(stream),
    }
    try:
        for n in range(10_000):  # a bound; every read below makes progress or ends
            part = readers[calls[n % len(calls)]]()
            got += part
            if not part:
                break
    except RequestBodyTooLarge as exc:
        assert size > limit and exc.limit == limit
    assert len(got) <= limit and body.startswith(got)
    if size <= limit:
        assert got == body


@pytest.mark.parametrize("on_error", ["raise", "answer"])
def test_wsgi_chunked_body_over_the_limit_is_a_413_even_when_the_app_answers(
    on_error: str,
) -> None:
    """The app meets RequestBodyTooLarge; re-raised or turned into its own 500, the client
    gets the 413; a body within the limit passes."""
    kit = Perfkit(PerfkitSettings())
    app = WsgiMiddleware(
        reader(lambda s: s.read(), on_error), kit, guards=Guards(max_content_length=100)
    )
    assert call(app, body=b"a" * 100)[::2] == (200, b"100")
    status, headers, body = call(app, body=b"a" * 101)
    assert status == 413 and json.loads(body)["error"] == "request_too_large"
    assert headers["content-type"] == "application/json"
    status, _, _ = call(app, body=b"a" * 10, CONTENT_LENGTH="5000")  # declared: refused first
    assert status == 413
    assert kit.snapshot()["guards"]["too_large"] == 2
    kit.registry.drain()  # refused requests are measured like any other
    assert 'app_requests_total{method="POST",endpoint="/x",status="413"} 2' in (
        kit.render_metrics()[1].decode()
    )


def test_wsgi_app_reading_its_body_while_iterated_still_gets_a_413() -> None:
    """A generator app that calls start_response and reads lazily is refused cleanly."""

    def lazy(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes]:
        data = environ["wsgi.input"].read()
        start_response("200 OK", [])
        yield data

    app = WsgiMiddleware(lazy, Perfkit(PerfkitSettings()), guards=Guards(max_content_length=10))
    assert call(app, body=b"12345")[::2] == (200, b"12345")
    assert call(app, body=b"x" * 11)[0] == 413


def run_asgi(app: Any, path: str = "/x", chunks: tuple[bytes, ...] = ()) -> list[dict[str, Any]]:
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks or (b"",))
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    scope = {"type": "http", "method": "POST", "path": path, "headers": [],
             "client": ("192.0.2.9", 5000)}  # fmt: skip
    asyncio.run(app(scope, receive, send))
    return sent


def test_asgi_app_answering_its_own_error_page_still_gives_413() -> None:
    """An ASGI app that catches the error and starts a 500 is replaced by the 413."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        try:
            while (await receive()).get("more_body"):
                pass
            status = 200
        except RequestBodyTooLarge:
            status = 500
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    wrapped = AsgiMiddleware(app, Perfkit(PerfkitSettings()), guards=Guards(max_content_length=8))
    assert run_asgi(wrapped, chunks=(b"1234", b"5678"))[0]["status"] == 200
    sent = run_asgi(wrapped, chunks=(b"1234", b"5678", b"9"))
    assert [m.get("status") for m in sent] == [413, None]
    assert b"request_too_large" in sent[1]["body"]


def test_exemptions_routes_and_prefix() -> None:
    """/health and the perfkit prefix are never limited; `exempt` prefixes and callables;
    a route's own limit replaces the global one; a None route limit exempts it."""
    kit = Perfkit(PerfkitSettings())
    guards = Guards(
        "2/minute",
        routes={"/login": "1/minute", "/static/*": None, "/items/{id}": "3/minute"},
        exempt=["/public"], headers=False,
    )  # fmt: skip
    app = WsgiMiddleware(ok_app, kit, guards=guards)
    assert [call(app, "/health")[0] for _ in range(5)] == [200] * 5
    assert [call(app, "/health/ready")[0] for _ in range(5)] == [200] * 5
    assert [call(app, "/perfkit/health/live")[0] for _ in range(5)] == [200] * 5
    assert [call(app, "/public/a")[0] for _ in range(5)] == [200] * 5
    assert [call(app, "/static/app.js")[0] for _ in range(5)] == [200] * 5
    assert [call(app, "/login")[0] for _ in range(2)] == [200, 429]
    assert [call(app, f"/items/{i}")[0] for i in range(4)] == [200, 200, 200, 429]
    assert [call(app, "/other")[0] for _ in range(3)] == [200, 200, 429]
    status, headers, _ = call(app, "/other")
    assert status == 429 and "retry-after" in headers and "ratelimit-limit" not in headers
    assert "ratelimit-limit" not in call(app, "/health")[1]
    snap = kit.snapshot()["guards"]
    assert snap["rate_limited"] == {"/login": 1, "/items/{id}": 1, "/other": 2}
    assert snap["top_limited_clients"][0] == {"client": "ip:192.0.2.1", "count": 4}
    callable_exempt = Guards("1/minute", exempt=lambda path: path.endswith(".css"))
    app2 = WsgiMiddleware(ok_app, Perfkit(PerfkitSettings()), guards=callable_exempt)
    assert [call(app2, "/a.css")[0] for _ in range(3)] == [200] * 3


def test_user_and_callable_keys() -> None:
    """key='user' counts per identified user (anonymous: per IP); a key function wins;
    key='user' without an identify hook is a ConfigError."""
    kit = Perfkit(PerfkitSettings())

    def identify(environ: dict[str, Any]) -> tuple[str | None, None]:
        return environ.get("HTTP_X_USER"), None

    app = WsgiMiddleware(ok_app, kit, identify=identify, guards=Guards("1/minute", key="user"))
    assert [call(app, HTTP_X_USER="ann")[0] for _ in range(2)] == [200, 429]
    assert call(app, HTTP_X_USER="bob")[0] == 200
    assert [call(app)[0] for _ in range(2)] == [200, 429]  # anonymous: the IP
    with pytest.raises(ConfigError, match="identify"):
        WsgiMiddleware(ok_app, Perfkit(PerfkitSettings()), guards=Guards("1/minute", key="user"))

    def by_token(environ: dict[str, Any]) -> str | None:
        return environ.get("HTTP_X_TOKEN")

    app3 = WsgiMiddleware(
        ok_app, Perfkit(PerfkitSettings()), guards=Guards("1/minute", key=by_token)
    )
    assert [call(app3, HTTP_X_TOKEN="t1")[0] for _ in range(2)] == [200, 429]
    assert call(app3, HTTP_X_TOKEN="t2")[0] == 200


def test_kit_guards_come_from_settings_and_report_everywhere() -> None:
    """kit.guards is None by default; from settings it is registered and shows up in the
    snapshot, /metrics, alert metrics, recommendations and the default rule."""
    assert Perfkit(PerfkitSettings()).guards is None
    kit = Perfkit(PerfkitSettings(rate_limit="1/minute", max_content_length=1000))
    app = WsgiMiddleware(ok_app, kit)  # no guards=: the kit's
    assert kit.guards is not None and kit.components["guards"] is kit.guards
    assert [call(app, "/api/x")[0] for _ in range(3)] == [200, 429, 429]
    assert kit.alert_metrics()["guards.rejection_rate"] == pytest.approx(66.6667)
    text = kit.render_metrics()[1].decode()
    assert 'app_rate_limited_total{endpoint="/api/x"} 2' in text
    assert "app_request_too_large_total 0" in text
    tips = guard_recommendations(kit.snapshot())
    assert tips and tips[0].startswith("1 client hit the rate limit on /api/x (2 requests")
    check = guard_alert_rules()[0].check(kit.alert_metrics(), firing=False)
    assert check.breached and check.severity == "critical"
    kit.reset()
    assert kit.snapshot()["guards"]["rate_limited"] == {}


def test_missing_limits_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the `limits` package a rate limit fails at set-up, naming perfkit[guards]."""
    for name in [m for m in sys.modules if m == "limits" or m.startswith("limits.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "limits", None)
    with pytest.raises(MissingDependencyError, match=r"perfkit\[guards\]"):
        WsgiMiddleware(ok_app, Perfkit(PerfkitSettings()), guards=Guards("1/second"))
    # a body-size limit alone needs no extra
    app = WsgiMiddleware(ok_app, Perfkit(PerfkitSettings()), guards=Guards(max_content_length=5))
    assert call(app, body=b"123456", CONTENT_LENGTH="6")[0] == 413


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """A redis-server of this test only: (url, start, stop)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = client.free_port()
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        procs.append(
            subprocess.Popen(
                [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(tmp_path)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip
        client.poll(lambda: _answers(port), f"redis-server on {port}")

    def stop() -> None:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        procs.clear()

    start()
    yield f"redis://127.0.0.1:{port}/0", start, stop
    stop()


def _answers(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), 0.2):
            return True
    except OSError:
        return False


def test_redis_outage_falls_back_per_process_and_recovers(
    own_redis: tuple[str, Callable[[], None], Callable[[], None]],
) -> None:
    """Counters in Redis; Redis stops: requests keep being answered from memory (none fail);
    Redis returns: the background probe switches back to Redis."""
    url, start, stop = own_redis
    kit = Perfkit(PerfkitSettings(redis_url=url, redis_namespace=f"t-{uuid.uuid4().hex}"))
    guards = Guards("3/minute")
    app = WsgiMiddleware(ok_app, kit, guards=guards)
    assert guards.limiter is not None
    guards.limiter.retry_interval = 0.05
    assert [call(app)[0] for _ in range(4)] == [200, 200, 200, 429]
    assert kit.snapshot()["guards"]["storage"] == "redis"
    stop()
    assert [call(app)[0] for _ in range(4)] == [200, 200, 200, 429]  # memory, fresh counters
    snap = kit.snapshot()["guards"]
    assert (snap["storage"], snap["fallbacks"]) == ("memory", 1)
    start()
    client.poll(lambda: (call(app), guards.stats.storage == "redis")[1], "the switch back")
    kit.stop()
    guards.stop()


@pytest.mark.parametrize("strategy", ["moving-window", "sliding-window-counter", "fixed-window"])
def test_redis_scripts_forgotten_by_the_server_are_reloaded_without_double_counting(
    own_redis: tuple[str, Callable[[], None], Callable[[], None]], strategy: str
) -> None:
    """After ``SCRIPT FLUSH`` (as after a Redis restart) the pipelined EVALSHA fails with
    NOSCRIPT: the hit is run again through the library's script object, counted once,
    and the figures read after it."""
    import redis

    from perfkit.guards import RateLimiter, parse_rate_limits

    url = own_redis[0]
    limiter = RateLimiter(strategy, url, f"t-{uuid.uuid4().hex}")
    conn = redis.Redis.from_url(url)
    try:
        specs = parse_rate_limits("5/minute")
        assert limiter.hit(specs, "*", "ip:a", True).remaining == 4
        conn.script_flush()
        second = limiter.hit(specs, "*", "ip:a", True)
        assert (second.allowed, second.remaining) == (True, 3)
        assert second.reset >= 1
        conn.script_flush()
        assert limiter.hit(specs, "*", "ip:a", False).allowed
        assert limiter.hit(specs, "*", "ip:a", True).remaining == 1
        assert limiter.storage == "redis"  # no fallback: NOSCRIPT is not an outage
    finally:
        conn.close()
        limiter.close()
