"""Timestamps as text: ISO 8601 in UTC, the one form the snapshot, API and alerts use."""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["iso"]


def iso(ts: float) -> str:
    """An epoch timestamp as ISO 8601 UTC (``2026-01-02T03:04:05.123456Z``)."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat().replace("+00:00", "Z")
