"""Copy the request context (request id, user, organization) onto log records.

The context variables live in `perfkit.context`; the middlewares set them for
the duration of a request. They must be read on the thread (or asyncio task)
that logs, because the listener thread that writes the files sees none of them.
"""

from __future__ import annotations

import logging

from ..context import organization_id_var, request_id_var, user_id_var

__all__ = ["CONTEXT_FIELDS", "ContextFilter", "LoggerFilter", "add_context"]

CONTEXT_FIELDS = ("request_id", "user_id", "organization_id")


def add_context(record: logging.LogRecord) -> None:
    """Set ``request_id``, ``user_id`` and ``organization_id`` unless the caller gave them."""
    d = record.__dict__
    if "request_id" not in d:
        d["request_id"] = request_id_var.get()
    if "user_id" not in d:
        d["user_id"] = user_id_var.get()
    if "organization_id" not in d:
        d["organization_id"] = organization_id_var.get()


class ContextFilter(logging.Filter):
    """A filter that never drops a record and adds the request context to it.

    Attach it to any handler that formats records on the logging thread.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        add_context(record)
        return True


class LoggerFilter(logging.Filter):
    """Keep (or drop) the records of some loggers and their children."""

    def __init__(self, names: tuple[str, ...], *, keep: bool) -> None:
        super().__init__()
        self.names = names
        self.prefixes = tuple(n + "." for n in names)
        self.keep = keep

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        hit = name in self.names or name.startswith(self.prefixes)
        return hit if self.keep else not hit
