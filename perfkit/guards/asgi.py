"""The guards around an ASGI app (inside perfkit's timing, so rejections are measured too).

With Redis storage the rate-limit check is one synchronous Redis round trip
per limit on the event loop (the `limits` sync storage; bounded by the 0.25 s
socket timeout, and skipped entirely while Redis is down). It is not moved to
a thread on purpose: measured on loopback, ``asyncio.to_thread`` added about
as much wall time per request as the round trip itself (~0.19 ms on ~0.23 ms,
docs/benchmarks/guards.md), while a healthy Redis holds the loop for well
under a millisecond. A Redis far away (several ms per round trip) is the case
where the loop would suffer; `limits.aio` storages would be the way there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .body import LimitedReceive, declared_length
from .policy import Guards
from .responses import raw_ratelimit_headers, too_large, too_many_requests

__all__ = ["guard_asgi"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
DRAIN_LIMIT = 256 * 1024  # bytes of a refused body read and dropped, so the client sees the 413


def _header(scope: Scope, name: bytes) -> bytes | None:
    found = [value for key, value in scope.get("headers") or () if key.lower() == name]
    return b",".join(found) if found else None


async def _reply(send: Send, answer: tuple[int, Any, bytes]) -> None:
    status, headers, body = answer
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _drain(receive: Receive, amount: int) -> None:
    """Read and drop up to `amount` body bytes (see the WSGI twin for why)."""
    while amount > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        amount -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def guard_asgi(guards: Guards, app: ASGIApp, route_name: Callable[[Any], Any] | None) -> ASGIApp:
    """`app` behind the guards: 413 and 429 answered here, the rest passed on."""
    limit = guards.max_content_length
    header = b"forwarded" if guards.proxies.header == "forwarded" else b"x-forwarded-for"

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path") or "/"
        if path.startswith(guards.exempt_prefixes) or (
            guards.exempt_check is not None and guards.is_exempt(path)
        ):
            await app(scope, receive, send)
            return
        guards.stats.checked()
        limited: LimitedReceive | None = None
        if limit is not None:
            length = declared_length(_header(scope, b"content-length"))
            if length is not None and length > limit:
                guards.stats.rejected_too_large()
                if length <= limit + DRAIN_LIMIT:
                    await _drain(receive, length)
                await _reply(send, too_large(limit))
                return
            if length is None and scope.get("method") not in ("GET", "HEAD"):
                receive = limited = LimitedReceive(receive, limit)  # chunked or HTTP/2 bodies
        extra: list[tuple[bytes, bytes]] = []
        if guards.rate_limited:
            client = scope.get("client")
            forwarded = _header(scope, header)
            decision = guards.check_rate(
                scope, path, client[0] if client else None,
                None if forwarded is None else forwarded.decode("latin-1"), route_name,
            )  # fmt: skip
            if decision is not None:
                if not decision.allowed:
                    await _reply(send, too_many_requests(decision, guards.headers))
                    return
                if guards.headers:
                    extra = raw_ratelimit_headers(decision)
        if limited is None and not extra:
            await app(scope, receive, send)
            return
        await _run(guards, app, scope, receive, send, limited, extra)

    return guarded


async def _run(
    guards: Guards,
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    limited: LimitedReceive | None,
    extra: list[tuple[bytes, bytes]],
) -> None:
    """One request whose body may be cut or whose response gets ``RateLimit-*`` headers."""
    started = refused = False

    async def refuse() -> None:
        nonlocal refused
        refused = True
        guards.stats.rejected_too_large()
        assert limited is not None  # only called once the limited body was cut
        if not limited.complete:  # another receive() after the last body message would wait
            await _drain(limited.receive, DRAIN_LIMIT)  # for the client to disconnect
        await _reply(send, too_large(limited.limit))

    async def send_wrapper(message: Message) -> None:
        nonlocal started
        if refused:
            return  # the 413 went out instead of the app's response
        if message["type"] == "http.response.start":
            if limited is not None and limited.exceeded:
                await refuse()  # the app answered after its body was cut
                return
            started = True
            if extra:
                message = dict(message)  # never mutate the app's message
                message["headers"] = [*message.get("headers", ()), *extra]
        await send(message)

    try:
        await app(scope, receive, send_wrapper)
    except Exception:
        if limited is None or not limited.exceeded or started:
            raise
        if not refused:
            await refuse()  # the app failed on the cut body (RequestBodyTooLarge or its own)
