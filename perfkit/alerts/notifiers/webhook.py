"""`WebhookNotifier`: POSTs JSON (or a Slack payload), HMAC-signed, with retries and backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from ..._version import __version__
from ..model import AlertEvent
from .base import NotificationError, summary_line

__all__ = ["FORMATS", "SIGNATURE_HEADER", "WebhookNotifier", "sign"]

SIGNATURE_HEADER = "X-Perfkit-Signature"
FORMATS = ("json", "slack", "teams")
_ICONS = {"critical": ":red_circle:", "warning": ":warning:", "info": ":information_source:"}
_TEAMS_COLOURS = {"critical": "Attention", "warning": "Warning", "info": "Accent"}


def sign(secret: str | bytes, body: bytes) -> str:
    """The signature header value: ``sha256=<hex HMAC-SHA256 of body>``."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


class WebhookNotifier:
    """Delivers each group of events as one HTTP POST.

    The JSON format is ``{"version": 1, "status", "count", "alerts": [...]}``
    where each alert has rule, name, severity, state, transition, value,
    threshold, message, timestamps, labels and source. ``format='slack'``
    posts ``{"text": ...}`` for a Slack incoming webhook; ``format='teams'`` posts
    a message with one Adaptive Card, which Teams workflows and incoming
    webhooks accept. Transient failures
    (connection errors, 5xx, 429) are retried `retries` times with exponential
    backoff; other 4xx are not.

    Args:
        secret: when set, the body is signed in ``X-Perfkit-Signature``.
        timeout: seconds for each HTTP attempt.
        backoff: seconds before the first retry; doubles each time.
    """

    def __init__(
        self,
        url: str,
        secret: str | bytes | None = None,
        timeout: float = 5.0,
        retries: int = 3,
        format: str = "json",
        *,
        backoff: float = 0.5,
        headers: dict[str, str] | None = None,
        name: str | None = None,
    ) -> None:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"WebhookNotifier url must be an http(s) URL with a host, got {url!r}")
        if format not in FORMATS:
            raise ValueError(f"WebhookNotifier format must be one of {FORMATS}, got {format!r}")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"WebhookNotifier timeout must be a positive number, got {timeout!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
            raise ValueError(f"WebhookNotifier retries must be an integer 0..10, got {retries!r}")
        if secret is not None and (not isinstance(secret, (str, bytes)) or not secret):
            raise ValueError("WebhookNotifier secret must be a non-empty string or bytes")
        self.url, self.secret, self.timeout, self.retries = url, secret, float(timeout), retries
        self.format, self.backoff = format, max(float(backoff), 0.0)
        self.headers = dict(headers or {})
        self.name = name or f"webhook:{parts.hostname}"
        self.sent = 0

    def payload(self, events: Sequence[AlertEvent]) -> dict[str, Any]:
        """The JSON document for `events` in this notifier's format."""
        if self.format == "slack":
            lines = [f"{_ICONS.get(e.alert.severity, '')} {summary_line(e)}" for e in events]
            return {"text": "\n".join(lines)}
        if self.format == "teams":
            return _teams(events)
        transitions = {e.transition for e in events}
        return {
            "version": 1,
            "status": transitions.pop() if len(transitions) == 1 else "mixed",
            "count": len(events),
            "alerts": [e.to_dict() for e in events],
        }

    def request(self, body: bytes) -> urllib.request.Request:
        """The signed POST request for `body`."""
        headers = {"Content-Type": "application/json", "User-Agent": f"perfkit/{__version__}"}
        headers.update(self.headers)
        if self.secret is not None:
            headers[SIGNATURE_HEADER] = sign(self.secret, body)
        return urllib.request.Request(self.url, data=body, headers=headers, method="POST")

    def send(self, events: Sequence[AlertEvent]) -> None:
        body = json.dumps(self.payload(events), separators=(",", ":"), default=str).encode()
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))  # backoff between retries
            try:
                with urllib.request.urlopen(self.request(body), timeout=self.timeout) as resp:
                    resp.read()
                self.sent += 1
                return
            except urllib.error.HTTPError as exc:
                exc.close()
                last = exc
                if exc.code < 500 and exc.code != 429:
                    break  # the receiver rejected the request: retrying cannot help
            except (urllib.error.URLError, OSError) as exc:
                last = exc
        # the host only: Slack and Teams URLs carry their secret in the path
        where = urlsplit(self.url).hostname
        raise NotificationError(f"webhook to {where} failed after {attempt + 1} attempt(s): {last}")


def _teams(events: Sequence[AlertEvent]) -> dict[str, Any]:
    """A Teams message: one Adaptive Card with a line per event."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True,
         "text": f"perfkit: {len(events)} alert notification(s)"},
    ]  # fmt: skip
    for event in events:
        colour = (
            "Good"
            if event.transition == "resolved"
            else _TEAMS_COLOURS.get(event.alert.severity, "Default")
        )
        body.append(
            {"type": "TextBlock", "wrap": True, "color": colour, "text": summary_line(event)}
        )
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }
