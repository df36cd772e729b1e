"""JSON lines (python-json-logger) and a human-readable console format.

Every JSON line has: ``timestamp`` (ISO 8601, UTC), ``level``, ``logger``,
``message``, ``module``, ``function``, ``line``, ``process``, ``thread``,
``request_id``, ``user_id``, ``organization_id`` (null outside a request) and,
for records with an exception, ``exception: {type, message, traceback}``.
The caller's ``extra`` keys follow, redacted; one that collides with a field
above is written as ``extra_<key>``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

try:
    from pythonjsonlogger.json import JsonFormatter
except ImportError:  # python-json-logger < 3.1
    from pythonjsonlogger.jsonlogger import JsonFormatter  # type: ignore[attr-defined,no-redef,unused-ignore]

from .context import add_context
from .redaction import Redactor

__all__ = ["ConsoleFormatter", "PerfkitJsonFormatter", "iso_utc", "truncate"]

# LogRecord attributes that are never copied as "extra" fields.
_RESERVED = frozenset(
    {"args", "asctime", "created", "exc_info", "exc_text", "filename", "funcName",
     "levelname", "levelno", "lineno", "module", "msecs", "message", "msg", "name",
     "pathname", "process", "processName", "relativeCreated", "stack_info", "thread",
     "threadName", "taskName", "request_id", "user_id", "organization_id"}
)  # fmt: skip
_FIELDS = frozenset(
    {"timestamp", "level", "logger", "message", "module", "function", "line", "process",
     "thread", "request_id", "user_id", "organization_id", "exception", "stack"}
)  # fmt: skip


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes, with a marker saying how much went."""
    if limit <= 0 or len(text) * 4 <= limit:  # fast path: cannot be over the limit
        return text
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= limit:
        return text
    cut = raw[:limit].decode("utf-8", "ignore")
    return f"{cut}...[truncated {len(raw) - limit} bytes]"


def _stringify(value: Any) -> str:
    """The JSON fallback for anything json cannot encode: never raises."""
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


class PerfkitJsonFormatter(JsonFormatter):
    """python-json-logger formatter producing perfkit's documented fields.

    Args:
        redactor: hides secrets in ``extra`` values (`Redactor()` by default).
        max_message_bytes: longer messages and tracebacks are truncated with a
            ``...[truncated N bytes]`` marker; 0 disables truncation.
        pseudonymise: applied to every ``user_id`` (see ``user_id_hash_key``),
            so no line carries the clear id.
    """

    def __init__(
        self,
        redactor: Redactor | None = None,
        max_message_bytes: int = 65_536,
        pseudonymise: Callable[[str], str] | None = None,
    ) -> None:
        super().__init__(json_default=_stringify, json_ensure_ascii=True)
        self.redactor = redactor or Redactor()
        self.max_message_bytes = max_message_bytes
        self.pseudonymise = pseudonymise

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        """Fill `log_data` with the documented fields, then the redacted extras."""
        log_data.update(self._fields(record, message_dict))

    def _fields(
        self, record: logging.LogRecord, message_dict: dict[str, Any] | None
    ) -> dict[str, Any]:
        d = record.__dict__
        if "request_id" not in d:
            add_context(record)  # formatted without perfkit's queue: read the context here
        limit = self.max_message_bytes
        user = d["user_id"]
        if user is not None and self.pseudonymise is not None:
            user = self.pseudonymise(str(user))
        data: dict[str, Any] = {
            "timestamp": iso_utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": truncate(record.message, limit),
            "module": record.module,
            "function": record.funcName,
            "line": record.lineno,
            "process": record.process,
            "thread": record.threadName,
            "request_id": d["request_id"],
            "user_id": user,
            "organization_id": d["organization_id"],
        }
        redact = self.redactor.redact
        if message_dict:
            if record.exc_info and record.exc_info[0] is not None:
                exc_type, exc, _ = record.exc_info
                data["exception"] = {
                    "type": exc_type.__name__,
                    "message": truncate(_stringify(exc), limit),
                    "traceback": truncate(message_dict.get("exc_info") or "", limit),
                }
            elif record.exc_text:
                data["exception"] = {"type": None, "message": None, "traceback": record.exc_text}
            if "stack_info" in message_dict:
                data["stack"] = truncate(str(message_dict["stack_info"]), limit)
            for key, value in message_dict.items():  # logger.info({"k": v}) style
                if key not in ("exc_info", "stack_info"):
                    data[_free(key)] = redact(value, str(key))
        for key in d.keys() - _RESERVED:  # a set difference in C: the extras only
            if not key.startswith("_"):
                data[_free(key)] = redact(d[key], key)
        return data


def _free(key: Any) -> str:
    name = key if isinstance(key, str) else str(key)
    return "extra_" + name if name in _FIELDS else name


_last_second: list[Any] = [None, ""]  # (second, its formatted prefix): one strftime a second


def iso_utc(created: float) -> str:
    """A Unix time as ISO 8601 UTC with microseconds: ``2026-01-31T12:00:00.123456Z``."""
    second = int(created)
    cached = _last_second
    if cached[0] != second:
        cached[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        cached[0] = second
    micros = int((created - second) * 1_000_000)
    return f"{cached[1]}.{min(micros, 999_999):06d}Z"


_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char, f"\\x{ord(char):02x}")


def _one_line(text: str) -> str:
    """`text` with line breaks and other control characters escaped (``\\n``, ``\\x1b``)."""
    return _CONTROL.sub(_escape, text) if _CONTROL.search(text) else text


class ConsoleFormatter(logging.Formatter):
    """Human-readable lines: ``time LEVEL logger [request_id] message``.

    One record is one line starting at the left margin: line breaks and control
    characters in the message and request id are escaped (a ``%0A`` in a
    request path cannot forge a line), and traceback lines are indented.
    """

    def __init__(self, max_message_bytes: int = 65_536) -> None:
        super().__init__("%(asctime)s %(levelname)-8s %(name)s [%(request_id)s] %(message)s")
        self.max_message_bytes = max_message_bytes

    def format(self, record: logging.LogRecord) -> str:
        """The line for `record`, with ``-`` when no request is being served."""
        if "request_id" not in record.__dict__:
            add_context(record)
        shown = logging.makeLogRecord(record.__dict__)
        shown.request_id = _one_line(str(record.__dict__.get("request_id") or "-"))
        shown.msg = _one_line(truncate(record.getMessage(), self.max_message_bytes))
        shown.args = None
        shown.name = _one_line(record.name)
        shown.exc_info, shown.exc_text, shown.stack_info = None, None, None
        line = super().format(shown)
        extra: list[str] = []
        if record.exc_info and record.exc_info[0] is not None:
            extra.append(record.exc_text or self.formatException(record.exc_info))
        elif record.exc_text:
            extra.append(record.exc_text)
        if record.stack_info:
            extra.append(self.formatStack(record.stack_info))
        if not extra:
            return line
        detail = truncate("\n".join(extra), self.max_message_bytes)
        # continuation lines never start at the margin, where a record starts
        return line + "".join("\n    " + _one_line(part) for part in detail.splitlines())
