"""An app whose workers each start a kit with the admin listener (PERFKIT_ADMIN_PORT and
the rest from the environment); the app itself answers every path with its own text."""

from __future__ import annotations

import os
from typing import Any

from perfkit import Perfkit, PerfkitSettings
from perfkit.asgi import PerfkitMiddleware as AsgiMiddleware
from perfkit.wsgi import PerfkitMiddleware as WsgiMiddleware

kit = Perfkit(PerfkitSettings.from_env())
kit.start()


def _wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = f"app {os.getpid()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


async def _asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = f"app {os.getpid()}".encode()
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/plain")],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})


wsgi_app = WsgiMiddleware(_wsgi, kit)
asgi_app = AsgiMiddleware(_asgi, kit)
