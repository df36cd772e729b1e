"""Body-size limits: refuse a declared oversize body, cut a streamed one at the limit.

A body with a ``Content-Length`` above the limit is refused before the app
runs. A body without one (chunked uploads) is counted as the app reads it:
the read that would cross the limit raises `RequestBodyTooLarge` instead of
returning data, so the app never sees more than `limit` bytes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

from ..errors import PerfkitError

__all__ = ["LimitedInput", "LimitedReceive", "RequestBodyTooLarge", "declared_length"]

_CHUNK = 65_536


class RequestBodyTooLarge(PerfkitError):
    """The request body is larger than the configured maximum; the client gets a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"request body exceeds the limit of {limit} bytes (max_content_length); "
            "the client is answered 413"
        )
        self.limit = limit


def declared_length(value: str | bytes | None) -> int | None:
    """The ``Content-Length`` as an int; None when absent or not a plain non-negative integer."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if not text.isdigit() or len(text) > 19:
        return None
    return int(text)


class LimitedInput:
    """A ``wsgi.input`` that counts what is read and raises past `limit` bytes."""

    def __init__(self, stream: Any, limit: int) -> None:
        self.stream = stream
        self.limit = limit
        self.consumed = 0
        self.exceeded = False

    def _take(self, data: bytes) -> bytes:
        self.consumed += len(data)
        if self.consumed > self.limit:
            self.exceeded = True
            self.consumed = self.limit
            raise RequestBodyTooLarge(self.limit)
        return data

    def _check(self) -> None:
        if self.exceeded:
            raise RequestBodyTooLarge(self.limit)

    def read(self, size: int | None = -1) -> bytes:
        self._check()
        left = self.limit - self.consumed
        if size is not None and size >= 0:
            # one byte more than allowed tells "exactly at the limit" from "over it"
            return self._take(self.stream.read(min(size, left + 1)))
        parts: list[bytes] = []
        while True:
            data = self.stream.read(min(_CHUNK, self.limit - self.consumed + 1))
            if not data:
                return b"".join(parts)
            parts.append(self._take(data))

    def readline(self, size: int | None = -1) -> bytes:
        self._check()
        left = self.limit - self.consumed + 1
        if size is not None and size >= 0:
            left = min(left, size)
        return self._take(self.stream.readline(left))

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self) -> Iterator[bytes]:
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def close(self) -> None:
        close = getattr(self.stream, "close", None)
        if close is not None:
            close()


Message = MutableMapping[str, Any]


class LimitedReceive:
    """An ASGI ``receive`` that counts body bytes and raises past `limit` bytes."""

    def __init__(self, receive: Callable[[], Awaitable[Message]], limit: int) -> None:
        self.receive = receive
        self.limit = limit
        self.consumed = 0
        self.exceeded = False
        self.complete = False  # the last body message was received (nothing left to drain)

    async def __call__(self) -> Message:
        if self.exceeded:
            raise RequestBodyTooLarge(self.limit)
        message = await self.receive()
        if message["type"] == "http.request":
            self.complete = not message.get("more_body", False)
            self.consumed += len(message.get("body", b""))
            if self.consumed > self.limit:
                self.exceeded = True
                raise RequestBodyTooLarge(self.limit)  # the crossing chunk is never handed over
        return message
