"""The notifier protocol: ``send(events)`` delivers one group of events, or raises."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ...errors import PerfkitError
from ..model import AlertEvent

__all__ = ["NotificationError", "Notifier", "notifier_name", "summary_line"]


class NotificationError(PerfkitError):
    """A notifier could not deliver (after its retries)."""


@runtime_checkable
class Notifier(Protocol):
    """Delivers alert events; called from the dispatcher's thread, never the request path.

    `send` receives every event that fired together within the grouping
    window (one message per channel where the channel can carry several).
    """

    def send(self, events: Sequence[AlertEvent]) -> None:
        """Deliver `events` or raise; the dispatcher logs failures and goes on."""


def notifier_name(notifier: object) -> str:
    """A notifier's display name: its `name` attribute or its class name."""
    name = getattr(notifier, "name", None)
    return name if isinstance(name, str) and name else type(notifier).__name__


def summary_line(event: AlertEvent) -> str:
    """One human line for an event: ``[CRITICAL] high_cpu firing: CPU usage is 97%``, or
    ``[RESOLVED] high_cpu resolved: high_cpu is resolved: now 41.2, back within 80``."""
    alert = event.alert
    extra = " (repeat)" if event.repeat else " (test)" if event.test else ""
    level = "RESOLVED" if event.transition == "resolved" else alert.severity.upper()
    return f"[{level}] {alert.name} {event.transition}{extra}: {event.message}"
