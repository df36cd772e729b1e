"""PEP 3333 behaviour of the WSGI middleware, in-process (real servers: test_servers_wsgi.py)."""

from __future__ import annotations

import io
import logging
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.util import FileWrapper, setup_testing_defaults
from wsgiref.validate import validator

import pytest

from perfkit import Perfkit, PerfkitSettings
from perfkit.context import current_request_id
from perfkit.metrics.registry import Registry
from perfkit.wsgi import PerfkitMiddleware
from tests.conftest import CALM_SYSTEM_LEVELS

StartResponse = Callable[..., Any]


def environ_for(path: str = "/", method: str = "GET", **extra: Any) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "PATH_INFO": path,
        "REQUEST_METHOD": method,
        "QUERY_STRING": "",
        "SCRIPT_NAME": "",
    }
    setup_testing_defaults(environ)
    environ.update(extra)
    return environ


class Recorder:
    """A start_response that keeps what it was given."""

    def __init__(self) -> None:
        self.status: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.written: list[bytes] = []

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if exc_info and self.status is not None:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status, self.headers = status, headers
        return self.written.append


def run(app: Any, environ: dict[str, Any]) -> tuple[Recorder, bytes]:
    recorder = Recorder()
    body = app(environ, recorder)
    try:
        data = b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()
    return recorder, b"".join(recorder.written) + data


def endpoint(kit: Perfkit, key: str) -> dict[str, Any]:
    rows = {row["key"]: row for row in kit.snapshot()["requests"]["endpoints"]}
    return rows[key]


def hello(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello ", b"world"]


class ClosingBody:
    """A body iterable that remembers whether close() was called."""

    def __init__(self, chunks: list[bytes], fail_at: int | None = None) -> None:
        self.chunks = chunks
        self.fail_at = fail_at
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        for i, chunk in enumerate(self.chunks):
            if i == self.fail_at:
                raise RuntimeError("broken mid-body")
            yield chunk

    def close(self) -> None:
        self.closed = True


def test_passes_wsgiref_validator_on_both_sides() -> None:
    kit = Perfkit()
    app = validator(PerfkitMiddleware(validator(hello), kit))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recorder, body = run(app, environ_for("/users/42"))
    assert body == b"hello world"
    assert recorder.status == "200 OK"
    row = endpoint(kit, "GET /users/{id}")
    assert row["count"] == 1 and row["bytes_sent"] == 11 and row["statuses"] == {"200": 1}


def test_request_id_is_echoed_or_generated() -> None:
    app = PerfkitMiddleware(hello, Perfkit())
    recorder, _ = run(app, environ_for(HTTP_X_REQUEST_ID="abc-123"))
    assert ("X-Request-ID", "abc-123") in recorder.headers
    recorder, _ = run(app, environ_for(HTTP_X_REQUEST_ID="bad id\nwith newline"))
    generated = dict(recorder.headers)["X-Request-ID"]
    assert generated != "bad id\nwith newline" and len(generated) >= 16
    _, _ = run(app, environ_for())
    assert current_request_id() is None  # nothing leaks after the request


def test_request_id_is_visible_while_the_body_is_produced() -> None:
    seen: list[str | None] = []

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        seen.append(current_request_id())
        start_response("200 OK", [])

        def body() -> Iterator[bytes]:
            seen.append(current_request_id())
            yield b"x"

        return body()

    run(PerfkitMiddleware(app, Perfkit()), environ_for(HTTP_X_REQUEST_ID="rid-1"))
    assert seen == ["rid-1", "rid-1"]
    assert current_request_id() is None


@pytest.mark.parametrize("fail_at", [None, 1])
def test_close_is_always_called(fail_at: int | None) -> None:
    body = ClosingBody([b"a", b"b", b"c"], fail_at=fail_at)
    kit = Perfkit()

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return body

    wrapped = PerfkitMiddleware(app, kit)
    if fail_at is None:
        run(wrapped, environ_for("/x"))
    else:
        with pytest.raises(RuntimeError, match="broken mid-body"):
            run(wrapped, environ_for("/x"))
    assert body.closed
    row = endpoint(kit, "GET /x")
    assert row["statuses"] == ({"200": 1} if fail_at is None else {"500": 1})
    if fail_at is not None:
        assert kit.snapshot()["requests"]["errors"] == {"RuntimeError": 1}


def test_partial_consumption_is_a_client_disconnect() -> None:
    """A server that stops iterating and closes early (client gone) records 499."""
    body = ClosingBody([b"a"] * 10)
    kit = Perfkit()

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return body

    result = PerfkitMiddleware(app, kit)(environ_for("/stream"), Recorder())
    iterator = iter(result)
    next(iterator)
    result.close()  # type: ignore[attr-defined]
    assert body.closed
    assert endpoint(kit, "GET /stream")["statuses"] == {"499": 1}


def test_app_exception_passes_through_unchanged() -> None:
    class Boom(Exception):
        pass

    error = Boom("original")

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        raise error

    kit = Perfkit()
    with pytest.raises(Boom) as caught:
        PerfkitMiddleware(app, kit)(environ_for("/boom"), Recorder())
    assert caught.value is error
    snap = kit.snapshot()["requests"]
    assert snap["errors"] == {"Boom": 1}
    assert snap["summary"]["errors"] == 1
    assert kit.registry.in_progress == 0


def test_start_response_with_exc_info_and_write_callable() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"early ")
        try:
            raise ValueError("late failure")
        except ValueError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        return [b"error page"]

    kit = Perfkit()
    recorder = Recorder()
    recorder.status = None
    body = PerfkitMiddleware(app, kit)(environ_for("/w"), _ReplacingRecorder(recorder))
    data = b"".join(body)
    body.close()  # type: ignore[attr-defined]
    assert b"".join(recorder.written) + data == b"early error page"
    row = endpoint(kit, "GET /w")
    assert row["statuses"] == {"500": 1} and row["bytes_sent"] == len(b"early error page")


class _ReplacingRecorder:
    """Allows a second start_response with exc_info (headers not yet sent)."""

    def __init__(self, inner: Recorder) -> None:
        self.inner = inner

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        self.inner.status, self.inner.headers = status, headers
        return self.inner.written.append


def test_file_wrapper_is_kept_for_the_server() -> None:
    """A wsgi.file_wrapper response is timed through close() and sizes come from the file."""
    kit = Perfkit()

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Length", "6")])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"abcdef"), 2)

    environ = environ_for("/file", **{"wsgi.file_wrapper": FileWrapper})
    result = PerfkitMiddleware(app, kit)(environ, Recorder())
    assert isinstance(result, FileWrapper)  # the server can still use sendfile
    assert b"".join(result) == b"abcdef"
    result.close()
    assert endpoint(kit, "GET /file")["bytes_sent"] == 6


def test_perfkit_paths_are_served_and_not_counted() -> None:
    kit = Perfkit(PerfkitSettings(**CALM_SYSTEM_LEVELS))
    app = PerfkitMiddleware(hello, kit)
    run(app, environ_for("/a"))
    recorder, body = run(app, environ_for("/perfkit/metrics"))
    assert recorder.status == "200 OK"
    assert b'app_requests_total{method="GET",endpoint="/a",status="200"} 1' in body
    recorder, body = run(app, environ_for("/perfkit/health"))
    # 200 for healthy and warning alike: a loaded test machine may be past the CPU warning
    assert recorder.status == "200 OK" and b'"live":true' in body
    recorder, _ = run(app, environ_for("/perfkit/nope"))
    assert recorder.status is not None and recorder.status.startswith("404")
    recorder, _ = run(app, environ_for("/perfkit/metrics", method="POST"))
    assert recorder.status is not None and recorder.status.startswith("405")
    assert ("Allow", "GET") in recorder.headers
    assert [row["key"] for row in kit.snapshot()["requests"]["endpoints"]] == ["GET /a"]


def test_excluded_paths_pass_through_uncounted() -> None:
    kit = Perfkit()
    app = PerfkitMiddleware(hello, kit, exclude=["/static"])
    run(app, environ_for("/static/app.js"))
    run(app, environ_for("/page"))
    assert [row["key"] for row in kit.snapshot()["requests"]["endpoints"]] == ["GET /page"]


def test_hooks_name_routes_and_identify_users() -> None:
    kit = Perfkit()
    app = PerfkitMiddleware(
        hello,
        kit,
        route_name=lambda environ: (
            "/custom/<slug>" if environ["PATH_INFO"].startswith("/c/") else None
        ),
        identify=lambda environ: (environ.get("HTTP_X_USER"), "acme"),
    )
    run(app, environ_for("/c/hello-there", HTTP_X_USER="alice"))
    run(app, environ_for("/other"))
    snap = kit.snapshot()["requests"]
    assert {row["key"] for row in snap["endpoints"]} == {"GET /custom/<slug>", "GET /other"}
    assert [(u["id"], u["count"]) for u in snap["users"]] == [("alice", 1)]
    assert [(o["id"], o["count"]) for o in snap["organizations"]] == [("acme", 2)]


def test_unmatched_404s_collapse_into_one_series() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("404 Not Found", [])
        return [b"no"]

    kit = Perfkit()
    wrapped = PerfkitMiddleware(app, kit)
    for i in range(50):
        run(wrapped, environ_for(f"/random-{i}-page"))
    assert [row["key"] for row in kit.snapshot()["requests"]["endpoints"]] == ["GET __not_found__"]


class FailingRegistry(Registry):
    """Fault injection: a store that fails on every write (cannot be caused otherwise)."""

    def record_request(self, *args: Any, **kwargs: Any) -> None:
        raise OSError("store is down")

    def begin_request(self) -> None:
        raise OSError("store is down")


def test_a_failing_store_never_hurts_the_request(caplog: pytest.LogCaptureFixture) -> None:
    kit = Perfkit(registry=FailingRegistry())
    app = PerfkitMiddleware(hello, kit)
    with caplog.at_level(logging.ERROR, logger="perfkit"):
        for _ in range(20):
            recorder, body = run(app, environ_for("/ok"))
            assert recorder.status == "200 OK" and body == b"hello world"
    internal = [r for r in caplog.records if "perfkit internal error" in r.getMessage()]
    assert 1 <= len(internal) <= 2  # rate-limited: once per kind, not once per request
    assert kit.errors.counts["record"] == 20
    assert b'perfkit_internal_errors_total{kind="record"} 20' in kit.render_metrics()[1]


@pytest.mark.parametrize(
    ("status", "recorded"),
    [("200", "200"), ("abc OK", "500"), ("2000 Weird", "500")],
)
def test_bad_status_lines_are_recorded_not_fatal(status: str, recorded: str) -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, [])
        return [b"x"]

    kit = Perfkit()
    recorder, _ = run(PerfkitMiddleware(app, kit), environ_for("/s"))
    assert recorder.status == status  # passed to the server as the app gave it
    assert endpoint(kit, "GET /s")["statuses"] == {recorded: 1}


def test_headers_of_the_wrong_type_do_not_crash_perfkit() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", (("Content-Type", "text/plain"),))
        return [b"x"]

    kit = Perfkit()
    recorder, body = run(PerfkitMiddleware(app, kit), environ_for("/h"))
    assert body == b"x" and recorder.status == "200 OK"


def test_non_iterable_result_is_reported_and_recorded() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Any:
        start_response("200 OK", [])
        return 42

    kit = Perfkit()
    with pytest.raises(TypeError):
        PerfkitMiddleware(app, kit)(environ_for("/n"), Recorder())
    assert endpoint(kit, "GET /n")["statuses"] == {"500": 1}


def test_odd_methods_and_strange_paths() -> None:
    kit = Perfkit(PerfkitSettings(max_path_length=64))
    app = PerfkitMiddleware(hello, kit)
    run(app, environ_for("/x", method="BREW"))
    run(
        app, environ_for("/caf\xc3\xa9/\xff\xfe")
    )  # UTF-8 and invalid bytes, as PEP 3333 gives them
    run(app, environ_for("/" + "a" * 100_000))
    keys = {row["key"] for row in kit.snapshot()["requests"]["endpoints"]}
    assert "OTHER /x" in keys
    assert any(key.startswith("GET /café/") for key in keys)
    assert all(len(key) < 80 for key in keys)
