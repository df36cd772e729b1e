"""Containment of perfkit's own failures: log once per kind per interval, count, swallow."""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["InternalErrors"]

_log = logging.getLogger("perfkit")

MAX_KINDS = 100  # distinct kinds counted; more are counted as "other"


class InternalErrors:
    """Counts internal failures by kind and logs each kind at most once per `interval` seconds.

    A monitoring library must never take the host app down with it, but it must
    not hide its failures either: they are counted (exposed as
    ``perfkit_internal_errors_total``) and logged, rate-limited.
    """

    def __init__(
        self,
        interval: float = 60.0,
        message: str = "perfkit internal error in %s (%d so far; the request was not affected): %r",
        logger: logging.Logger = _log,
    ) -> None:
        self.interval = interval
        self.message = message
        self.logger = logger
        self.counts: dict[str, int] = {}
        self._last_logged: dict[str, float] = {}
        self._lock = threading.Lock()

    def report(self, kind: str, exc: BaseException, traceback: bool = True) -> None:
        """Count `exc` under `kind` (a fixed word: kinds become metric labels) and log it."""
        now = time.monotonic()
        with self._lock:
            if kind not in self.counts and len(self.counts) >= MAX_KINDS:
                kind = "other"  # bounded memory and label count whatever callers pass
            self.counts[kind] = self.counts.get(kind, 0) + 1
            last = self._last_logged.get(kind)
            if last is not None and now - last < self.interval:
                return
            self._last_logged[kind] = now
            suppressed = self.counts[kind] - 1
        self.logger.error(
            self.message,
            kind,
            suppressed + 1,
            exc,
            exc_info=(type(exc), exc, exc.__traceback__) if traceback else None,
        )

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self._last_logged.clear()
