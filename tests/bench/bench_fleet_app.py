"""The bare WSGI app the fleet benchmark serves without perfkit."""

from __future__ import annotations

from typing import Any


def bare(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = b"worker"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
