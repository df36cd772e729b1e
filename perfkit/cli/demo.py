"""`perfkit demo`: a sample app wrapped by perfkit, driven with traffic, then a summary."""

from __future__ import annotations

import argparse
import io
import random
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..config import PerfkitSettings
from ..kit import Perfkit
from ..monitor import monitor_query_performance

__all__ = ["add_parser", "build_demo_app", "run_demo"]


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo", help="run a sample app under perfkit and show what it records"
    )
    parser.add_argument("--requests", type=int, default=400, help="requests to drive")
    parser.add_argument("--seed", type=int, default=7, help="random seed for the traffic")
    parser.add_argument(
        "--no-metrics", action="store_true", help="do not print the Prometheus text"
    )
    parser.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    if args.requests < 1:
        print(f"--requests must be >= 1, got {args.requests}", file=sys.stderr)
        return 2
    import logging

    logging.getLogger("perfkit.requests").setLevel(logging.ERROR)  # the table lists them
    kit = run_demo(args.requests, args.seed)
    print(format_summary(kit))
    if not args.no_metrics:
        print(kit.render_metrics()[1].decode())
    return 0


def build_demo_app(kit: Perfkit) -> Callable[..., Iterable[bytes]]:
    """A small WSGI app: ids in paths, a slow endpoint, a flaky one, SQLite queries."""
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    db.executemany("INSERT INTO users VALUES (?, ?)", [(i, f"user{i}") for i in range(1, 101)])

    @monitor_query_performance(kit=kit)
    def query(sql: str, *params: Any) -> list[Any]:
        return db.execute(sql, params).fetchall()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        parts = [p for p in path.split("/") if p]
        status, body = "200 OK", b"ok"
        if parts[:1] == ["users"] and len(parts) == 2 and parts[1].isdigit():
            rows = query("SELECT name FROM users WHERE id = ?", int(parts[1]))
            status, body = ("200 OK", rows[0][0].encode()) if rows else ("404 Not Found", b"no")
        elif parts == ["report"]:
            time.sleep(random.uniform(0.02, 0.06))  # the demo's deliberately slow endpoint
            body = b"report"
        elif parts == ["checkout"]:
            if random.random() < 0.1:
                raise RuntimeError("payment provider timed out")
        elif parts != ["health"]:
            status, body = "404 Not Found", b"not found"
        start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    return app


def run_demo(requests: int = 400, seed: int = 7) -> Perfkit:
    """Drive `requests` requests through the wrapped demo app in-process; return the kit."""
    from ..middleware.wsgi import PerfkitMiddleware

    random.seed(seed)
    kit = Perfkit(PerfkitSettings(slow_request_threshold=0.05))
    app = PerfkitMiddleware(build_demo_app(kit), kit)
    paths = [
        "/users/{}",
        "/users/{}",
        "/users/{}",
        "/health",
        "/checkout",
        "/report",
        "/missing/{}",
    ]
    for _ in range(requests):
        path = random.choice(paths).format(random.randint(1, 120))
        environ = {
            "REQUEST_METHOD": "POST" if path == "/checkout" else "GET",
            "PATH_INFO": path,
            "SERVER_NAME": "demo",
            "SERVER_PORT": "80",
            "wsgi.input": io.BytesIO(),
            "wsgi.url_scheme": "http",
        }
        try:
            body = app(environ, lambda status, headers, exc_info=None: None)
            for _chunk in body:
                pass
            getattr(body, "close", lambda: None)()
        except RuntimeError:
            pass  # the failing endpoint: recorded as a 500 by the middleware
    return kit


def format_summary(kit: Perfkit) -> str:
    """A plain-text table of the endpoints and queries perfkit recorded."""
    snap = kit.snapshot()
    out = io.StringIO()
    total = snap["requests"]["summary"]
    out.write(
        f"requests: {total['count']}  errors: {total['errors']}  "
        f"p50: {_ms(total['p50'])}  p95: {_ms(total['p95'])}  p99: {_ms(total['p99'])}\n\n"
    )
    out.write(
        f"{'endpoint':<28}{'count':>7}{'5xx':>6}{'4xx':>6}{'p50':>10}{'p95':>10}{'max':>10}\n"
    )
    for row in snap["requests"]["endpoints"]:
        out.write(
            f"{row['key']:<28}{row['count']:>7}{row['errors']:>6}{row['client_errors']:>6}"
            f"{_ms(row['p50']):>10}{_ms(row['p95']):>10}{_ms(row['max']):>10}\n"
        )
    out.write(f"\n{'query':<50}{'count':>7}{'p95':>10}\n")
    for row in snap["queries"]["fingerprints"]:
        out.write(f"{row['fingerprint'][:49]:<50}{row['count']:>7}{_ms(row['p95']):>10}\n")
    out.write(f"\nslow requests kept: {len(snap['requests']['slow'])}\n")
    return out.getvalue()


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.2f}ms"
