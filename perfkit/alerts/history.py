"""Bounded alert history with a retention window, and the summaries read from it."""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any

from .model import SEVERITIES, Alert, check_severity

__all__ = ["AlertHistory"]


def _hours(hours: float) -> float:
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 0 < hours <= 24 * 366:
        raise ValueError(f"hours must be a number in (0, 8784], got {hours!r}")
    return float(hours)


class AlertHistory:
    """At most `size` alerts, none older than `retention_hours` (firing ones are kept)."""

    def __init__(self, size: int = 1000, retention_hours: float = 24.0) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"history size must be a positive integer, got {size!r}")
        self.retention = _hours(retention_hours) * 3600.0
        self._items: deque[Alert] = deque(maxlen=size)
        self._lock = threading.Lock()
        self.notifications: Counter[str] = Counter()

    def add(self, alert: Alert, now: float) -> None:
        with self._lock:
            self._items.append(alert)
            self._prune(now)

    def _prune(self, now: float) -> None:
        cutoff = now - self.retention
        while (
            self._items and self._items[0].started_at < cutoff and self._items[0].state != "firing"
        ):
            self._items.popleft()

    def query(self, now: float, hours: float = 24, severity: str | None = None) -> list[Alert]:
        """Alerts started in the last `hours`, newest first, optionally of one severity."""
        cutoff = now - _hours(hours) * 3600.0
        if severity is not None:
            check_severity(severity)
        with self._lock:
            self._prune(now)
            items = list(self._items)
        return [
            a
            for a in reversed(items)
            if a.started_at >= cutoff and (severity is None or a.severity == severity)
        ]

    def count(self, suppressed_reason: str | None) -> None:
        """Count one notification sent (None) or suppressed for `suppressed_reason`."""
        with self._lock:
            self.notifications["sent" if suppressed_reason is None else suppressed_reason] += 1

    def summary(self, now: float, hours: float = 24) -> dict[str, Any]:
        """Counts by state, severity, rule and source over the last `hours`."""
        alerts = self.query(now, hours)
        with self._lock:
            notes = dict(self.notifications)
        by_severity = {s: 0 for s in SEVERITIES}
        by_severity.update(Counter(a.severity for a in alerts))
        return {
            "hours": hours,
            "total": len(alerts),
            "firing": sum(1 for a in alerts if a.state == "firing"),
            "resolved": sum(1 for a in alerts if a.state == "resolved"),
            "by_severity": by_severity,
            "by_rule": dict(Counter(a.name for a in alerts).most_common()),
            "by_source": {"rule": 0, "external": 0, **Counter(a.source for a in alerts)},
            "notifications": {
                "sent": notes.pop("sent", 0),
                "suppressed": notes,
            },
        }
