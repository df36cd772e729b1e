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

__all__ = [
    "MAX_PAYLOAD_BYTES", "AlertPayloadError", "ExternalAlert", "first_number", "parse_external",
]  # fmt: skip

MAX_PAYLOAD_BYTES = 16 * 1024
_KEYS = {"name", "severity", "message", "labels", "metrics", "state"}
_MAX_LABELS = 32
_MAX_METRICS = 32


class AlertPayloadError(PerfkitError, ValueError):
    """An external alert payload does not follow the schema; the message says what is wrong."""


@dataclass(frozen=True)
class ExternalAlert:
    """A validated external alert."""

    name: str
    severity: Severity
    message: str
    labels: dict[str, str]
    metrics: dict[str, float | str]  # numbers, or text as sent ("OK")
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
    labels = _labels(payload.get("labels"))
    metrics = _metrics(payload.get("metrics"))
    return ExternalAlert(name, severity, message, labels, metrics, state)


def _labels(raw: object) -> dict[str, str]:
    """Label values as text: strings as sent, numbers and booleans written out."""
    raw = raw or {}
    if not isinstance(raw, Mapping) or len(raw) > _MAX_LABELS:
        raise AlertPayloadError(f"'labels' must be an object of at most {_MAX_LABELS} pairs")
    labels: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = format(value, "g") if isinstance(value, float) else str(value)
        if not isinstance(key, str) or not isinstance(value, str):
            raise AlertPayloadError(f"label {key!r}: values must be strings or numbers")
        if len(key) > 100 or len(value) > 500:
            raise AlertPayloadError(f"label {key[:40]!r}: keys <= 100, values <= 500 characters")
        labels[key] = value
    return labels


def _metrics(raw: object) -> dict[str, float | str]:
    """Metric values: numbers, numeric strings ("95", "95%", "0.25") as numbers, other
    short strings ("OK", "3 of 4") kept as text."""
    raw = raw or {}
    if not isinstance(raw, Mapping) or len(raw) > _MAX_METRICS:
        raise AlertPayloadError(f"'metrics' must be an object of at most {_MAX_METRICS} entries")
    metrics: dict[str, float | str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not key or len(key) > 100:
            raise AlertPayloadError(f"metric names must be strings of 1..100 characters: {key!r}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise AlertPayloadError(f"metric {key!r}: {value!r} is not a finite number")
            metrics[key] = float(value)
        elif isinstance(value, str) and len(value) <= 200:
            metrics[key] = _as_number(value)
        else:
            raise AlertPayloadError(
                f"metric {key!r}: expected a number or a string of at most 200 characters, "
                f"got {type(value).__name__}"
            )
    return metrics


def _as_number(text: str) -> float | str:
    core = text.strip().removesuffix("%").strip()
    try:
        number = float(core)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def first_number(metrics: Mapping[str, float | str]) -> float | None:
    """The first numeric metric: an external alert's `value`."""
    return next((v for v in metrics.values() if isinstance(v, float)), None)
