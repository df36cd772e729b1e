"""A service as a fleet runs it: every worker imports this, wraps its app, starts its kit.

The Redis store comes from the environment (PERFKIT_REDIS_URL, ...). Each worker
also writes every duration perfkit recorded to FLEET_DURATIONS_DIR/<pid>.txt, so
the test can compute exact quantiles from the very same values.
"""

from __future__ import annotations

import os
from typing import Any

from perfkit import Perfkit, PerfkitSettings
from perfkit.asgi import PerfkitMiddleware as AsgiMiddleware
from perfkit.metrics.record import RequestRecord
from perfkit.wsgi import PerfkitMiddleware as WsgiMiddleware

kit = Perfkit(PerfkitSettings.from_env())
_files: dict[int, Any] = {}


def _keep_duration(record: RequestRecord) -> None:
    directory = os.environ.get("FLEET_DURATIONS_DIR")
    if not directory:
        return
    pid = os.getpid()
    handle = _files.get(pid)
    if handle is None:
        handle = _files[pid] = open(os.path.join(directory, f"{pid}.txt"), "a", buffering=1)  # noqa: SIM115
    handle.write(f"{record.duration!r}\n")


kit.request_hooks.append(_keep_duration)
kit.start()


def _wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = f"worker {os.getpid()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


async def _asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = f"worker {os.getpid()}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": body})


wsgi_app = WsgiMiddleware(_wsgi, kit)
asgi_app = AsgiMiddleware(_asgi, kit)
