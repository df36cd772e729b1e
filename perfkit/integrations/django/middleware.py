"""``perfkit.integrations.django.PerfkitMiddleware``: requests as Django routes them.

Put it first in ``MIDDLEWARE`` so its time covers the other middleware. It
records each request once its response is closed (after the last byte, as the
WSGI/ASGI middleware do), named by ``request.resolver_match.route``; it learns
a view's exception in `process_exception` and leaves the answer to Django; the
user is ``request.user.pk`` (pseudonymised when ``user_id_hash_key`` is set).
Requests under the prefix are answered here by perfkit's API.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Iterator
from time import perf_counter
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async

from ...context import request_id_var
from ...metrics.record import RequestRecord
from ...middleware.core import CLIENT_CLOSED, RequestCore
from ...middleware.wsgi import declared_length
from .apps import project_kit

__all__ = ["PerfkitMiddleware", "resolver_route", "user_id"]

_MAX_API_BODY = 64 * 1024


def resolver_route(request: Any, status: int) -> str | None:
    """``/users/<int:user_id>`` from the URL pattern Django matched (includes joined)."""
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None)
    if not route or not isinstance(route, str):
        return None  # nothing matched (a 404 from the resolver): perfkit collapses it
    return route if route.startswith("/") else "/" + route


def user_id(user: Any) -> str | None:
    """The primary key of an authenticated ``request.user`` as text; None for anonymous."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    pk = getattr(user, "pk", None)
    return None if pk is None else str(pk)


class PerfkitMiddleware:
    """Django middleware (sync and async) recording every request into the project's kit.

    Subclass it and override `identify` to also name the organization, or to
    use another user id than the primary key.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self.kit = project_kit()
        self.core = RequestCore(self.kit)
        self.core.framework_route = resolver_route
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)
        self.kit.start()  # the server loaded the middleware: sampler, alerts, flushes

    def identify(self, request: Any) -> tuple[str | None, str | None]:
        """``(user_id, organization_id)`` of a request, read once the view has run."""
        return user_id(getattr(request, "user", None)), None

    def process_exception(self, request: Any, exception: Exception) -> None:
        # remembered for the record; None lets Django (and later middleware) answer as usual
        request._perfkit_error = type(exception).__name__

    def __call__(self, request: Any) -> Any:
        if self.is_async:
            return self._acall(request)
        path = request.path_info
        if self.core.is_perfkit_path(path):
            return self._api(request, path)
        timing = _Timing(self.core, request)
        try:
            response = self.get_response(request)
        except BaseException as exc:  # only with DEBUG_PROPAGATE_EXCEPTIONS
            timing.finish(exc=exc)
            raise
        timing.who = self._who(request)
        return timing.attach(request, response)

    async def _acall(self, request: Any) -> Any:
        path = request.path_info
        if self.core.is_perfkit_path(path):
            return self._api(request, path)
        timing = _Timing(self.core, request)
        try:
            response = await self.get_response(request)
        except BaseException as exc:
            timing.finish(exc=exc)
            raise
        timing.who = await self._awho(request)
        return timing.attach(request, response)

    async def _awho(self, request: Any) -> tuple[str | None, str | None]:
        if type(self).identify is not PerfkitMiddleware.identify:
            return await sync_to_async(self._who)(request)  # the override may touch the DB
        try:
            auser = getattr(request, "auser", None)  # Django >= 5: the user without a thread hop
            if auser is not None:
                return user_id(await auser()), None
            if getattr(request, "user", None) is None:
                return None, None  # no authentication middleware: nothing to look up
            # a lazy request.user may query the session: never in the event loop
            return await sync_to_async(self._who)(request)
        except Exception as exc:
            self.kit.errors.report("identify", exc)
            return None, None

    def _who(self, request: Any) -> tuple[str | None, str | None]:
        try:
            return self.identify(request)
        except Exception as exc:
            self.kit.errors.report("identify", exc)
            return None, None

    def _api(self, request: Any, path: str) -> Any:
        from django.http import HttpResponse

        from ...web.api import handle
        from ...web.context import ApiRequest

        meta = request.META
        body = b""
        if request.method in ("POST", "PUT", "PATCH", "DELETE"):
            body = request.read(_MAX_API_BODY + 1)
        answer = handle(
            self.kit,
            ApiRequest(
                request.method or "GET",
                path[len(self.core.prefix) :] or "/",
                meta.get("QUERY_STRING", ""),
                {name.lower(): value for name, value in request.headers.items()},
                body,
                meta.get("REMOTE_ADDR"),
            ),
        )
        response = HttpResponse(answer.body, status=answer.status)
        for name, value in answer.all_headers():
            response[name] = value
        return response


def _content_length(response: Any) -> int:
    try:
        return int(response.get("Content-Length") or 0)
    except ValueError:
        return 0


class _Timing:
    """One request's timing, finished when Django (or the server) closes its response."""

    __slots__ = (
        "__weakref__", "core", "done", "exhausted", "method", "path", "request",
        "request_id", "size", "start", "status", "streaming", "token", "ttfb", "who",
    )  # fmt: skip

    def __init__(self, core: RequestCore, request: Any) -> None:
        self.start = perf_counter()
        self.core = core
        self.request = request  # kept until the response closes: the route is read then
        self.method = request.method or "GET"
        self.path = request.path_info
        self.request_id = core.request_id(request.META.get("HTTP_X_REQUEST_ID"))
        self.token = request_id_var.set(self.request_id)
        self.who: tuple[str | None, str | None] = (None, None)
        self.status = 0
        self.size = 0
        self.ttfb: float | None = None
        self.streaming = False
        self.exhausted = False
        self.done = False
        core.begin()

    def attach(self, request: Any, response: Any) -> Any:
        """Tag the response and finish when it is closed (or dropped unclosed)."""
        self.status = int(response.status_code)
        if not response.has_header("X-Request-ID"):
            response["X-Request-ID"] = self.request_id
        if response.streaming:
            self.streaming = True
            content = response.streaming_content
            if getattr(response, "is_async", False):
                response.streaming_content = self._count_async(content)
            else:
                response.streaming_content = self._count(content)
        else:
            self.size = len(response.content)
        original_close = response.close

        def close() -> None:
            if self.streaming and not self.exhausted and response.file_to_stream is not None:
                # a FileResponse the WSGI server sent itself (wsgi.file_wrapper, sendfile):
                # its bytes never went through the count, and no early end can be seen
                self.exhausted = True
                self.size = self.size or _content_length(response)
            try:
                original_close()
            finally:
                self.finish()

        response.close = close
        # a response nobody closes (a server or test quirk) is still recorded, as cut short
        weakref.finalize(response, self.finish, None, CLIENT_CLOSED)
        self._reset_context()
        return response

    def _count(self, chunks: Any) -> Iterator[bytes]:
        for chunk in chunks:
            self._chunk(chunk)
            yield chunk
        self.exhausted = True

    async def _count_async(self, chunks: Any) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self._chunk(chunk)
            yield chunk
        self.exhausted = True

    def _chunk(self, chunk: bytes) -> None:
        if chunk:
            if self.ttfb is None:
                self.ttfb = perf_counter() - self.start
            self.size += len(chunk)

    def _reset_context(self) -> None:
        try:
            request_id_var.reset(self.token)
        except ValueError:
            request_id_var.set(None)  # finished in another context (async hand-over)

    def finish(self, exc: BaseException | None = None, status: int | None = None) -> None:
        if self.done:
            return
        self.done = True
        duration = perf_counter() - self.start
        core = self.core
        if exc is not None:
            status, error = 500, type(exc).__name__
            self._reset_context()
        else:
            if status is None:
                status = self.status or 500
                if self.streaming and not self.exhausted:
                    status = CLIENT_CLOSED  # closed before the last chunk: the client left
            error = None
        request = self.request
        if exc is None and status >= 500 and request is not None:
            # Http404, PermissionDenied...: Django's own answers (4xx), not failures
            error = getattr(request, "_perfkit_error", None)
        user, organization = self.who
        try:
            core.record(
                request,
                RequestRecord(
                    self.method, None, status, duration, self.size, self.ttfb, user,
                    organization, error, self.path, self.request_id,
                    request_size=declared_length(request.META) if request is not None else 0,
                ),
            )  # fmt: skip
        finally:
            core.end()
