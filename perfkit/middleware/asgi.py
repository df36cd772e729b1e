"""Pure ASGI 3 middleware: times http requests until the final body message."""

from __future__ import annotations

from asyncio import CancelledError
from collections.abc import Awaitable, Callable, MutableMapping
from time import perf_counter
from typing import TYPE_CHECKING, Any

from ..context import organization_id_var, request_id_var, user_id_var
from ..kit import Perfkit, get_kit
from ..metrics.record import RequestRecord
from .core import CLIENT_CLOSED, RequestCore, is_sane_request_id
from .framework_routes import scope_route

if TYPE_CHECKING:
    from ..guards import Guards

__all__ = ["PerfkitMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class PerfkitMiddleware:
    """Wrap any ASGI 3 app: timing, request ids, in-flight gauge, and the API under the prefix.

    ``lifespan`` passes through untouched; ``websocket`` sessions are counted
    (``websocket_sessions`` in the snapshot) but never timed as HTTP.

    Args:
        app: the ASGI application.
        kit: the kit to record into (`perfkit.get_kit()` when omitted).
        route_name: ``route_name(scope) -> str | None``, e.g. the router's path template.
        identify: ``identify(scope) -> (user_id, organization_id)``.
        exclude: path prefixes (or a predicate) passed through without being counted
            (and not guarded).
        guards: rate and body-size limits (`perfkit.guards.Guards`); `kit.guards`
            (from the settings) when omitted.
    """

    def __init__(
        self,
        app: ASGIApp,
        kit: Perfkit | None = None,
        *,
        route_name: Callable[[Scope], str | None] | None = None,
        identify: Callable[[Scope], tuple[Any, Any] | None] | None = None,
        exclude: Callable[[str], bool] | tuple[str, ...] | list[str] | None = None,
        guards: Guards | None = None,
    ) -> None:
        self.app = app
        self.kit = kit or get_kit()
        self.core = RequestCore(self.kit, route_name, identify, exclude)
        self.core.framework_route = scope_route
        active = self.core.use_guards(guards)
        if active is not None:  # logic in perfkit.guards; the hot path checks core.guards once
            from ..guards.asgi import guard_asgi

            self.core.guarded = guard_asgi(active, app, route_name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http":
            if kind == "websocket":
                self.kit.registry.websocket_sessions += 1
            await self.app(scope, receive, send)
            return
        core = self.core
        path = scope.get("path") or "/"
        if path.startswith(core.prefix) and core.is_perfkit_path(path):  # one C call for most
            from ..web.serving import asgi_api

            await asgi_api(self.kit, scope, receive, send, path[len(core.prefix) :] or "/")
            return
        if core.exclude is not None and core.is_excluded(path):
            await self.app(scope, receive, send)
            return
        await _serve(self.app if core.guards is None else core.guarded, core, scope, receive, send)


async def _serve(
    app: ASGIApp, core: RequestCore, scope: Scope, receive: Receive, send: Send
) -> None:
    """One request, with its state in this frame (never on the middleware)."""
    start = perf_counter()
    request_id = core.request_id(_header(scope, b"x-request-id"))
    token = request_id_var.set(request_id)
    user = org = None
    if core.identify is not None:
        user, org = core.who(scope)
        user_id_var.set(user)
        organization_id_var.set(org)
    status = 0
    size = 0
    received = 0  # request body bytes, as the app reads them
    ttfb: float | None = None
    finished_at: float | None = None
    disconnected = False
    head = scope.get("method") == "HEAD"
    header = (b"x-request-id", request_id.encode("latin-1"))

    async def send_wrapper(message: Message) -> None:
        nonlocal status, size, ttfb, finished_at, request_id
        kind = message["type"]
        if kind == "http.response.start":
            status = int(message.get("status", 0))
            if head:
                finished_at = perf_counter()  # a HEAD response is complete with its headers
            headers = message.get("headers", ())
            own = None
            try:
                for name, _ in headers:  # inlined: a call per response costs more than the scan
                    # cheap tests first (45 is "-"): content-type has the same length
                    if len(name) == 12 and name[1] == 45:
                        own = _own_request_id(headers)  # the careful look, rarely reached
                        break
            except (TypeError, ValueError):
                pass  # malformed headers: the server is the one to refuse them
            if own is None:
                message = dict(message)  # never mutate the app's message
                message["headers"] = [*headers, header]
            elif is_sane_request_id(own):
                request_id = own  # the app sent its own: recorded with the id the client saw
        elif kind == "http.response.body":
            body = message.get("body", b"")
            if body:
                if ttfb is None:
                    ttfb = perf_counter() - start
                size += len(body)
            if not message.get("more_body", False):
                finished_at = perf_counter()
        await send(message)

    async def receive_wrapper() -> Message:
        nonlocal disconnected, received
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            received += len(message.get("body", b""))
        elif kind == "http.disconnect" and finished_at is None:
            disconnected = True
        return message

    core.begin()
    error: str | None = None
    try:
        await app(scope, receive_wrapper, send_wrapper)
    except BaseException as exc:
        if isinstance(exc, CancelledError) or type(exc).__name__ == "Cancelled":
            # the server cancels an app when its client has gone (trio names it Cancelled)
            disconnected = True
        else:
            error = type(exc).__name__
        raise
    finally:
        end = finished_at if finished_at is not None else perf_counter()
        if finished_at is None and disconnected:
            final_status = CLIENT_CLOSED  # the client left before the response ended
        elif error is not None and finished_at is None:
            final_status = 500  # the error cut the response short (or prevented it)
        else:
            final_status = status or 500
        try:
            if user is None and org is None and core.identify is not None:
                user, org = core.who(scope)
            core.record(
                scope,
                RequestRecord(
                    scope.get("method", "GET"), None, final_status, end - start, size, ttfb,
                    user, org, error, scope.get("path") or "/", request_id, None, received,
                ),
            )  # fmt: skip
        finally:
            core.end()
            request_id_var.reset(token)
            if core.identify is not None:
                user_id_var.set(None)
                organization_id_var.set(None)


def _own_request_id(headers: Any) -> str | None:
    """The app's own X-Request-ID response header (any case), or None."""
    try:
        for name, value in headers:
            # cheap tests first (45 is "-"): content-type has the same length
            if len(name) == 12 and name[1] == 45 and name.lower() == b"x-request-id":
                return str(value.decode("latin-1"))
    except (TypeError, ValueError, AttributeError):
        pass  # malformed headers: the server is the one to refuse them
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    size = len(name)
    for key, value in scope.get("headers") or ():
        # the length test first: lower() copies, and most names differ in length
        if len(key) == size and key.lower() == name:
            try:
                return str(value.decode("latin-1"))
            except (AttributeError, UnicodeDecodeError):
                return None
    return None
