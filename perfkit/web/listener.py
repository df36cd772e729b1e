"""The admin listener: the whole perfkit surface (dashboard, API, metrics, health) on its
own port, served by a small threaded HTTP server inside the app's process.

One listener per host: every worker of a multi-process server (gunicorn, uvicorn
--workers) tries to bind the port; the first one holds it and the others retry
every `retry_seconds`, so when the holder dies any of them takes over. The socket
sets SO_REUSEADDR (a restart is not blocked by connections in TIME_WAIT) and never
SO_REUSEPORT, which would let every worker bind and split the requests between
workers. What it answers comes from the kit's store: the host's or the fleet's
figures when the store is shared, this process's otherwise.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from .._forks import after_fork_in_child
from ..component import Component
from .api import handle
from .context import MAX_BODY, ApiRequest
from .host import ServedKit

__all__ = ["AdminListener"]

_log = logging.getLogger("perfkit.admin")

RETRY_SECONDS = 2.0  # how often a worker that does not hold the port tries again
MAX_CONNECTIONS = 32  # beyond this, new connections are closed at once (bounded threads)


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True  # SO_REUSEADDR: rebinding is not blocked by TIME_WAIT
    allow_reuse_port = False  # never SO_REUSEPORT: one holder per host
    daemon_threads = True

    def __init__(self, address: tuple[str, int], kit: ServedKit) -> None:
        self.kit = kit
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)  # saturated: refuse rather than grow without bound
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that vanished mid-answer: not worth the stderr traceback socketserver prints
        _log.debug("admin listener: the exchange with %s failed", client_address, exc_info=True)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 30  # a client that stalls mid-request does not hold a thread for long
    server_version = "perfkit-admin"

    def _serve(self) -> None:
        kit = self.server.kit
        parts = urlsplit(self.path)
        path = unquote(parts.path, errors="replace") or "/"
        prefix = kit.settings.prefix
        # the dashboard and the OpenAPI document name prefixed paths: both forms answer
        if path == prefix or path.startswith(prefix + "/"):
            path = path[len(prefix) :] or "/"
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        body = self.rfile.read(min(length, MAX_BODY + 1)) if length > 0 else b""
        if length > len(body):
            self.close_connection = True  # the unread rest cannot start another request
        request = ApiRequest(self.command, path, parts.query, headers, body, self.client_address[0])
        response = handle(kit, request)
        self.send_response(response.status)
        for name, value in response.all_headers():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s " + format, self.client_address[0], *args)


class AdminListener(Component):
    """Serves `kit`'s whole perfkit surface on `host`:`port`, holding the port when it can.

    A kit component: `start()` begins contending for the port in a daemon
    thread, `stop()` releases it. `holding` says whether this process has it.

    Args:
        kit: whose figures and settings are served.
        port: the TCP port (0: any free port, for tests).
        host: the address to bind; ``127.0.0.1`` keeps it on this machine.
        retry_seconds: how often to try again while another process holds the port.
    """

    def __init__(
        self,
        kit: ServedKit,
        port: int,
        host: str = "127.0.0.1",
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65_535:
            raise ValueError(f"port must be an integer in 0..65535, got {port!r}")
        if not isinstance(host, str) or not host:
            raise ValueError(f"host must be an address like '127.0.0.1', got {host!r}")
        self.kit = kit
        self.port = port
        self.host = host
        self.retry_seconds = retry_seconds
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._reported: str | None = None
        after_fork_in_child(self, "_after_fork")

    @property
    def holding(self) -> bool:
        """True while this process holds the port and serves it."""
        return self._server is not None

    @property
    def bound_port(self) -> int | None:
        """The port actually bound (differs from `port` when it was 0), while holding."""
        server = self._server
        return int(server.server_address[1]) if server is not None else None

    def start(self) -> None:
        """Contend for the port in the background (idempotent; after a fork, start afresh)."""
        with self._lock:
            if self._pid != os.getpid():
                self._forget_inherited()
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = threading.Event()
            self._thread = threading.Thread(
                target=self._run, name="perfkit-admin-listener", daemon=True
            )
            self._thread.start()

    def _after_fork(self) -> None:
        """A forked child (gunicorn --preload) contends afresh if the parent was contending."""
        self._lock = threading.Lock()  # the parent's thread may have held it while forking
        if self._pid == os.getpid():
            return  # the kit's own after-fork restart got here first
        contending = self._thread is not None and not self._stopping.is_set()
        self._forget_inherited()
        if contending:
            self.start()

    def _forget_inherited(self) -> None:
        """A forked child has the parent's socket but not its thread: close it, never shut it
        down (shutdown would stop the parent's listener too)."""
        if self._server is not None:
            self._server.socket.close()
        self._server = None
        self._thread = None
        self._pid = os.getpid()

    def _run(self) -> None:
        stopping = self._stopping
        while not stopping.is_set():
            server = self._bind()
            if server is None:
                stopping.wait(self.retry_seconds)
                continue
            with self._lock:
                if stopping.is_set():
                    server.server_close()
                    return
                self._server = server
            _log.info("perfkit admin listener on %s:%s (pid %d)", self.host, self.port, os.getpid())
            try:
                server.serve_forever(poll_interval=0.5)
            finally:
                with self._lock:
                    if self._server is server:
                        self._server = None
                server.server_close()

    def _bind(self) -> _Server | None:
        try:
            return _Server((self.host, self.port), self.kit)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                message = f"cannot listen on {self.host}:{self.port}: {exc}"
                if message != self._reported:  # once per distinct cause, not every retry
                    self._reported = message
                    self.kit.errors.report("admin listener", OSError(message), traceback=False)
            return None

    def stop(self) -> None:
        """Stop serving and release the port (safe to call more than once)."""
        with self._lock:
            self._stopping.set()
            server, thread = self._server, self._thread
            self._thread = None
        if server is not None:
            server.shutdown()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
