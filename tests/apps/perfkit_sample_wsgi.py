"""A sample WSGI app wrapped by perfkit, for real servers (gunicorn, wsgiref).

Serve it with ``gunicorn --chdir tests/apps perfkit_sample_wsgi:app``; the
kit's API answers under ``/perfkit`` (``/perfkit/metrics`` shows the counts).

Endpoints:
    /plain              200 ``ok``
    /items/<id>         200, ids in the path (templated to ``/items/{id}``)
    /echo/<anything>    200, echoes the decoded path (odd bytes, long paths)
    /stream?chunks=&size=   200, the body in `chunks` chunks of `size` bytes
    /slow?ms=           200 after sleeping `ms` milliseconds (at most 5 s)
    /write              200, body sent through the legacy ``write()`` callable
    /boom               raises `SampleAppError`
    anything else       404
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

from perfkit import Perfkit, PerfkitSettings
from perfkit.wsgi import PerfkitMiddleware

__all__ = ["SampleAppError", "app", "kit", "make_app", "raw_app"]

StartResponse = Callable[..., Any]
MAX_CHUNKS = 100_000  # a bound, so a client that never leaves cannot keep a worker forever


class SampleAppError(RuntimeError):
    """What ``/boom`` raises."""


def _query_int(environ: dict[str, Any], name: str, default: int, high: int) -> int:
    values = parse_qs(environ.get("QUERY_STRING", "")).get(name)
    try:
        value = int(values[0]) if values else default
    except ValueError:
        value = default
    return max(0, min(value, high))


def _text(start_response: StartResponse, body: bytes, status: str = "200 OK") -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def _stream(chunks: int, size: int) -> Iterator[bytes]:
    chunk = b"x" * size
    for _ in range(chunks):
        yield chunk


def raw_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The app before perfkit wraps it."""
    path: str = environ.get("PATH_INFO") or "/"
    if path == "/plain":
        return _text(start_response, b"ok")
    if path.startswith("/items/") and path.count("/") == 2:
        return _text(start_response, b"item " + path[7:].encode("latin-1"))
    if path.startswith("/echo/"):
        return _text(start_response, path.encode("latin-1"))
    if path == "/stream":
        chunks = _query_int(environ, "chunks", 3, MAX_CHUNKS)
        size = _query_int(environ, "size", 5, 1 << 20)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return _stream(chunks, size)
    if path == "/slow":
        time.sleep(_query_int(environ, "ms", 100, 5000) / 1000)  # the app is slow, on purpose
        return _text(start_response, b"slow")
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        write(b"through write()")
        return []
    if path == "/boom":
        raise SampleAppError("boom from the sample app")
    return _text(start_response, b"not found", "404 Not Found")


def make_app(kit: Perfkit | None = None) -> PerfkitMiddleware:
    """The sample app wrapped by perfkit (a kit from the environment when omitted)."""
    return PerfkitMiddleware(raw_app, kit=kit or Perfkit(PerfkitSettings.from_env()))


app = make_app()  # what servers import: ``perfkit_sample_wsgi:app``
kit = app.kit
