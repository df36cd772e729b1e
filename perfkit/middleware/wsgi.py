"""Pure WSGI (PEP 3333) middleware: times every request until its last body byte."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from time import perf_counter
from typing import TYPE_CHECKING, Any

from ..context import organization_id_var, request_id_var, user_id_var
from ..kit import Perfkit, get_kit
from ..metrics.process_model import ProcessModel
from ..metrics.record import RequestRecord
from .core import CLIENT_CLOSED, RequestCore, is_sane_request_id
from .framework_routes import environ_route, remember_url_rule

if TYPE_CHECKING:
    from ..guards import Guards

__all__ = ["ERROR_TYPE_KEY", "PerfkitMiddleware"]

# where a framework integration leaves the type of an exception the framework itself turned
# into a response (Flask's got_request_exception), so the record still carries it
ERROR_TYPE_KEY = "perfkit.error_type"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class PerfkitMiddleware:
    """Wrap any WSGI app: timing, request ids, in-flight gauge, and the API under the prefix.

    Args:
        app: the WSGI application.
        kit: the kit to record into (`perfkit.get_kit()` when omitted).
        route_name: ``route_name(environ) -> str | None``, e.g. the framework's route rule.
        identify: ``identify(environ) -> (user_id, organization_id)``.
        exclude: path prefixes (or a predicate) passed through without being counted
            (and not guarded).
        guards: rate and body-size limits (`perfkit.guards.Guards`); `kit.guards`
            (from the settings) when omitted.
    """

    def __init__(
        self,
        app: WSGIApp,
        kit: Perfkit | None = None,
        *,
        route_name: Callable[[dict[str, Any]], str | None] | None = None,
        identify: Callable[[dict[str, Any]], tuple[Any, Any] | None] | None = None,
        exclude: Callable[[str], bool] | tuple[str, ...] | list[str] | None = None,
        guards: Guards | None = None,
    ) -> None:
        self.app = app
        self.kit = kit or get_kit()
        self.core = RequestCore(self.kit, route_name, identify, exclude)
        self.core.framework_route = environ_route
        self._server_unseen = True
        active = self.core.use_guards(guards)
        if active is not None:  # logic in perfkit.guards; the hot path checks core.guards once
            from ..guards.wsgi import guard_wsgi

            self.core.guarded = guard_wsgi(active, app, route_name)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        core = self.core
        if self._server_unseen:  # once: does the server say it runs several workers?
            self._server_unseen = False
            hint = ProcessModel.from_environ(environ)
            if hint is not None:
                self.kit.note_process_model(hint)
        path = environ.get("PATH_INFO") or "/"
        if path.startswith(core.prefix) and core.is_perfkit_path(path):
            from ..web.serving import wsgi_api

            return wsgi_api(self.kit, environ, start_response, path[len(core.prefix) :] or "/")
        if core.exclude is not None and core.is_excluded(path):
            return self.app(environ, start_response)
        response = _Response(core, environ, start_response)
        result = None
        try:
            app = self.app if core.guards is None else core.guarded
            result = app(environ, response.start_response)
            response.iterator = iter(result)
        except BaseException as exc:
            response.finish(exc)
            close = getattr(result, "close", None)
            if close is not None:
                close()  # PEP 3333: the app's iterable is closed whatever happened
            raise
        response.result = result
        if type(result) is list:
            # servers frame a list differently (granian sends it in one piece, wsgiref
            # and waitress give a one-item list a Content-Length): hand them a list too
            body = _ListBody(result)
            body.response = response
            body.close = response.close
            return body
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(result, file_wrapper):
            return response.hand_over(result)
        if hasattr(result, "__len__"):
            response.__class__ = _SizedResponse  # same slots: len() answers like the app's
        return response


class _Response:
    """One request's state and its response iterable (never kept on the middleware).

    Counts bytes, ends the timing at the last chunk, and always closes the
    app's iterable.
    """

    __slots__ = (
        "_exhausted",
        "_start_response",
        "_write",
        "core",
        "environ",
        "finished",
        "headers",
        "iterator",
        "org",
        "request_id",
        "result",
        "size",
        "start",
        "status",
        "token",
        "ttfb",
        "user",
    )  # fmt: skip

    def __init__(
        self, core: RequestCore, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> None:
        self.start = perf_counter()
        self.core = core
        self.environ = environ
        self._start_response = start_response
        self._write: Callable[[bytes], Any] | None = None
        self.status = 0
        self.size = 0
        self.headers: Any = ()
        self.ttfb: float | None = None
        self.finished = False
        self._exhausted = False
        self.result: Iterable[bytes] | None = None
        self.iterator: Iterator[bytes] | None = None
        incoming = environ.get("HTTP_X_REQUEST_ID")
        self.request_id = request_id = core.request_id(incoming) if incoming else core.new_id()
        self.token = request_id_var.set(request_id)
        self.user: str | None = None
        self.org: str | None = None
        if core.identify is not None:
            self.user, self.org = core.who(environ)
            user_id_var.set(self.user)
            organization_id_var.set(self.org)
        core.begin()

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], Any]:
        try:
            code = _STATUS_CODES.get(status) or _status_code(status)
        except TypeError:  # not even hashable
            code = None
        if code is None:
            self.core.app_problem("status line", f"invalid WSGI status line {status!r}")
            code = 500
        self.status = code
        self.headers = headers
        if "werkzeug.request" in self.environ:
            remember_url_rule(self.environ)
        if type(headers) is not list:
            self.core.app_problem(
                "headers", f"response headers must be a list, got {type(headers).__name__}"
            )
        # a new list for the server: the app may reuse its own (a module-level constant)
        sent = self._with_request_id(headers)
        if exc_info:
            self._write = self._start_response(status, sent, exc_info)
        else:
            self._write = self._start_response(status, sent)
        return self.write

    def _with_request_id(self, headers: Any) -> Any:
        """A copy of `headers` with perfkit's X-Request-ID, unless the app set its own."""
        try:
            for name, value in headers:
                # cheap tests first: Content-Type has the same length
                if len(name) == 12 and name[1] == "-" and name.lower() == "x-request-id":
                    if is_sane_request_id(value):
                        self.request_id = value  # recorded with the id the client saw
                    return list(headers)
            return [*headers, ("X-Request-ID", self.request_id)]
        except (TypeError, ValueError):  # malformed: the server is the one to say so
            return headers

    def write(self, data: bytes) -> Any:
        """The PEP 3333 `write()` callable, counting what goes through it."""
        self._chunk(data)
        return self._write(data)  # type: ignore[misc]

    def hand_over(self, result: Any) -> Iterable[bytes]:
        """Give a `wsgi.file_wrapper` back to the server untouched (so it can use
        sendfile), timing it through its `close()` instead of its iteration."""
        original_close = getattr(result, "close", None)

        def close() -> None:
            try:
                if original_close is not None:
                    original_close()
            finally:
                self.size = self.size or _content_length(self.headers)
                self.finish()

        try:
            result.close = close
        except AttributeError:
            return self  # a wrapper type that cannot take the hook: time it by iteration
        return result  # type: ignore[no-any-return]

    def _chunk(self, data: bytes) -> None:
        if data:
            if self.ttfb is None:
                self.ttfb = perf_counter() - self.start
            self.size += len(data)

    def __iter__(self) -> Iterator[bytes]:
        # a generator resumes faster than a __next__ method call per chunk;
        # close() stays on this object, so the app's close() is called even
        # when the server never starts iterating
        return self._produce()

    def _produce(self) -> Iterator[bytes]:
        try:
            for data in self.iterator:  # type: ignore[union-attr]
                if data:
                    if self.ttfb is None:
                        self.ttfb = perf_counter() - self.start
                    self.size += len(data)
                yield data
        except GeneratorExit:
            raise  # the server stopped early; close() records it
        except BaseException as exc:
            self.finish(exc)
            raise
        self._exhausted = True
        self.finish()

    def close(self) -> None:
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        except BaseException as exc:
            self.finish(exc)
            raise
        finally:
            # closed before the last chunk: the client went away mid-body, except
            # for HEAD, complete once its headers are out (granian closes early)
            complete = self._exhausted or (
                self.status and self.environ.get("REQUEST_METHOD") == "HEAD"
            )
            self.finish(status=None if complete else CLIENT_CLOSED)

    def finish(self, exc: BaseException | None = None, status: int | None = None) -> None:
        if self.finished:
            return
        self.finished = True
        duration = perf_counter() - self.start
        core = self.core
        error = None
        if exc is not None:
            error = type(exc).__name__
            status = 500
        else:
            if status is None:
                status = self.status or 500
            error = self.environ.get(ERROR_TYPE_KEY)
        try:
            if self.user is None and self.org is None and core.identify is not None:
                self.user, self.org = core.who(self.environ)
            environ = self.environ
            core.record(
                environ,
                RequestRecord(
                    environ.get("REQUEST_METHOD", "GET"), None, status, duration, self.size,
                    self.ttfb, self.user, self.org, error,
                    _decode_path(environ.get("PATH_INFO") or "/"), self.request_id,
                    request_size=declared_length(environ),
                ),
            )  # fmt: skip
        finally:
            core.end()
            try:
                request_id_var.reset(self.token)
            except ValueError:
                request_id_var.set(None)  # finished in another context (a server quirk)
            if core.identify is not None:
                user_id_var.set(None)
                organization_id_var.set(None)


class _SizedResponse(_Response):
    """The response of an app whose result has a length (a tuple, a sized body class)."""

    __slots__ = ()

    def __len__(self) -> int:
        return len(self.result)  # type: ignore[arg-type]


class _ListBody(list):  # type: ignore[type-arg]
    """A list result's items, still timed and counted by their `_Response`.

    Iterating it (also through ``b"".join``, which servers use on lists) runs
    the response's producer; `close` is the response's.
    """

    __slots__ = ("close", "response")  # close: the response's bound method (one call less)
    response: _Response
    close: Callable[[], None]

    def __iter__(self) -> Iterator[bytes]:
        return self.response._produce()


_STATUS_CODES: dict[str, int] = {}  # status line -> code, for the lines apps really send


def _status_code(status: Any) -> int | None:
    """The code of a PEP 3333 status line ("200 OK"), or None when it is not one."""
    if not isinstance(status, str) or status[3:4] not in ("", " ") or not status[:3].isdigit():
        return None
    code = int(status[:3])
    if code < 100:
        return None
    if len(_STATUS_CODES) < 512:  # bounded: odd reason phrases cannot grow it
        _STATUS_CODES[status] = code
    return code


def declared_length(environ: Any) -> int:
    """The request body's CONTENT_LENGTH (0 when absent or not a number): WSGI gives no
    cheaper way to know, and counting reads would wrap wsgi.input on every request."""
    text = environ.get("CONTENT_LENGTH")
    if not text:
        return 0
    try:
        return max(int(text), 0)
    except ValueError:
        return 0


def _content_length(headers: Any) -> int:
    try:
        for name, value in headers:
            if name.lower() == "content-length":
                return int(value)
    except (TypeError, ValueError):
        pass  # malformed headers: the size stays unknown (0)
    return 0


def _decode_path(raw: str) -> str:
    """PEP 3333 carries bytes as latin-1; show them as UTF-8 where they are."""
    if raw.isascii():
        return raw
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw.encode("latin-1", "replace").decode("utf-8", "replace")
