"""Sample WSGI and ASGI apps behind perfkit's guards, configured from ``PERFKIT_*`` variables.

Serve with ``gunicorn guards_sample_app:wsgi_app`` or ``uvicorn guards_sample_app:asgi_app``
(this directory on ``PYTHONPATH``). Endpoints:

    /plain      200, the worker's pid as the body
    /upload     reads the body in 1000-byte reads and answers the byte count; when the
                guard cuts the body, the bytes the app saw go to the gauge ``upload_seen``
                (``app_custom_value{name="upload_seen"}`` on /perfkit/metrics), then the
                error is re-raised
    /health     200 (always exempt from the guards)
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from perfkit import Perfkit, PerfkitSettings
from perfkit.asgi import PerfkitMiddleware as AsgiMiddleware
from perfkit.guards import RequestBodyTooLarge
from perfkit.wsgi import PerfkitMiddleware as WsgiMiddleware

__all__ = ["asgi_app", "wsgi_app"]

Message = MutableMapping[str, Any]

kit = Perfkit(PerfkitSettings.from_env())


def _wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO") or "/"
    if path == "/upload":
        stream, seen = environ["wsgi.input"], 0
        try:
            while True:
                data = stream.read(1000)
                if not data:
                    break
                seen += len(data)
        except RequestBodyTooLarge:
            kit.set_gauge("upload_seen", seen)
            raise
        body = str(seen).encode()
    else:
        body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


async def _asgi(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = str(os.getpid()).encode()
    if scope["path"] == "/upload":
        seen, more = 0, True
        try:
            while more:
                message = await receive()
                seen += len(message.get("body", b""))
                more = message.get("more_body", False)
        except RequestBodyTooLarge:
            kit.set_gauge("upload_seen", seen)
            raise
        body = str(seen).encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


wsgi_app = WsgiMiddleware(_wsgi, kit)
asgi_app = AsgiMiddleware(_asgi, kit)
