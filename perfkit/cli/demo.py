"""`perfkit demo`: the main job. A sample app wrapped by perfkit, served with live traffic,
the dashboard, sampler, alerts and backups running on embedded defaults."""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import queue
import random
import signal
import sqlite3
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from ..config import PerfkitSettings
from ..kit import Perfkit
from ..monitor import monitor_query_performance

__all__ = ["add_parser", "build_demo_app", "format_summary"]

_log = logging.getLogger("perfkit.demo")


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo", help="serve a sample app under perfkit with traffic and the dashboard"
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port on 127.0.0.1 (0: any free one)"
    )
    parser.add_argument(
        "--duration", type=float, help="stop after this many seconds and print a summary"
    )
    parser.add_argument("--no-traffic", action="store_true", help="do not generate traffic")
    parser.add_argument("--rate", type=float, default=20.0, help="generated requests per second")
    parser.add_argument(
        "--json", action="store_true", help="print the final summary as JSON (notes on stderr)"
    )
    parser.set_defaults(handler=_main)


def _main(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        print(f"--port must be in 0..65535, got {args.port}", file=sys.stderr)
        return 2
    if args.duration is not None and args.duration <= 0:
        print(f"--duration must be > 0 seconds, got {args.duration}", file=sys.stderr)
        return 2
    if not 0 < args.rate <= 1000:
        print(f"--rate must be in (0, 1000], got {args.rate}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("perfkit.requests").setLevel(logging.ERROR)  # the summary lists them
    base = PerfkitSettings.from_env()
    os.makedirs(base.data_dir, exist_ok=True)
    data_dir = os.path.abspath(base.data_dir)
    settings = base.replace(
        slow_request_threshold=0.25,
        # a local demo: its admin buttons work from this machine without a token
        allow_unauthenticated_admin=base.token is None or base.allow_unauthenticated_admin,
        database_url=base.database_url or f"sqlite:///{data_dir}/demo.db",
        backup_dir=os.path.join(data_dir, "backups")
        if base.backup_dir == "backups"
        else base.backup_dir,
    )
    kit = Perfkit(settings)
    demo = Demo(kit, args.port)
    demo.start(traffic=not args.no_traffic, rate=args.rate)
    notes = sys.stderr if args.json else sys.stdout
    for line in _banner(demo, settings, args.duration):
        print(line, file=notes, flush=True)
    previous = _sigterm_as_interrupt()
    try:
        demo.stopped.wait(args.duration)
    except KeyboardInterrupt:
        pass  # Ctrl-C or SIGTERM: the demo's normal end, with its summary
    finally:
        demo.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    prometheus = kit.render_metrics()[1].decode() if args.duration is not None else None
    if args.json:
        print(json.dumps(summary_data(kit, demo, prometheus), indent=2, default=str))
        return 0
    print(format_summary(kit, demo))
    if prometheus is not None:
        print(f"# Prometheus text, as {settings.prefix}/metrics served it:")
        print(prometheus, end="")
    return 0


def _banner(demo: Demo, settings: PerfkitSettings, duration: float | None) -> list[str]:
    lines = [
        f"perfkit demo serving on {demo.base_url}",
        f"  dashboard: {demo.base_url}{settings.prefix}/",
        f"  metrics:   {demo.base_url}{settings.prefix}/metrics",
        f"  snapshot:  {demo.base_url}{settings.prefix}/api/snapshot",
    ]
    if settings.token is None:
        lines.append(
            "  no PERFKIT_TOKEN: admin actions are open to loopback clients "
            "(allow_unauthenticated_admin=true, for this demo only)"
        )
    lines.append("  stop with Ctrl-C" if duration is None else f"  stopping in {duration:g} s")
    return lines


def _sigterm_as_interrupt() -> Any:
    """SIGTERM (docker stop, kill) ends the demo as Ctrl-C does; the old handler is returned."""
    if threading.current_thread() is not threading.main_thread():
        return None  # signals are only delivered to the main thread (tests call main())

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, interrupt)


class Demo:
    """The demo service: server thread, traffic thread, and the kit's background work."""

    def __init__(self, kit: Perfkit, port: int) -> None:
        from socketserver import ThreadingMixIn
        from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

        from ..middleware.wsgi import PerfkitMiddleware

        class _Server(ThreadingMixIn, WSGIServer):
            daemon_threads = True

        class _QuietHandler(WSGIRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None  # perfkit records requests; no access log on the console

        self.kit = kit
        database = (kit.settings.database_url or "sqlite:///:memory:").removeprefix("sqlite:///")
        self.app = _error_pages(PerfkitMiddleware(build_demo_app(kit, database), kit))
        self.server = make_server("127.0.0.1", port, self.app, _Server, _QuietHandler)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        self.stopped = threading.Event()
        self._threads: list[threading.Thread] = []
        self.started = time.monotonic()
        self.ran_for: float | None = None
        self.sent = 0  # generated requests answered
        self.skipped = 0  # generated requests dropped because every client was busy
        self._sent_lock = threading.Lock()

    def start(self, traffic: bool, rate: float) -> None:
        self.started = time.monotonic()
        self._start_thread(self.server.serve_forever, "perfkit-demo-server")
        if traffic:
            self._start_thread(lambda: self._traffic(rate), "perfkit-demo-traffic")
        self.kit.start()
        # besides the daily job kit.start() schedules: one now and one every 10 minutes
        self.kit.backup_scheduler.schedule_interval_backup(minutes=10)
        self._start_thread(self._first_backup, "perfkit-demo-backup")

    def traffic(self) -> dict[str, Any]:
        """The generated traffic: requests answered, over how long, and the rate reached."""
        seconds = self.ran_for or (time.monotonic() - self.started)
        with self._sent_lock:
            sent = self.sent
        return {
            "sent": sent,
            "skipped": self.skipped,
            "seconds": seconds,
            "rate": sent / seconds if seconds else 0.0,
        }

    def _first_backup(self) -> None:
        try:
            self.kit.backups.create_backup(name_prefix="demo")
        except Exception as exc:  # the demo goes on without a backup rather than stopping
            _log.warning("demo backup failed: %s", exc)

    def _start_thread(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _traffic(self, rate: float) -> None:
        """Requests at `rate` a second on a schedule, sent by a pool of clients so a
        slow answer (the /report endpoint) does not hold the next ones back."""
        paths = [
            "/users/{n}", "/users/{n}", "/users/{n}", "/products", "/products",
            "/orders/{uuid}", "/checkout", "/report", "/missing/{n}",
        ]  # fmt: skip
        rng = random.Random(7)
        # enough clients for the slowest endpoint (0.6 s) at the requested rate
        clients = max(4, min(64, int(rate * 0.7) + 2))
        work: queue.Queue[str | None] = queue.Queue(maxsize=clients * 2)
        for n in range(clients):
            self._start_thread(lambda: self._client(work), f"perfkit-demo-client-{n}")
        due = time.monotonic()
        while True:
            due += rng.expovariate(rate)
            if self.stopped.wait(max(0.0, due - time.monotonic())):
                break
            path = rng.choice(paths).format(n=rng.randint(1, 120), uuid=_uuid(rng))
            try:
                work.put_nowait(path)
            except queue.Full:
                self.skipped += 1  # every client busy: this machine cannot keep the rate
        for _ in range(clients):
            try:
                work.put_nowait(None)
            except queue.Full:
                break

    def _client(self, work: queue.Queue[str | None]) -> None:
        while not self.stopped.is_set():
            try:
                path = work.get(timeout=0.2)
            except queue.Empty:
                continue
            if path is None:
                return
            method = "POST" if path == "/checkout" else "GET"
            request = urllib.request.Request(
                self.base_url + path, method=method, data=b"" if method == "POST" else None
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    response.read()
            except OSError:
                pass  # 4xx/5xx are the demo's point; perfkit records them
            with self._sent_lock:
                self.sent += 1

    def stop(self) -> None:
        if not self.stopped.is_set():
            self.ran_for = time.monotonic() - self.started
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()
        self.kit.stop()
        for thread in self._threads:
            thread.join(timeout=5)


def _error_pages(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """Turn the app's exceptions into 500 pages, as a framework would (perfkit sits inside
    and has already recorded the exception type)."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return app(environ, start_response)
        except Exception:
            start_response(
                "500 Internal Server Error", [("Content-Type", "text/plain")], sys.exc_info()
            )
            return [b"internal error"]

    return wrapped


def _uuid(rng: random.Random) -> str:
    import uuid

    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def build_demo_app(kit: Perfkit, database: str = ":memory:") -> Callable[..., Iterable[bytes]]:
    """A small WSGI app: ids in paths, a slow and a flaky endpoint, SQL queries, a cached one."""
    db = sqlite3.connect(database, check_same_thread=False)
    lock = threading.Lock()
    db.execute("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT)")
    db.executemany(
        "INSERT OR IGNORE INTO users VALUES (?, ?)", [(i, f"user{i}") for i in range(1, 101)]
    )
    db.commit()

    @monitor_query_performance(kit=kit)
    def query(sql: str, *params: Any) -> list[Any]:
        with lock:
            return db.execute(sql, params).fetchall()

    catalogue = _cached_catalogue(kit, query)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        parts = [p for p in path.split("/") if p]
        status, body = "200 OK", b"ok"
        if parts[:1] == ["users"] and len(parts) == 2 and parts[1].isdigit():
            rows = query("SELECT name FROM users WHERE id = ?", int(parts[1]))
            status, body = (
                ("200 OK", rows[0][0].encode()) if rows else ("404 Not Found", b"no such user")
            )
        elif parts[:1] == ["orders"] and len(parts) == 2:
            body = f"order {parts[1]}".encode()
        elif parts == ["products"]:
            body = catalogue().encode()
        elif parts == ["report"]:
            time.sleep(random.uniform(0.1, 0.6))  # the demo's deliberately slow endpoint
            body = b"report"
        elif parts == ["checkout"]:
            if random.random() < 0.1:
                raise RuntimeError("payment provider timed out")
            body = b"paid"
        elif parts:
            status, body = "404 Not Found", b"not found"
        else:
            body = b"perfkit demo: try /users/1, /products, /report, /checkout"
        start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    return app


def _cached_catalogue(kit: Perfkit, query: Callable[..., list[Any]]) -> Callable[[], str]:
    """The product list, through perfkit's cache when it is available."""

    def load() -> str:
        rows = query("SELECT count(*) FROM users")
        return f"{rows[0][0]} products"

    try:
        from ..cache import cached

        cache = getattr(kit, "cache", None)
        if cache is not None:
            return cached(ttl=5, key_prefix="demo", cache=cache)(load)
    except Exception as exc:  # the demo runs without the cache rather than not at all
        _log.warning("demo cache unavailable: %s", exc)
    return load


def summary_data(kit: Perfkit, demo: Demo | None = None, prometheus: str | None = None) -> Any:
    """What the demo prints at its end, as JSON (``--json``)."""
    snap = kit.snapshot()
    data: dict[str, Any] = {
        "requests": snap["requests"]["summary"],
        "endpoints": snap["requests"]["endpoints"],
        "queries": snap["queries"]["fingerprints"],
        "slow_requests_kept": len(snap["requests"]["slow"]),
    }
    if demo is not None:
        data["traffic"] = demo.traffic()
    if prometheus is not None:
        data["prometheus"] = prometheus
    return data


def format_summary(kit: Perfkit, demo: Demo | None = None) -> str:
    """A plain-text table of the endpoints and queries perfkit recorded."""
    from ._output import duration, plural

    snap = kit.snapshot()
    out = io.StringIO()
    total = snap["requests"]["summary"]
    out.write(
        f"requests: {total['count']}  5xx: {total['errors']}  4xx: {total['client_errors']}  "
        f"p50: {duration(total['p50'])}  p95: {duration(total['p95'])}  "
        f"p99: {duration(total['p99'])}\n"
    )
    if demo is not None:
        t = demo.traffic()
        out.write(
            f"generated: {plural(t['sent'], 'request')} in {duration(t['seconds'])} "
            f"({t['rate']:.1f}/s)"
            + (f", {t['skipped']} skipped (every client busy)" if t["skipped"] else "")
            + "\n"
        )
    out.write(
        f"\n{'endpoint':<28}{'count':>7}{'5xx':>6}{'4xx':>6}{'p50':>10}{'p95':>10}{'max':>10}\n"
    )
    for row in snap["requests"]["endpoints"]:
        out.write(
            f"{row['key']:<28}{row['count']:>7}{row['errors']:>6}{row['client_errors']:>6}"
            f"{duration(row['p50']):>10}{duration(row['p95']):>10}{duration(row['max']):>10}\n"
        )
    out.write(f"\n{'query':<50}{'count':>7}{'p95':>10}\n")
    for row in snap["queries"]["fingerprints"]:
        out.write(f"{row['fingerprint'][:49]:<50}{row['count']:>7}{duration(row['p95']):>10}\n")
    out.write(f"\nslow requests kept: {len(snap['requests']['slow'])}\n")
    return out.getvalue()
