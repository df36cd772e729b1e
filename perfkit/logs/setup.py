"""setup_logging / shutdown_logging: five JSON log files behind one queue on the root logger."""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .._pseudonym import pseudonymiser
from ..errors import ConfigError
from .context import LoggerFilter
from .formatter import ConsoleFormatter, PerfkitJsonFormatter
from .listener import LogListener, PerfkitQueueHandler
from .redaction import Redactor
from .rotation import MultiProcessRotatingFileHandler

if TYPE_CHECKING:
    from ..config import PerfkitSettings

__all__ = [
    "ACCESS_LOGGER",
    "AUDIT_LOGGER",
    "flush_logging",
    "log_files",
    "setup_logging",
    "setup_logging_from_settings",
    "shutdown_logging",
]

ACCESS_LOGGER = "perfkit.access"
AUDIT_LOGGER = "perfkit.audit"
_OWN_FILES = (ACCESS_LOGGER, AUDIT_LOGGER)  # they have files of their own
_LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


@dataclass
class _Active:
    listener: LogListener
    queue_handler: PerfkitQueueHandler
    root_level: int
    files: dict[str, str] = field(default_factory=dict)


_lock = threading.Lock()
_active: _Active | None = None
_hooks_installed = False


def setup_logging(
    app_name: str = "app",
    log_dir: str | os.PathLike[str] = "logs",
    log_level: str | int = "INFO",
    enable_console: bool = True,
    enable_file: bool = True,
    enable_json: bool = True,
    max_bytes: int = 10 * 1024 * 1024,
    backup_count: int = 10,
    *,
    redact_keys: list[str] | tuple[str, ...] | None = None,
    max_message_bytes: int = 65_536,
    queue_size: int = 100_000,
    console_stream: TextIO | None = None,
    user_id_hash_key: str | None = None,
) -> logging.Logger:
    """Configure the root logger: JSON files, console, request and audit logs.

    Creates in `log_dir`: ``{app}.log`` (INFO and up), ``{app}_errors.log``
    (ERROR and up, with tracebacks), ``{app}_debug.log`` (only when the level
    is DEBUG), ``{app}_requests.log`` (the ``perfkit.access`` logger, see
    `log_request`) and ``{app}_audit.log`` (``perfkit.audit``, see `log_audit`).
    Records go through a queue to a writer thread; files rotate at
    `max_bytes`, safely across processes. Calling it again replaces the
    previous configuration (never duplicates lines).

    Args:
        enable_json: JSON lines in the files, and on the console unless it is a
            terminal; False writes human-readable lines everywhere.
        redact_keys: words marking sensitive keys (default: password, token, ...).
        max_message_bytes: longer messages/tracebacks are truncated with a marker.
        queue_size: records waiting for the writer; beyond it records are dropped
            and counted (the application is never slowed down by logging).
        user_id_hash_key: when set, every ``user_id`` in every file is written
            pseudonymised (``u_`` + HMAC-SHA256), the same form the metrics use.

    Returns:
        the root logger.

    Raises:
        ConfigError: a bad argument, or a `log_dir` that cannot be created or written.
    """
    level = _level(log_level)
    _check_args(app_name, max_bytes, backup_count, max_message_bytes, queue_size)
    global _active
    with _lock:
        _shutdown_locked()
        redactor = Redactor(redact_keys)
        fmt: logging.Formatter = (
            PerfkitJsonFormatter(redactor, max_message_bytes, pseudonymiser(user_id_hash_key))
            if enable_json
            else ConsoleFormatter(max_message_bytes)
        )
        handlers: list[logging.Handler] = []
        files: dict[str, str] = {}
        if enable_file:
            handlers, files = _file_handlers(
                app_name, Path(log_dir), level, fmt, max_bytes, backup_count
            )
        if enable_console:
            stream = console_stream if console_stream is not None else sys.stderr
            console = logging.StreamHandler(stream)
            tty = bool(getattr(stream, "isatty", lambda: False)())
            console.setFormatter(
                fmt if enable_json and not tty else ConsoleFormatter(max_message_bytes)
            )
            console.setLevel(level)
            console.addFilter(LoggerFilter(_OWN_FILES, keep=False))
            handlers.append(console)
        listener = LogListener(handlers, queue_size)
        queue_handler = PerfkitQueueHandler(listener)
        listener.source = queue_handler
        listener.start()
        root = logging.getLogger()
        for old in [h for h in root.handlers if isinstance(h, PerfkitQueueHandler)]:
            root.removeHandler(old)  # left over from a module reload
        root_level = root.level
        root.addHandler(queue_handler)
        root.setLevel(level)
        for name in _OWN_FILES:
            # request and audit lines are wanted even when the app logs WARNING+
            logging.getLogger(name).setLevel(logging.INFO)
        _active = _Active(listener, queue_handler, root_level, files)
        _install_process_hooks()
    return root


def setup_logging_from_settings(settings: PerfkitSettings, **overrides: Any) -> logging.Logger:
    """`setup_logging` driven by `PerfkitSettings` (``PERFKIT_LOG_*``); `overrides` win."""
    keys = settings.log_redact_keys
    kwargs: dict[str, Any] = {
        "app_name": settings.app_name,
        "log_dir": settings.log_dir,
        "log_level": settings.log_level,
        "enable_json": settings.log_json,
        "max_bytes": settings.log_max_bytes,
        "backup_count": settings.log_backup_count,
        "redact_keys": None if keys is None else [k for k in keys.split(",") if k.strip()],
        "max_message_bytes": settings.log_max_message_bytes,
        "user_id_hash_key": settings.user_id_hash_key,
    }
    kwargs.update(overrides)
    return setup_logging(**kwargs)


def shutdown_logging(timeout: float = 10.0) -> None:
    """Write everything queued, close the files and remove perfkit's handlers."""
    with _lock:
        _shutdown_locked(timeout)


def flush_logging(timeout: float = 10.0) -> bool:
    """Wait until every record logged so far is written; False on timeout or when not set up."""
    active = _active
    return active is not None and active.listener.flush(timeout)


def log_files() -> dict[str, str]:
    """The files of the current setup: ``{"main", "errors", "debug"?, "requests", "audit"}``."""
    active = _active
    return dict(active.files) if active is not None else {}


def _shutdown_locked(timeout: float = 10.0) -> None:
    global _active
    active = _active
    if active is None:
        return
    _active = None
    root = logging.getLogger()
    root.removeHandler(active.queue_handler)
    active.listener.stop(timeout)
    active.listener.close_handlers()
    active.queue_handler.close()  # (already drained: only leaves logging's handler list)
    root.setLevel(active.root_level)
    for name in _OWN_FILES:
        logging.getLogger(name).setLevel(logging.NOTSET)


def _file_handlers(
    app: str, directory: Path, level: int, fmt: logging.Formatter, max_bytes: int, backups: int
) -> tuple[list[logging.Handler], dict[str, str]]:
    _ensure_dir(directory)
    not_own = LoggerFilter(_OWN_FILES, keep=False)
    plan: list[tuple[str, str, int, LoggerFilter | None]] = [
        ("main", f"{app}.log", max(level, logging.INFO), not_own),
        ("errors", f"{app}_errors.log", max(level, logging.ERROR), None),
        ("requests", f"{app}_requests.log", 0, LoggerFilter((ACCESS_LOGGER,), keep=True)),
        ("audit", f"{app}_audit.log", 0, LoggerFilter((AUDIT_LOGGER,), keep=True)),
    ]
    if level <= logging.DEBUG:
        plan.append(("debug", f"{app}_debug.log", logging.DEBUG, not_own))
    handlers: list[MultiProcessRotatingFileHandler] = []
    files: dict[str, str] = {}
    try:
        for kind, name, handler_level, filt in plan:
            path = directory / name
            try:
                handler = MultiProcessRotatingFileHandler(str(path), max_bytes, backups)
            except OSError as exc:
                raise ConfigError(
                    f"cannot open log file {str(path)!r}: {exc.strerror or exc}; "
                    "log_dir (PERFKIT_LOG_DIR) must be a writable directory"
                ) from None
            handler.setLevel(handler_level)
            handler.setFormatter(fmt)
            if filt is not None:
                handler.addFilter(filt)
            handlers.append(handler)
            files[kind] = handler.path
    except BaseException:
        for handler in handlers:
            handler.close()
        raise
    return list(handlers), files


def _ensure_dir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"log_dir {str(directory)!r} cannot be created: {exc.strerror or exc}; "
            "pass a writable directory (log_dir=... or PERFKIT_LOG_DIR)"
        ) from None
    if not directory.is_dir():
        raise ConfigError(f"log_dir {str(directory)!r} is not a directory")


def _level(value: str | int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value in _LEVELS.values():
        return value
    if isinstance(value, str) and value.strip().upper() in _LEVELS:
        return _LEVELS[value.strip().upper()]
    raise ConfigError(
        f"log_level {value!r} is not valid: expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
    )


def _check_args(app: str, max_bytes: int, backups: int, max_msg: int, queue_size: int) -> None:
    if not isinstance(app, str) or not app.strip() or any(c in app for c in "/\\\0"):
        raise ConfigError(f"app_name {app!r} is not valid: expected a non-empty file-name part")
    for name, value, low in (
        ("max_bytes", max_bytes, 0), ("backup_count", backups, 0),
        ("max_message_bytes", max_msg, 0), ("queue_size", queue_size, 1),
    ):  # fmt: skip
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigError(f"{name} {value!r} is not valid: expected an integer >= {low}")


def _install_process_hooks() -> None:
    """Once per process: flush at exit, and restart the writer in forked children."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(shutdown_logging)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # it may have been held by another thread of the parent
    active = _active
    if active is not None:
        try:
            active.listener.restart_after_fork()
        except Exception as exc:  # never crash the child: it can still run, unlogged
            sys.stderr.write(f"perfkit.logs: cannot restart the log writer after fork: {exc}\n")
