"""The alert value objects: severities, `Alert`, and the `AlertEvent` notifiers receive."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from .._time import iso as iso_utc

__all__ = ["SEVERITIES", "Alert", "AlertEvent", "Severity", "check_severity", "iso"]

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def check_severity(value: object, what: str = "severity") -> Severity:
    """`value` as a `Severity`, or a ValueError naming it and the allowed values."""
    if value not in SEVERITIES:
        raise ValueError(f"{what} must be one of {', '.join(SEVERITIES)}, got {value!r}")
    return value


def iso(ts: float | None) -> str | None:
    """An epoch timestamp as ISO 8601 UTC, or None."""
    return None if ts is None else iso_utc(ts)


@dataclass
class Alert:
    """One alert episode: from firing (or external arrival) to resolution.

    `state` is ``firing`` or ``resolved``; `source` is ``rule`` or ``external``.
    Timestamps are epoch seconds.
    """

    name: str
    severity: Severity
    state: str
    value: float | None
    threshold: float | None
    message: str
    started_at: float
    resolved_at: float | None = None
    labels: dict[str, str] = field(default_factory=dict)
    source: str = "rule"
    # the figures an external sender attached (numbers, or text as sent)
    metrics: dict[str, float | str] = field(default_factory=dict)

    def copy(self) -> Alert:
        """A detached copy (events carry the alert as it was when notified)."""
        return dataclasses.replace(self, labels=dict(self.labels), metrics=dict(self.metrics))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form; timestamps as epoch seconds plus ISO strings."""
        return {
            "name": self.name,
            "severity": self.severity,
            "state": self.state,
            "value": self.value,
            "threshold": self.threshold,
            "message": self.message,
            "started_at": self.started_at,
            "resolved_at": self.resolved_at,
            "started_at_iso": iso(self.started_at),
            "resolved_at_iso": iso(self.resolved_at),
            "labels": dict(self.labels),
            "source": self.source,
            "metrics": dict(self.metrics),
        }


@dataclass(frozen=True)
class AlertEvent:
    """What a notifier receives: an alert and the transition (``firing`` or ``resolved``).

    `repeat` is True when a long-firing alert is re-notified after the repeat interval;
    `test` is True for `AlertManager.test_rule(name, send=True)`.
    """

    alert: Alert
    transition: str
    at: float
    repeat: bool = False
    test: bool = False

    @property
    def message(self) -> str:
        """What to tell people: the alert's message, or for a resolution, that it is over."""
        a = self.alert
        if self.transition != "resolved":
            return a.message
        if a.source == "external":
            return f"{a.name} is resolved (reported by its sender)"
        if a.value is None or a.threshold is None:
            return f"{a.name} is resolved"
        return f"{a.name} is resolved: now {a.value:.4g}, back within {a.threshold:g}"

    def to_dict(self) -> dict[str, Any]:
        """The event as the webhook JSON entry: the alert plus rule, transition and time.

        For a resolution, ``message`` says so and ``firing_message`` keeps what fired.
        """
        body = self.alert.to_dict()
        if self.transition == "resolved":
            body.update(message=self.message, firing_message=self.alert.message)
        body.update(rule=self.alert.name, transition=self.transition, sent_at=iso(self.at))
        if self.repeat:
            body["repeat"] = True
        if self.test:
            body["test"] = True
        return body
