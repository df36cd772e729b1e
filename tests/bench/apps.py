"""Sample apps, request mixes and the peer middlewares the benchmarks compare against.

Nothing here runs at import: every app and middleware is built by a function.
Gunicorn serves ``apps:make_wsgi_bare()`` and ``apps:make_wsgi_wrapped()``.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterable, Sequence
from time import perf_counter
from typing import Any

__all__ = [
    "CountingSpanExporter",
    "PrometheusClientMiddleware",
    "asgi_scopes",
    "make_otel_provider",
    "make_starlette_app",
    "make_wsgi_bare",
    "make_wsgi_bare_with_header",
    "make_wsgi_wrapped",
    "request_paths",
    "wsgi_app",
    "wsgi_environs",
]

BODY = b'{"ok": true, "items": [1, 2, 3]}'


def wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The bare app: a small JSON answer, as cheap as a real app's fastest endpoint."""
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]
    )
    return [BODY]


def request_paths(count: int, seed: int = 7) -> list[tuple[str, str]]:
    """`count` (method, path) pairs over a few endpoints, most of them carrying ids.

    Ids come from a pool of 50 per endpoint, so label-per-raw-path peers
    (the hand-written prometheus_client middleware) see a bounded, warmed-up
    set of series instead of paying for a new series on every request.
    """
    rng = random.Random(seed)
    uuids = [f"{rng.getrandbits(128):032x}" for _ in range(50)]
    uuids = [f"{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}" for u in uuids]
    out: list[tuple[str, str]] = []
    for i in range(count):
        ident = rng.randrange(1, 51)
        kind = i % 5
        if kind == 0:
            out.append(("GET", f"/users/{ident}"))
        elif kind == 1:
            out.append(("GET", f"/users/{ident}/orders"))
        elif kind == 2:
            out.append(("GET", f"/items/{uuids[ident - 1]}"))
        elif kind == 3:
            out.append(("POST", f"/orders/{ident * 1000 + 7}"))
        else:
            out.append(("GET", "/health"))
    return out


def wsgi_environs(paths: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Synthetic PEP 3333 environs (copied per request by the driver)."""
    environs = []
    for method, path in paths:
        environs.append(
            {
                "REQUEST_METHOD": method,
                "SCRIPT_NAME": "",
                "PATH_INFO": path,
                "QUERY_STRING": "",
                "SERVER_NAME": "127.0.0.1",
                "SERVER_PORT": "8000",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "REMOTE_ADDR": "127.0.0.1",
                "HTTP_HOST": "127.0.0.1:8000",
                "HTTP_USER_AGENT": "bench/1.0",
                "HTTP_ACCEPT": "*/*",
                "wsgi.version": (1, 0),
                "wsgi.url_scheme": "http",
                "wsgi.input": io.BytesIO(b""),
                "wsgi.errors": io.StringIO(),
                "wsgi.multithread": False,
                "wsgi.multiprocess": True,
                "wsgi.run_once": False,
            }
        )
    return environs


class PrometheusClientMiddleware:
    """What a typical team writes: a Counter and a Histogram around the app call.

    Labels use the raw path, as such middlewares usually do (in production
    that is unbounded cardinality; here ids come from a small pool).
    """

    def __init__(self, app: Callable[..., Iterable[bytes]], registry: Any = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.app = app
        self.registry = registry if registry is not None else CollectorRegistry()
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests",
            ["method", "path", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["method", "path"],
            registry=self.registry,
        )

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        status_holder = ["500"]

        def recording_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            status_holder[0] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info)

        start = perf_counter()
        try:
            return self.app(environ, recording_start_response)
        finally:
            self.latency.labels(method, path).observe(perf_counter() - start)
            self.requests.labels(method, path, status_holder[0]).inc()


class CountingSpanExporter:
    """A no-op OpenTelemetry span exporter that only counts what it is given."""

    def __init__(self) -> None:
        self.exported = 0

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        self.exported += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def make_otel_provider() -> tuple[Any, CountingSpanExporter]:
    """An SDK TracerProvider with the stock BatchSpanProcessor feeding a no-op exporter."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    exporter = CountingSpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))  # type: ignore[arg-type]
    return provider, exporter


# ------------------------------------------------------------------ ASGI
def make_starlette_app() -> Any:
    """A Starlette app whose routes match `request_paths`."""
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def endpoint(request: Any) -> Response:
        return Response(BODY, media_type="application/json")

    return Starlette(
        routes=[
            Route("/users/{user_id:int}", endpoint),
            Route("/users/{user_id:int}/orders", endpoint),
            Route("/items/{item_id:uuid}", endpoint),
            Route("/orders/{order_id:int}", endpoint, methods=["POST"]),
            Route("/health", endpoint),
        ]
    )


def asgi_scopes(paths: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Synthetic ASGI 3 http scopes (copied per request by the driver)."""
    return [
        {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [
                (b"host", b"127.0.0.1:8000"),
                (b"user-agent", b"bench/1.0"),
                (b"accept", b"*/*"),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        for method, path in paths
    ]


# --------------------------------------------------------------- gunicorn
def make_wsgi_bare() -> Callable[..., Iterable[bytes]]:
    return wsgi_app


def make_wsgi_bare_with_header() -> Callable[..., Iterable[bytes]]:
    """The bare app plus an X-Request-ID response header (isolates the server's cost of it)."""
    counter = iter(range(1, 1 << 62))

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        def with_header(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers.append(("X-Request-ID", f"0123456789abcdef{next(counter):012x}"))
            return start_response(status, headers, exc_info)

        return wsgi_app(environ, with_header)

    return app


def make_wsgi_wrapped() -> Callable[..., Iterable[bytes]]:
    from perfkit import Perfkit
    from perfkit.wsgi import PerfkitMiddleware

    return PerfkitMiddleware(wsgi_app, kit=Perfkit())


def make_wsgi_prometheus() -> Callable[..., Iterable[bytes]]:
    """The bare app behind the hand-written prometheus_client middleware."""
    return PrometheusClientMiddleware(wsgi_app)


def make_wsgi_started() -> Callable[..., Iterable[bytes]]:
    """perfkit as a user runs it: defaults and ``kit.start()`` (background aggregation)."""
    from perfkit import Perfkit
    from perfkit.wsgi import PerfkitMiddleware

    kit = Perfkit()
    kit.start()
    return PerfkitMiddleware(wsgi_app, kit=kit)


# ---------------------------------------------------------------- uvicorn
def make_asgi_bare() -> Any:
    return make_starlette_app()


def make_asgi_exporter() -> Any:
    from starlette_exporter import PrometheusMiddleware

    return PrometheusMiddleware(make_starlette_app())


def make_asgi_started() -> Any:
    """perfkit's ASGI middleware with defaults and ``kit.start()``."""
    from perfkit import Perfkit
    from perfkit.asgi import PerfkitMiddleware

    kit = Perfkit()
    kit.start()
    return PerfkitMiddleware(make_starlette_app(), kit=kit)
