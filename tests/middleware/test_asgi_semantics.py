"""ASGI 3 behaviour of the middleware, in-process (real servers: test_servers_asgi.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from perfkit import Perfkit
from perfkit.asgi import PerfkitMiddleware
from perfkit.context import current_request_id

Message = dict[str, Any]


def scope_for(
    path: str = "/", method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers or [],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


async def call(
    app: Any, scope: dict[str, Any], incoming: list[Message] | None = None
) -> list[Message]:
    default: list[Message] = [{"type": "http.request", "body": b"", "more_body": False}]
    queue = list(incoming if incoming is not None else default)
    sent: list[Message] = []

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"hello ", "more_body": True})
    await send({"type": "http.response.body", "body": b"world"})


def endpoints(kit: Perfkit) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in kit.snapshot()["requests"]["endpoints"]}


def test_http_is_timed_and_request_id_echoed() -> None:
    kit = Perfkit()
    app = PerfkitMiddleware(hello, kit)
    sent = asyncio.run(call(app, scope_for("/users/5", headers=[(b"x-request-id", b"req-9")])))
    start = sent[0]
    assert start["status"] == 200
    assert (b"x-request-id", b"req-9") in start["headers"]
    row = endpoints(kit)["GET /users/{id}"]
    assert row["count"] == 1 and row["bytes_sent"] == 11 and row["avg_ttfb"] is not None


def test_the_apps_messages_are_not_mutated() -> None:
    headers = [(b"content-type", b"text/plain")]
    start = {"type": "http.response.start", "status": 204, "headers": headers}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send(start)
        await send({"type": "http.response.body", "body": b""})

    asyncio.run(call(PerfkitMiddleware(app, Perfkit()), scope_for()))
    assert headers == [(b"content-type", b"text/plain")]


def test_exceptions_count_as_500_and_propagate_unchanged() -> None:
    error = LookupError("gone")

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise error

    kit = Perfkit()
    with pytest.raises(LookupError) as caught:
        asyncio.run(call(PerfkitMiddleware(app, kit), scope_for("/e")))
    assert caught.value is error
    assert endpoints(kit)["GET /e"]["statuses"] == {"500": 1}
    assert kit.snapshot()["requests"]["errors"] == {"LookupError": 1}
    assert kit.registry.in_progress == 0


def test_client_disconnect_before_the_end_is_499() -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        message = await receive()  # the client went away
        assert message["type"] == "http.disconnect"

    kit = Perfkit()
    asyncio.run(call(PerfkitMiddleware(app, kit), scope_for("/stream"), incoming=[]))
    assert endpoints(kit)["GET /stream"]["statuses"] == {"499": 1}


def test_lifespan_and_websocket_pass_through_untouched() -> None:
    seen: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["type"])
        message = await receive()
        await send({"type": f"{scope['type']}.echo", "got": message["type"]})

    kit = Perfkit()
    wrapped = PerfkitMiddleware(app, kit)

    async def drive(kind: str, first: str) -> list[Message]:
        sent: list[Message] = []

        async def receive() -> Message:
            return {"type": first}

        async def send(message: Message) -> None:
            sent.append(message)

        await wrapped({"type": kind, "asgi": {"version": "3.0"}, "path": "/ws"}, receive, send)
        return sent

    assert asyncio.run(drive("lifespan", "lifespan.startup")) == [
        {"type": "lifespan.echo", "got": "lifespan.startup"}
    ]
    assert asyncio.run(drive("websocket", "websocket.connect")) == [
        {"type": "websocket.echo", "got": "websocket.connect"}
    ]
    assert seen == ["lifespan", "websocket"]
    snap = kit.snapshot()["requests"]
    assert snap["summary"]["count"] == 0


def test_request_id_context_is_per_task() -> None:
    seen: dict[str, str | None] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await asyncio.sleep(0)  # let the other task interleave
        seen[scope["path"]] = current_request_id()
        await hello(scope, receive, send)

    wrapped = PerfkitMiddleware(app, Perfkit())

    async def both() -> None:
        await asyncio.gather(
            call(wrapped, scope_for("/a", headers=[(b"x-request-id", b"id-a")])),
            call(wrapped, scope_for("/b", headers=[(b"x-request-id", b"id-b")])),
        )

    asyncio.run(both())
    assert seen == {"/a": "id-a", "/b": "id-b"}


def test_perfkit_prefix_is_served_not_counted() -> None:
    kit = Perfkit()
    wrapped = PerfkitMiddleware(hello, kit)
    asyncio.run(call(wrapped, scope_for("/x")))
    sent = asyncio.run(
        call(
            wrapped,
            scope_for("/perfkit/metrics", headers=[(b"accept", b"application/openmetrics-text")]),
        )
    )
    assert sent[0]["status"] == 200
    assert (b"content-type", b"application/openmetrics-text; version=1.0.0; charset=utf-8") in sent[
        0
    ]["headers"]
    assert sent[1]["body"].endswith(b"# EOF\n")
    assert list(endpoints(kit)) == ["GET /x"]


def test_route_name_hook_and_identify() -> None:
    kit = Perfkit()
    wrapped = PerfkitMiddleware(
        hello,
        kit,
        route_name=lambda scope: "/items/{item_id}",
        identify=lambda scope: ("u1", None),
    )
    asyncio.run(call(wrapped, scope_for("/items/abc")))
    snap = kit.snapshot()["requests"]
    assert list(endpoints(kit)) == ["GET /items/{item_id}"]
    assert snap["users"][0]["id"] == "u1" and snap["organizations"] == []
