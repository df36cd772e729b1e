"""Validation of external alert payloads (``POST /api/alerts/webhook``)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._json import check_depth
from .._json import loads as parse_json
from ..errors import PerfkitError
from .model import Severity, check_severity

__all__ = ["MAX_PAYLOAD_BYTES", "AlertPayloadError", "ExternalAlert", "parse_external"]

MAX_PAYLOAD_BYTES = 16 * 1024
_KEYS = {"name", "severity", "message", "labels", "metrics", "state"}
_MAX_LABELS = 32


class AlertPayloadError(PerfkitError, ValueError):
    """An external alert payload does not follow the schema; the message says what is wrong."""


@dataclass(frozen=True)
class ExternalAlert:
    """A validated external alert."""

    name: str
    severity: Severity
    message: str
    labels: dict[str, str]
    metrics: dict[str, float]
    state: str


def _text(payload: Mapping[str, Any], key: str, limit: int, required: bool) -> str:
    value = payload.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise AlertPayloadError(f"{key!r} must be a non-empty string of at most {limit} characters")
    return value


def parse_external(payload: object) -> ExternalAlert:
    """Validate ``{name, severity, message, labels?, metrics?, state?}`` (JSON bytes or a dict).

    Raises `AlertPayloadError` (a ValueError) naming the bad field.
    """
    if isinstance(payload, (bytes, bytearray, str)):
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise AlertPayloadError(f"alert payload is larger than {MAX_PAYLOAD_BYTES} bytes")
        try:
            payload = parse_json(payload)
        except ValueError as exc:
            raise AlertPayloadError(f"alert payload is not valid JSON: {exc}") from None
    if not isinstance(payload, Mapping):
        raise AlertPayloadError(
            f"alert payload must be a JSON object, got {type(payload).__name__}"
        )
    try:
        check_depth(payload)  # a dict passed in directly: json.dumps would recurse
        size = len(json.dumps(payload, default=str))
    except (TypeError, ValueError) as exc:
        raise AlertPayloadError(f"alert payload is not JSON-serialisable: {exc}") from None
    if size > MAX_PAYLOAD_BYTES:
        raise AlertPayloadError(f"alert payload is larger than {MAX_PAYLOAD_BYTES} bytes")
    unknown = sorted(set(payload) - _KEYS)
    if unknown:
        raise AlertPayloadError(f"unknown field(s) {unknown}; expected {sorted(_KEYS)}")
    name = _text(payload, "name", 200, True)
    message = _text(payload, "message", 4096, False) or name
    try:
        severity = check_severity(payload.get("severity"))
    except ValueError as exc:
        raise AlertPayloadError(str(exc)) from None
    state = payload.get("state", "firing")
    if state not in ("firing", "resolved"):
        raise AlertPayloadError(f"'state' must be 'firing' or 'resolved', got {state!r}")
    labels = payload.get("labels") or {}
    if (
        not isinstance(labels, Mapping)
        or len(labels) > _MAX_LABELS
        or not all(
            isinstance(k, str) and isinstance(v, str) and len(k) <= 100 and len(v) <= 500
            for k, v in labels.items()
        )
    ):
        raise AlertPayloadError(f"'labels' must be an object of at most {_MAX_LABELS} string pairs")
    metrics = payload.get("metrics") or {}
    if not isinstance(metrics, Mapping) or not all(
        isinstance(k, str)
        and isinstance(v, (int, float))
        and not isinstance(v, bool)
        and math.isfinite(v)
        for k, v in metrics.items()
    ):
        raise AlertPayloadError("'metrics' must be an object of names to finite numbers")
    return ExternalAlert(
        name, severity, message, dict(labels), {k: float(v) for k, v in metrics.items()}, state
    )
