"""A sample pure-ASGI app wrapped by perfkit, for a real server (uvicorn).

Serve it with ``uvicorn --app-dir tests/apps perfkit_sample_asgi:app``; the
kit's API answers under ``/perfkit``.

Endpoints:
    /plain              200 ``ok``
    /items/<id>         200, ids in the path
    /echo/<anything>    200, echoes the path
    /stream?chunks=&size=   200, the body in chunks; stops when the client leaves
    /slow?ms=           200 after `ms` milliseconds (at most 5 s)
    /hold, /release     /hold answers once /release was called (or after 10 s)
    /lifespan           200 JSON: which lifespan events the app received
    /boom               raises `SampleAppError`
    /ws                 websocket: echoes each text message as ``echo:<text>``
    anything else       404
Lifespan: startup is remembered; on shutdown, when ``PERFKIT_SAMPLE_LIFESPAN_FILE``
is set, ``shutdown`` is written to that file.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from perfkit import Perfkit, PerfkitSettings
from perfkit.asgi import PerfkitMiddleware

__all__ = ["SampleAppError", "app", "kit", "make_app", "raw_app"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
MAX_CHUNKS = 100_000
HOLD_LIMIT = 10.0  # /hold never waits longer than this, whatever happens to /release

state: dict[str, bool] = {"startup": False, "shutdown": False}
_release: list[asyncio.Event] = []


class SampleAppError(RuntimeError):
    """What ``/boom`` raises."""


def _query_int(scope: MutableMapping[str, Any], name: str, default: int, high: int) -> int:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(name)
    try:
        value = int(values[0]) if values else default
    except ValueError:
        value = default
    return max(0, min(value, high))


async def _reply(send: Send, body: bytes, status: int = 200, kind: bytes = b"text/plain") -> None:
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _release_event() -> asyncio.Event:
    # created on first use, inside the server's event loop
    if not _release:
        _release.append(asyncio.Event())
    return _release[0]


async def _stream(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    chunks = _query_int(scope, "chunks", 3, MAX_CHUNKS)
    chunk = b"x" * _query_int(scope, "size", 5, 1 << 20)
    left = asyncio.Event()

    async def watch() -> None:
        # like Starlette's StreamingResponse: a disconnect stops the stream
        while (await receive())["type"] != "http.disconnect":
            pass
        left.set()

    watcher = asyncio.ensure_future(watch())
    try:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(chunks):
            if left.is_set():
                return  # the client went away: the response never completes
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await asyncio.sleep(0)  # let the watcher see a disconnect
        await send({"type": "http.response.body", "body": b""})
    finally:
        watcher.cancel()


async def _http(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    path: str = scope["path"]
    if path == "/plain":
        await _reply(send, b"ok")
    elif path.startswith("/items/") and path.count("/") == 2:
        await _reply(send, b"item " + path[7:].encode())
    elif path.startswith("/echo/"):
        await _reply(send, path.encode())
    elif path == "/stream":
        await _stream(scope, receive, send)
    elif path == "/slow":
        await asyncio.sleep(_query_int(scope, "ms", 100, 5000) / 1000)  # slow on purpose
        await _reply(send, b"slow")
    elif path == "/hold":
        event = _release_event()
        try:
            await asyncio.wait_for(event.wait(), HOLD_LIMIT)
        finally:
            event.clear()
        await _reply(send, b"released")
    elif path == "/release":
        _release_event().set()
        await _reply(send, b"ok")
    elif path == "/lifespan":
        body = {"startup": state["startup"], "shutdown": state["shutdown"]}
        await _reply(send, json.dumps(body).encode(), kind=b"application/json")
    elif path == "/boom":
        raise SampleAppError("boom from the sample app")
    else:
        await _reply(send, b"not found", 404)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            state["startup"] = True
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            state["shutdown"] = True
            marker = os.environ.get("PERFKIT_SAMPLE_LIFESPAN_FILE")
            if marker:
                with open(marker, "w", encoding="utf-8") as out:
                    out.write("shutdown")
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _websocket(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            text = message.get("text") or (message.get("bytes") or b"").decode()
            await send({"type": "websocket.send", "text": "echo:" + text})
        else:  # websocket.disconnect
            return


async def raw_app(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    """The app before perfkit wraps it."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
    elif scope["type"] == "websocket":
        await _websocket(receive, send)
    else:
        await _http(scope, receive, send)


def make_app(kit: Perfkit | None = None) -> PerfkitMiddleware:
    """The sample app wrapped by perfkit (a kit from the environment when omitted)."""
    return PerfkitMiddleware(raw_app, kit=kit or Perfkit(PerfkitSettings.from_env()))


app = make_app()  # what servers import: ``perfkit_sample_asgi:app``
kit = app.kit
