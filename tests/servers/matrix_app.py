"""The apps every server in the matrix runs: bare, or wrapped by perfkit when MATRIX_WRAPPED=1.

One WSGI app (`wsgi_app`) and one ASGI app (`asgi_app`) with the same routes:

- ``/ready``: a plain answer, polled until the server is up;
- ``/shared``: headers from one module-level list that every response reuses;
- ``/one``: a one-item body with no Content-Length (the server chooses the framing),
  and ``/tuple`` the same as a tuple (WSGI; the ASGI app answers it as ``/ready``);
- ``/stream``: eight chunks with no Content-Length (a generator / ``more_body``);
- ``/endless``: chunks until the client leaves (bounded, in case a server never says);
- ``/hang`` (ASGI): starts a response, then sleeps, blind to the client (daphne cancels it).

The ASGI streams watch for ``http.disconnect`` the way Starlette's
StreamingResponse does, so a server that reports one early is seen.
Run as a script, it serves the WSGI app with wsgiref: ``matrix_app.py PORT``.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

SHARED_HEADERS = [("Content-Type", "text/plain"), ("Content-Length", "6")]
SHARED_ASGI_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"6")]
CHUNK = b"0123456789abcdef" * 1024  # 16 KiB
STREAM_CHUNKS = [b"chunk %d;" % i for i in range(8)]
ENDLESS_LIMIT = 4096  # 64 MiB at most, if a server never reports the client gone


def _bare_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/shared":
        start_response("200 OK", SHARED_HEADERS)
        return [b"shared"]
    # a new list for every other response: wsgiref adds Content-Length to the list it gets
    if path == "/one":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello"]
    if path == "/tuple":  # sized, not a list: servers that ask len() see 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"hello",)
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter(STREAM_CHUNKS)
    if path == "/endless":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return _endless()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"ready"]


def _endless() -> Iterator[bytes]:
    for _ in range(ENDLESS_LIMIT):
        yield CHUNK


async def _bare_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    path = scope["path"]
    if path == "/shared":
        await send({"type": "http.response.start", "status": 200, "headers": SHARED_ASGI_HEADERS})
        await send({"type": "http.response.body", "body": b"shared"})
    elif path == "/one":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-one", b"1")]})
        await send({"type": "http.response.body", "body": b"hello"})
    elif path == "/stream":
        await _stream(receive, send, STREAM_CHUNKS)
    elif path == "/endless":
        await _stream(receive, send, (CHUNK for _ in range(ENDLESS_LIMIT)))
    elif path == "/hang":  # never looks at the client: only a server that cancels it stops it
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"started", "more_body": True})
        await asyncio.sleep(30)
        await send({"type": "http.response.body", "body": b""})
    else:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ready"})


async def _stream(receive: Any, send: Any, chunks: Iterable[bytes]) -> None:
    """Send `chunks` until done or until the client is gone (then stop, as frameworks do)."""
    if (await receive())["type"] == "http.disconnect":  # else the (empty) request body
        return

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(disconnected())
    try:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for chunk in chunks:
            if watcher.done():
                return  # the client left: no final message
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await asyncio.sleep(0)  # let the watcher see a disconnect between chunks
        await send({"type": "http.response.body", "body": b""})
    finally:
        watcher.cancel()


def _wrap() -> tuple[Any, Any]:
    if os.environ.get("MATRIX_WRAPPED") != "1":
        return _bare_wsgi, _bare_asgi
    from perfkit import Perfkit, PerfkitSettings
    from perfkit.asgi import PerfkitMiddleware as AsgiMiddleware
    from perfkit.wsgi import PerfkitMiddleware as WsgiMiddleware

    # one worker per server: the memory store, and nothing written beside the tests
    settings = PerfkitSettings(
        metrics_public=True, metrics_store="memory", data_dir=os.environ["MATRIX_DATA_DIR"]
    )
    kit = Perfkit(settings)
    return WsgiMiddleware(_bare_wsgi, kit), AsgiMiddleware(_bare_asgi, kit)


wsgi_app, asgi_app = _wrap()

if __name__ == "__main__":
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    class _Threaded(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class _Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # the test reads the responses, not the access log

    port = int(sys.argv[1])
    make_server("127.0.0.1", port, wsgi_app, _Threaded, _Quiet).serve_forever(0.05)
