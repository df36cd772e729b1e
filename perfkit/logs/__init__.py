"""Structured JSON logging: five log files, request correlation, redaction, safe rotation.

``from perfkit.logs import setup_logging, shutdown_logging, log_request, log_audit``.
Importing this package does nothing; `setup_logging` does the work.
"""

from .context import ContextFilter
from .formatter import ConsoleFormatter, PerfkitJsonFormatter
from .records import RequestLogger, log_audit, log_request, make_request_logger
from .redaction import DEFAULT_REDACT_KEYS, REDACTED, Redactor
from .rotation import MultiProcessRotatingFileHandler
from .setup import (
    ACCESS_LOGGER,
    AUDIT_LOGGER,
    flush_logging,
    log_files,
    setup_logging,
    setup_logging_from_settings,
    shutdown_logging,
)

__all__ = [
    "ACCESS_LOGGER",
    "AUDIT_LOGGER",
    "DEFAULT_REDACT_KEYS",
    "REDACTED",
    "ConsoleFormatter",
    "ContextFilter",
    "MultiProcessRotatingFileHandler",
    "PerfkitJsonFormatter",
    "Redactor",
    "RequestLogger",
    "flush_logging",
    "log_audit",
    "log_files",
    "log_request",
    "make_request_logger",
    "setup_logging",
    "setup_logging_from_settings",
    "shutdown_logging",
]
