"""Request correlation: the request id reaches every record, per thread and per task."""

from __future__ import annotations

import asyncio
import logging
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from logs_support import flushed, read_lines

from perfkit.context import organization_id_var, request_id_var, user_id_var
from perfkit.kit import Perfkit
from perfkit.wsgi import PerfkitMiddleware

log = logging.getLogger("tests.logs.context")


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep wsgiref's access lines off stderr."""


def _app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
    log.info("handling %s", environ["PATH_INFO"])

    def worker() -> None:
        log.info("not inside the request's context")

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return iter([b"ok"])


def test_request_id_lands_in_records_during_a_real_server_request(logs) -> None:
    """Through wsgiref + PerfkitMiddleware: the app's records carry the echoed request id."""
    log_dir = logs()
    kit = Perfkit()
    identify = lambda environ: ("user-7", "org-3")  # noqa: E731
    app = PerfkitMiddleware(_app, kit=kit, identify=identify)
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        given = urllib.request.Request(
            f"http://127.0.0.1:{port}/given", headers={"X-Request-ID": "abc-123"}
        )
        with urllib.request.urlopen(given, timeout=10) as response:
            assert response.headers["X-Request-ID"] == "abc-123"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/fresh", timeout=10) as response:
            generated = response.headers["X-Request-ID"]
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
    log.info("after the requests")
    flushed()
    entries = read_lines(log_dir / "app.log")
    by_message = {e["message"]: e for e in entries}
    first = by_message["handling /given"]
    assert (first["request_id"], first["user_id"], first["organization_id"]) == (
        "abc-123", "user-7", "org-3"
    )  # fmt: skip
    assert by_message["handling /fresh"]["request_id"] == generated and generated
    # a plain new thread does not inherit the context; after the request nothing leaks
    assert all(
        e["request_id"] is None for e in entries if e["message"] != "handling /given"
        and e["message"] != "handling /fresh"
    )  # fmt: skip


def test_threads_keep_their_own_request_ids(logs) -> None:
    """Eight threads logging at once each see only their own id."""
    log_dir = logs()
    barrier = threading.Barrier(8)

    def serve(n: int) -> None:
        token = request_id_var.set(f"thread-{n}")
        try:
            barrier.wait(timeout=30)
            for i in range(50):
                log.info("t%d-%d", n, i)
        finally:
            request_id_var.reset(token)

    threads = [threading.Thread(target=serve, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flushed()
    entries = read_lines(log_dir / "app.log")
    assert len(entries) == 400
    for entry in entries:
        n = entry["message"][1:].split("-")[0]
        assert entry["request_id"] == f"thread-{n}"


def test_asyncio_tasks_keep_their_own_ids() -> None:
    """Interleaved tasks each carry their own request, user and organization."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    from perfkit.logs import ContextFilter

    handler = Keep()
    handler.addFilter(ContextFilter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    async def request(n: int) -> None:
        request_id_var.set(f"task-{n}")
        user_id_var.set(f"user-{n}")
        organization_id_var.set(f"org-{n}")
        for i in range(5):
            log.info("task %d step %d", n, i)
            await asyncio.sleep(0)  # yield so the tasks interleave

    async def main() -> None:
        await asyncio.gather(*(request(n) for n in range(6)))

    try:
        asyncio.run(main())
    finally:
        log.removeHandler(handler)
        log.setLevel(logging.NOTSET)
    assert len(records) == 30
    for record in records:
        n = record.args[0] if record.args else None  # type: ignore[index]
        assert record.request_id == f"task-{n}"  # type: ignore[attr-defined]
        assert record.user_id == f"user-{n}"  # type: ignore[attr-defined]
        assert record.organization_id == f"org-{n}"  # type: ignore[attr-defined]
    assert request_id_var.get() is None


def test_asyncio_tasks_through_the_files(logs) -> None:
    """The same through perfkit's queue and files."""
    log_dir = logs()

    async def request(n: int) -> None:
        request_id_var.set(f"task-{n}")
        for i in range(3):
            log.info("task-%d step %d", n, i)
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(*(request(n) for n in range(4)))

    asyncio.run(main())
    flushed()
    entries = read_lines(log_dir / "app.log")
    assert len(entries) == 12
    assert all(e["request_id"] == e["message"].split(" ")[0] for e in entries)
