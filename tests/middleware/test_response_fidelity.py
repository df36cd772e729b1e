"""The middleware sends what the app sends, plus one X-Request-ID, and records the right status.

In-process checks of each rule; tests/servers/ compares real servers byte for byte.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from perfkit import Perfkit
from perfkit.asgi import PerfkitMiddleware as AsgiMiddleware
from perfkit.wsgi import PerfkitMiddleware as WsgiMiddleware

StartResponse = Callable[..., Any]
Message = dict[str, Any]

SHARED_HEADERS = [("Content-Type", "text/plain")]  # an app's module-level constant


def environ_for(path: str, method: str = "GET") -> dict[str, Any]:
    environ: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": method}
    setup_testing_defaults(environ)
    return environ


class Server:
    """A start_response that keeps the header lists it was given."""

    def __init__(self) -> None:
        self.headers: list[Any] = []

    def __call__(self, status: str, headers: Any, exc_info: Any = None) -> Any:
        self.headers.append(headers)
        return lambda data: None


def statuses(kit: Perfkit, key: str) -> dict[str, int]:
    rows = {row["key"]: row for row in kit.snapshot()["requests"]["endpoints"]}
    return dict(rows[key]["statuses"])


def recorded_ids(kit: Perfkit) -> list[str]:
    ids: list[str] = []
    kit.request_hooks.append(lambda record: ids.append(record.request_id))
    return ids


def request_ids(headers: Iterable[tuple[Any, Any]]) -> list[Any]:
    return [value for name, value in headers if name.lower() in ("x-request-id", b"x-request-id")]


# --- WSGI ---------------------------------------------------------------------------------


def test_wsgi_leaves_the_apps_header_list_alone() -> None:
    """An app reusing one module-level list: it never grows, each response has one id."""
    before = list(SHARED_HEADERS)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", SHARED_HEADERS)
        return [b"hi"]

    wrapped, server = WsgiMiddleware(app, Perfkit()), Server()
    for _ in range(3):
        b"".join(wrapped(environ_for("/shared"), server))
    assert before == SHARED_HEADERS
    assert [len(request_ids(sent)) for sent in server.headers] == [1, 1, 1]
    assert all(sent is not SHARED_HEADERS for sent in server.headers)


@pytest.mark.parametrize("name", ["X-Request-ID", "x-request-id", "X-REQUEST-ID"])
def test_wsgi_apps_own_request_id_is_the_only_one(name: str) -> None:
    """The app's own X-Request-ID (any case) goes out alone and is the id recorded."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [(name, "app-chosen-7"), ("Content-Type", "text/plain")])
        return [b"hi"]

    kit, server = Perfkit(), Server()
    ids = recorded_ids(kit)
    b"".join(WsgiMiddleware(app, kit)(environ_for("/own", method="GET"), server))
    assert request_ids(server.headers[0]) == ["app-chosen-7"]
    assert ids == ["app-chosen-7"]


def test_wsgi_an_insane_app_id_is_sent_but_not_recorded() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("X-Request-Id", "has spaces")])
        return [b"hi"]

    kit, server = Perfkit(), Server()
    ids = recorded_ids(kit)
    b"".join(WsgiMiddleware(app, kit)(environ_for("/own"), server))
    assert request_ids(server.headers[0]) == ["has spaces"]
    assert ids and ids[0] != "has spaces"


def test_wsgi_result_length_is_the_apps() -> None:
    """A list stays a list (granian frames lists apart), a sized result keeps its len()."""

    def listed(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [b"hello"]

    def tupled(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return (b"a", b"b")

    def generated(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"x"

    kit = Perfkit()
    one = WsgiMiddleware(listed, kit)(environ_for("/l"), Server())
    assert isinstance(one, list) and len(one) == 1
    assert b"".join(one) == b"hello"  # what granian does with a list: still counted
    two = WsgiMiddleware(tupled, kit)(environ_for("/t"), Server())
    assert len(two) == 2 and not isinstance(two, list)  # type: ignore[arg-type]
    assert list(two) == [b"a", b"b"]
    gen = WsgiMiddleware(generated, kit)(environ_for("/g"), Server())
    assert not hasattr(gen, "__len__")
    assert list(gen) == [b"x"]
    rows = {row["key"]: row for row in kit.snapshot()["requests"]["endpoints"]}
    assert rows["GET /l"]["bytes_sent"] == 5 and rows["GET /t"]["bytes_sent"] == 2
    assert kit.registry.in_progress == 0


def streaming(environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    for _ in range(10):
        yield b"chunk"


@pytest.mark.parametrize(("method", "recorded"), [("HEAD", "200"), ("GET", "499")])
def test_wsgi_closed_after_the_first_chunk(method: str, recorded: str) -> None:
    """granian closes a HEAD body after one chunk: complete; a GET cut short is 499."""
    kit = Perfkit()
    body = WsgiMiddleware(streaming, kit)(environ_for("/s", method), Server())
    next(iter(body))
    body.close()  # type: ignore[attr-defined]
    assert statuses(kit, f"{method} /s") == {recorded: 1}


# --- ASGI ---------------------------------------------------------------------------------


async def call(
    app: Any, method: str = "GET", disconnect_after_start: bool = False
) -> list[Message]:
    sent: list[Message] = []
    started = asyncio.Event()

    async def receive() -> Message:
        if disconnect_after_start:
            await started.wait()
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.start":
            started.set()

    scope = {"type": "http", "method": method, "path": "/a", "headers": [], "query_string": b""}
    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize("name", [b"X-Request-ID", b"x-request-id"])
def test_asgi_apps_own_request_id_is_the_only_one(name: bytes) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(name, b"app-9")]})
        await send({"type": "http.response.body", "body": b"ok"})

    kit = Perfkit()
    ids = recorded_ids(kit)
    sent = asyncio.run(call(AsgiMiddleware(app, kit)))
    assert request_ids(sent[0]["headers"]) == [b"app-9"]
    assert ids == ["app-9"]


def test_asgi_head_is_complete_once_its_headers_are_sent() -> None:
    """granian's ASGI sends http.disconnect right after a HEAD response starts."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        assert (await receive())["type"] == "http.disconnect"  # a streaming app stops here

    kit = Perfkit()
    asyncio.run(call(AsgiMiddleware(app, kit), "HEAD", disconnect_after_start=True))
    asyncio.run(call(AsgiMiddleware(app, kit), "GET", disconnect_after_start=True))
    assert statuses(kit, "HEAD /a") == {"200": 1}
    assert statuses(kit, "GET /a") == {"499": 1}


def test_asgi_app_cancelled_after_the_client_left_is_499() -> None:
    """Starlette's TestClient cancels a stream closed unread: a 499, not a CancelledError."""
    from starlette.applications import Starlette
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    with warnings.catch_warnings():
        # starlette >= 1 asks for httpx2 behind its TestClient; httpx does the same job here
        warnings.filterwarnings("ignore", message=".*httpx2.*")
        from starlette.testclient import TestClient

    async def endless() -> Any:
        while True:
            yield b"data\n"
            await asyncio.sleep(0)

    async def stream(request: Any) -> StreamingResponse:
        return StreamingResponse(endless())

    kit = Perfkit()
    app = AsgiMiddleware(Starlette(routes=[Route("/stream", stream)]), kit)
    with TestClient(app) as client, client.stream("GET", "/stream") as response:
        assert response.status_code == 200
    assert statuses(kit, "GET /stream") == {"499": 1}
    assert kit.snapshot()["requests"]["errors"] == {}
    assert kit.registry.in_progress == 0
