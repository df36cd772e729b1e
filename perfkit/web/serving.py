"""WSGI and ASGI adapters of the sans-IO API (`perfkit.web.api.handle`)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from .api import handle
from .context import MAX_BODY, ApiRequest
from .host import ServedKit

__all__ = ["asgi_api", "wsgi_api"]


def wsgi_api(
    kit: ServedKit, environ: dict[str, Any], start_response: Callable[..., Any], path: str
) -> Iterable[bytes]:
    """Serve one API request from a WSGI environ; `path` is relative to the prefix."""
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):  # not UTF-8: keep as given
        path = path.encode("latin-1").decode("utf-8")  # PEP 3333 carries the bytes as latin-1
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if "CONTENT_TYPE" in environ:
        headers["content-type"] = environ["CONTENT_TYPE"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(min(length, MAX_BODY + 1)) if length > 0 else b""
    request = ApiRequest(
        environ.get("REQUEST_METHOD", "GET"),
        path,
        environ.get("QUERY_STRING", ""),
        headers,
        body,
        environ.get("REMOTE_ADDR"),
    )
    response = handle(kit, request)
    start_response(f"{response.status} {_reason(response.status)}", response.all_headers())
    return [response.body]


async def asgi_api(
    kit: ServedKit,
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
    send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
    path: str,
) -> None:
    """Serve one API request from an ASGI http scope; `path` is relative to the prefix."""
    headers = {
        k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
    }
    body = b""
    if scope.get("method") in ("POST", "PUT", "PATCH", "DELETE"):
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            if len(body) > MAX_BODY or not message.get("more_body"):
                break
    client = scope.get("client")
    request = ApiRequest(
        scope.get("method", "GET"),
        path,
        scope.get("query_string", b"").decode("latin-1"),
        headers,
        body,
        client[0] if client else None,
    )
    response = handle(kit, request)
    raw_headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.all_headers()
    ]
    await send({"type": "http.response.start", "status": response.status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": response.body})


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
