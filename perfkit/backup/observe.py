"""Outcomes of a `DatabaseBackup`'s runs: the last success and failure, counts, and the
Prometheus families and alert input the kit reads from them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from ..clock import Clock
from ..metrics.families import MetricFamily
from .info import BackupInfo

__all__ = ["BackupRuns", "backup_iso"]


def backup_iso(ts: float | None) -> str | None:
    """An epoch timestamp as ISO 8601 with a +00:00 offset (the backups' form), or None."""
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat()


class BackupRuns:
    """Success/failure bookkeeping shared by manual, scheduled and HTTP-triggered backups.

    The last success starts from the newest backup on disk (`list_backups`, newest
    first), so "hours since the last successful backup" survives restarts.
    """

    def __init__(self, clock: Clock, list_backups: Callable[[], list[BackupInfo]]) -> None:
        self.clock = clock
        self.list_backups = list_backups
        self._obs_lock = threading.Lock()
        self._last_success: float | None = None
        self._success_loaded = False
        self._last_failure: float | None = None
        self._last_error: str | None = None
        self._last_duration: float | None = None
        self._runs = {"success": 0, "failure": 0}

    def record_success(self, info: BackupInfo, duration: float) -> None:
        with self._obs_lock:
            self._last_success = max(self._last_success or 0.0, info.timestamp.timestamp())
            self._success_loaded = True
            self._last_duration = duration
            self._runs["success"] += 1

    def record_failure(self, exc: BaseException) -> None:
        with self._obs_lock:
            self._last_failure = self.clock.time()
            self._last_error = f"{type(exc).__name__}: {exc}"
            self._runs["failure"] += 1

    def last_success_time(self) -> float | None:
        """Epoch seconds of the newest successful backup (this process or on disk), or None."""
        with self._obs_lock:
            if self._success_loaded:
                return self._last_success
        backups = self.list_backups()
        newest = backups[0].timestamp.timestamp() if backups else None
        with self._obs_lock:
            if not self._success_loaded:
                self._last_success = newest
                self._success_loaded = True
            return self._last_success

    def hours_since_success(self) -> float | None:
        """Hours since the newest successful backup; None when there has never been one."""
        last = self.last_success_time()
        return None if last is None else max(0.0, self.clock.time() - last) / 3600.0

    def status(self) -> dict[str, Any]:
        """Run outcomes: last success/failure (ISO 8601 UTC), last error, counts."""
        last_success = self.last_success_time()
        hours = self.hours_since_success()
        with self._obs_lock:
            return {
                "last_success": backup_iso(last_success),
                "last_failure": backup_iso(self._last_failure),
                "last_error": self._last_error,
                "last_duration_seconds": self._last_duration,
                "successes": self._runs["success"],
                "failures": self._runs["failure"],
                "hours_since_success": hours,
            }

    def collect(self) -> Iterable[MetricFamily]:
        """Gauges and counters for ``/metrics``."""
        backups = self.list_backups()
        last = self.last_success_time()
        with self._obs_lock:
            runs = dict(self._runs)
            last_failure = self._last_failure
        success = MetricFamily(
            "app_backup_last_success_timestamp_seconds", "gauge",
            "Unix time of the newest successful backup",
        )  # fmt: skip
        if last is not None:
            success.add(last)
        failure = MetricFamily(
            "app_backup_last_failure_timestamp_seconds",
            "gauge",
            "Unix time of the last failed backup",
        )
        if last_failure is not None:
            failure.add(last_failure)
        stored = MetricFamily("app_backups_stored", "gauge", "Backups currently kept on disk")
        stored.add(float(len(backups)))
        size = MetricFamily(
            "app_backups_stored_bytes", "gauge", "Bytes of the backups kept on disk"
        )
        size.add(float(sum(b.size_bytes for b in backups)))
        counted = MetricFamily("app_backup_runs", "counter", "Backup runs by outcome")
        for result, count in sorted(runs.items()):
            counted.add(float(count), "_total", result=result)
        return [success, failure, stored, size, counted]
