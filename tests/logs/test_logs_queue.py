"""The queue in front of the writer: bounded, never blocking, drops counted and reported."""

from __future__ import annotations

import logging

import perfkit.logs
from perfkit.logs.listener import LogListener, PerfkitQueueHandler


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("tests.logs.queue", logging.INFO, __file__, 1, msg, args, None)


def test_a_full_queue_drops_and_the_writer_reports_it() -> None:
    """Beyond maxsize records are dropped (not blocking) and a warning says how many."""
    sink = _Collect()
    listener = LogListener([sink], maxsize=3)
    handler = PerfkitQueueHandler(listener)
    listener.source = handler
    for i in range(5):
        handler.handle(_record("line %d", i))
    assert handler.dropped == 2
    listener.start()
    try:
        assert listener.flush(30)
    finally:
        listener.stop()
    messages = [r.getMessage() for r in sink.records]
    assert messages == ["line 0", "line 1", "line 2", "log queue full: 2 records dropped"]


def test_arguments_are_merged_on_the_calling_thread() -> None:
    """A mutable argument changed after the call does not change the logged message."""
    listener = LogListener([], maxsize=10)
    handler = PerfkitQueueHandler(listener)
    items = ["a"]
    handler.handle(_record("items=%s", items))
    items.append("b")
    queued = listener.queue.get_nowait()
    assert queued.getMessage() == "items=['a']" and queued.request_id is None


def test_exported_names_exist() -> None:
    """Every name in perfkit.logs.__all__ is importable."""
    assert all(hasattr(perfkit.logs, name) for name in perfkit.logs.__all__)
    assert {"setup_logging", "shutdown_logging", "log_request", "log_audit"} <= set(
        perfkit.logs.__all__
    )
