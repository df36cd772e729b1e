"""The guards around a WSGI app (inside perfkit's timing, so rejections are measured too)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .body import LimitedInput, RequestBodyTooLarge, declared_length
from .policy import Guards
from .responses import ratelimit_headers, too_large, too_many_requests

__all__ = ["guard_wsgi"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
DRAIN_LIMIT = 256 * 1024  # bytes of a refused body read and dropped, so the client sees the 413


def _reply(start_response: Callable[..., Any], answer: tuple[int, Any, bytes]) -> list[bytes]:
    status, headers, body = answer
    reason = {413: "Content Too Large", 429: "Too Many Requests"}[status]
    start_response(f"{status} {reason}", headers)
    return [body]


def _drain(stream: Any, amount: int) -> None:
    """Read and drop up to `amount` bytes: closing on an unread body makes the
    client's kernel reset the connection, often before it reads the 413."""
    try:
        while amount > 0:
            data = stream.read(min(amount, 65_536))
            if not data:
                return
            amount -= len(data)
    except Exception:
        pass  # a client that vanished mid-body: nothing more to do for it


def _with_headers(
    start_response: Callable[..., Any], extra: list[tuple[str, str]]
) -> Callable[..., Any]:
    """`start_response` adding the ``RateLimit-*`` fields (the common allowed path)."""

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if exc_info:
            return start_response(status, [*headers, *extra], exc_info)
        return start_response(status, [*headers, *extra])  # `extra` is shared: never extended

    return start


def guard_wsgi(guards: Guards, app: WSGIApp, route_name: Callable[[Any], Any] | None) -> WSGIApp:
    """`app` behind the guards: 413 and 429 answered here, the rest passed on."""
    limit = guards.max_content_length
    header = "HTTP_FORWARDED" if guards.proxies.header == "forwarded" else "HTTP_X_FORWARDED_FOR"

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path.startswith(guards.exempt_prefixes) or (
            guards.exempt_check is not None and guards.is_exempt(path)
        ):
            return app(environ, start_response)
        guards.stats.checked()
        stream: LimitedInput | None = None
        if limit is not None:
            length = declared_length(environ.get("CONTENT_LENGTH"))
            if length is not None and length > limit:
                guards.stats.rejected_too_large()
                if length <= limit + DRAIN_LIMIT:
                    _drain(environ.get("wsgi.input"), length)
                return _reply(start_response, too_large(limit))
            # without Content-Length, HTTP/1.1 has a body only with Transfer-Encoding
            if length is None and "HTTP_TRANSFER_ENCODING" in environ:
                stream = environ["wsgi.input"] = LimitedInput(environ["wsgi.input"], limit)
        extra: list[tuple[str, str]] = []
        if guards.rate_limited:
            decision = guards.check_rate(
                environ, path, environ.get("REMOTE_ADDR"), environ.get(header), route_name
            )
            if decision is not None:
                if not decision.allowed:
                    return _reply(start_response, too_many_requests(decision, guards.headers))
                if guards.headers:
                    extra = ratelimit_headers(decision)
        if stream is None:
            if not extra:
                return app(environ, start_response)
            return app(environ, _with_headers(start_response, extra))
        return _Guarded(guards, app, environ, start_response, stream, extra).run()

    return guarded


class _Guarded:
    """One request whose body may be cut or whose response gets ``RateLimit-*`` headers."""

    def __init__(
        self,
        guards: Guards,
        app: WSGIApp,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        stream: LimitedInput | None,
        extra: list[tuple[str, str]],
    ) -> None:
        self.guards, self.app, self.environ = guards, app, environ
        self._start_response, self.stream, self.extra = start_response, stream, extra
        self.refused = False  # the 413 went out instead of the app's response
        self.started = False  # the app's own status went to the server
        self.body = too_large(stream.limit)[2] if stream is not None else b""

    def cut(self) -> bool:
        return self.stream is not None and self.stream.exceeded

    def refuse(self) -> list[bytes]:
        self.refused = True
        self.guards.stats.rejected_too_large()
        if self.stream is None:
            return []
        _drain(self.stream.stream, DRAIN_LIMIT)
        return _reply(self._start_response, too_large(self.stream.limit))

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], Any]:
        if self.cut() and not self.started:
            # the app answered after its body was cut (e.g. a framework's 500 page)
            if not self.refused:
                self.refuse()
            return lambda data: None
        self.started = True
        headers = [*headers, *self.extra]
        if exc_info:
            return self._start_response(status, headers, exc_info)  # type: ignore[no-any-return]
        return self._start_response(status, headers)  # type: ignore[no-any-return]

    def run(self) -> Iterable[bytes]:
        try:
            result = self.app(self.environ, self.start_response)
        except Exception:
            if not self.cut() or self.started:
                raise
            # the app failed on the cut body (RequestBodyTooLarge or its own error): a 413
            return [self.body] if self.refused else self.refuse()
        if self.refused:
            close = getattr(result, "close", None)
            if close is not None:
                close()
            return [self.body]
        if self.stream is None:
            return result
        return self._iterate(result)

    def _iterate(self, result: Iterable[bytes]) -> Iterator[bytes]:
        """An app that reads its body while its response is iterated (generators)."""
        try:
            for chunk in result:
                if self.refused:
                    break
                yield chunk
        except RequestBodyTooLarge:
            if self.started:
                raise  # the app's status is out: the server can only abort the response
            if not self.refused:
                yield from self.refuse()
                return
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if self.refused:
            yield self.body
