"""Alerting: rules, the manager's state machine, silences, dispatch and notifiers."""

from __future__ import annotations

from .anomaly import AnomalyRule
from .defaults import default_rules
from .dispatcher import Dispatcher
from .external import AlertPayloadError
from .manager import DOCUMENTED_METRICS, AlertManager
from .model import SEVERITIES, Alert, AlertEvent, Severity
from .notifiers import (
    CallbackNotifier,
    EmailNotifier,
    LogNotifier,
    NotificationError,
    Notifier,
    WebhookNotifier,
)
from .rules import AlertRule, Check, Rule
from .silences import Silence

__all__ = [
    "DOCUMENTED_METRICS",
    "SEVERITIES",
    "Alert",
    "AlertEvent",
    "AlertManager",
    "AlertPayloadError",
    "AlertRule",
    "AnomalyRule",
    "CallbackNotifier",
    "Check",
    "Dispatcher",
    "EmailNotifier",
    "LogNotifier",
    "NotificationError",
    "Notifier",
    "Rule",
    "Severity",
    "Silence",
    "WebhookNotifier",
    "default_rules",
]
