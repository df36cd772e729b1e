"""Notifiers: log, callback, webhook (JSON or Slack, signed) and e-mail (SMTP, batched)."""

from __future__ import annotations

from .base import NotificationError, Notifier, notifier_name
from .email import EmailNotifier
from .simple import CallbackNotifier, LogNotifier
from .webhook import SIGNATURE_HEADER, WebhookNotifier, sign

__all__ = [
    "SIGNATURE_HEADER",
    "CallbackNotifier",
    "EmailNotifier",
    "LogNotifier",
    "NotificationError",
    "Notifier",
    "WebhookNotifier",
    "notifier_name",
    "sign",
]
