"""The in-process notifiers: `LogNotifier` and `CallbackNotifier`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from ..model import AlertEvent
from .base import summary_line

__all__ = ["CallbackNotifier", "LogNotifier"]


class LogNotifier:
    """Logs each event: firing at WARNING (ERROR when critical), resolved at INFO.

    Args:
        logger: where to log (default ``perfkit.alerts``).
    """

    name = "log"

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.logger = logger or logging.getLogger("perfkit.alerts")

    def send(self, events: Sequence[AlertEvent]) -> None:
        for event in events:
            if event.transition == "resolved":
                level = logging.INFO
            else:
                level = logging.ERROR if event.alert.severity == "critical" else logging.WARNING
            self.logger.log(level, "%s", summary_line(event), extra={"alert": event.to_dict()})


class CallbackNotifier:
    """Calls ``fn(event)`` for every event (``event.alert``, ``event.transition``)."""

    def __init__(self, fn: Callable[[AlertEvent], object], name: str | None = None) -> None:
        if not callable(fn):
            raise ValueError(f"CallbackNotifier needs a callable, got {fn!r}")
        self.fn = fn
        self.name = name or f"callback:{getattr(fn, '__name__', 'fn')}"

    def send(self, events: Sequence[AlertEvent]) -> None:
        for event in events:
            self.fn(event)
