"""Off the request path: a queue handler on the caller's side, a writer thread behind it.

The caller's thread only merges the message with its arguments, copies the
request context onto the record and puts it in a bounded queue. The listener
thread drains the queue in batches, formats each record once per formatter and
hands whole batches to the file handlers (one lock and one write per batch).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
from collections.abc import Sequence
from typing import Any

from .context import add_context
from .formatter import iso_utc

__all__ = ["LogListener", "PerfkitQueueHandler"]

_BATCH = 512  # records per batch: bounds latency and the size of one write


class _Flush:
    """A marker: the listener sets `done` once everything queued before it is written."""

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


class PerfkitQueueHandler(logging.Handler):
    """Hand records to a `LogListener`; never blocks and never formats on the caller.

    A full queue (``maxsize`` records waiting) drops the record and counts it in
    `dropped` (the listener reports drops as a warning) rather than slowing the
    application down. The bound is approximate under concurrent logging.
    """

    def __init__(self, listener: LogListener) -> None:
        super().__init__()
        self.listener = listener
        self.dropped = 0

    def handle(self, record: logging.LogRecord) -> bool:
        """Enqueue `record` (skips `Handler.handle`'s lock: the queue is thread-safe)."""
        if self.filters and not self.filter(record):
            return False
        try:
            if record.args:
                record.msg = record.getMessage()  # freeze now: args may change later
                record.args = None
            add_context(record)  # context variables exist only on this thread/task
            listener = self.listener
            if listener.queue.qsize() < listener.maxsize:  # approximate bound, C-fast queue
                listener.queue.put(record)
            else:
                self.dropped += 1
        except Exception:
            self.handleError(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        """Same as `handle` (for callers that go through `emit`)."""
        self.handle(record)

    def flush(self) -> None:
        """Wait until the writer has written everything queued so far (``logging`` calls it)."""
        self.listener.flush()

    def close(self) -> None:
        """Drain the queue, stop the writer and close its files.

        ``logging.shutdown()`` (run at every interpreter exit, and by hand in
        workers that leave with ``os._exit``) calls this: nothing queued is lost.
        """
        self.listener.stop()
        self.listener.close_handlers()
        super().close()


class LogListener:
    """The writer thread: drains the queue and feeds the handlers."""

    def __init__(self, handlers: Sequence[logging.Handler], maxsize: int = 100_000) -> None:
        self.handlers = list(handlers)
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.maxsize = maxsize
        self.source: PerfkitQueueHandler | None = None
        self._reported_drops = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (again after a fork: threads do not survive it)."""
        thread = threading.Thread(target=self._run, name="perfkit-log-writer", daemon=True)
        thread.start()
        self._thread = thread

    def restart_after_fork(self) -> None:
        """In a forked child: a fresh queue and thread, and own file descriptors."""
        self.queue = queue.SimpleQueue()
        for handler in self.handlers:
            reopen = getattr(handler, "reopen_after_fork", None)
            if reopen is not None:
                reopen()
        self.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every record queued so far is written; False on timeout."""
        thread = self._thread
        if thread is None or not thread.is_alive() or thread is threading.current_thread():
            return False  # (a handler flushing from the writer itself must not wait for it)
        marker = _Flush()
        self.queue.put(marker)
        return marker.done.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then end the thread."""
        thread = self._thread
        if thread is None:
            return
        if thread.is_alive():
            self.queue.put(_STOP)
            if thread is not threading.current_thread():  # a handler may call shutdown
                thread.join(timeout)
        self._thread = None

    def close_handlers(self) -> None:
        """Close the file handlers; a stream that is not ours (stderr) is only flushed."""
        for handler in self.handlers:
            if not isinstance(handler, logging.StreamHandler) or isinstance(
                handler, logging.FileHandler
            ):
                handler.close()
            else:
                with contextlib.suppress(Exception):  # the stream may be closed already
                    handler.flush()

    def _run(self) -> None:
        q = self.queue
        running = True
        while running:
            batch = [q.get()]
            try:
                while len(batch) < _BATCH:
                    batch.append(q.get_nowait())
            except queue.Empty:
                pass
            records: list[logging.LogRecord] = []
            markers: list[_Flush] = []
            for item in batch:
                if item is _STOP:
                    running = False
                elif isinstance(item, _Flush):
                    markers.append(item)
                else:
                    records.append(item)
            try:
                self._report_drops(records)
                if records:
                    self.dispatch(records)
            except Exception as exc:  # keep the writer alive whatever one batch did
                _complain(exc, len(records))
            for marker in markers:
                marker.done.set()

    def _report_drops(self, records: list[logging.LogRecord]) -> None:
        source = self.source
        if source is not None and source.dropped > self._reported_drops:
            lost = source.dropped - self._reported_drops
            self._reported_drops = source.dropped
            warning = logging.makeLogRecord(
                {"name": "perfkit.logs", "levelno": logging.WARNING, "levelname": "WARNING",
                 "msg": f"log queue full: {lost} records dropped", "request_id": None,
                 "user_id": None, "organization_id": None}
            )  # fmt: skip
            records.append(warning)

    def dispatch(self, records: Sequence[logging.LogRecord]) -> None:
        """Format `records` and give each handler those it accepts, as one batch."""
        cache: dict[tuple[int, int], str] = {}
        for handler in self.handlers:
            level = handler.level
            write_lines = getattr(handler, "write_lines", None)
            fmt = handler.formatter
            out: list[str] = []
            for record in records:
                if record.levelno < level or (handler.filters and not handler.filter(record)):
                    continue
                if write_lines is None:
                    handler.handle(record)  # an ordinary handler (console): one by one
                    continue
                key = (id(fmt), id(record))
                line = cache.get(key)
                if line is None:
                    line = _format(handler, record)
                    cache[key] = line
                out.append(line)
            if out and write_lines is not None:
                try:
                    write_lines(out)
                except Exception:
                    handler.handleError(records[0])


def _complain(exc: BaseException, lost: int) -> None:
    with contextlib.suppress(Exception):  # stderr may be gone (interpreter shutdown)
        sys.stderr.write(f"perfkit.logs: {lost} records not written: {type(exc).__name__}: {exc}\n")


def _format(handler: logging.Handler, record: logging.LogRecord) -> str:
    """The formatted line; a record that cannot be formatted still yields one line."""
    try:
        return handler.format(record)
    except Exception as exc:
        import json

        return json.dumps(
            {"timestamp": iso_utc(record.created), "level": record.levelname, "logger": record.name,
             "message": f"log record could not be formatted: {type(exc).__name__}",
             "module": record.module, "function": record.funcName, "line": record.lineno,
             "process": record.process, "thread": record.threadName,
             "request_id": None, "user_id": None, "organization_id": None}
        )  # fmt: skip
