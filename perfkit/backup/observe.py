"""What `DatabaseBackup` shows the kit: snapshot, alert metrics and Prometheus families."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..clock import Clock
from ..metrics.families import MetricFamily
from .info import BackupInfo

__all__ = ["BackupObserver"]


def backup_iso(ts: float | None) -> str | None:
    """An epoch timestamp as ISO 8601 with a +00:00 offset (the backups' form), or None."""
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat()


class BackupObserver:
    """Success/failure bookkeeping shared by manual, scheduled and HTTP-triggered backups.

    The last success starts from the newest backup on disk, so "hours since the
    last successful backup" survives restarts.
    """

    clock: Clock

    def __init__(self) -> None:
        self._obs_lock = threading.Lock()
        self._last_success: float | None = None
        self._success_loaded = False
        self._last_failure: float | None = None
        self._last_error: str | None = None
        self._last_duration: float | None = None
        self._runs = {"success": 0, "failure": 0}

    # Provided by DatabaseBackup.
    backup_dir: Path
    max_backups: int
    compress: bool
    _key: bytes | None

    @property
    def database_type(self) -> str:
        raise NotImplementedError

    def list_backups(self) -> list[BackupInfo]:
        raise NotImplementedError

    def get_backup_stats(self) -> dict[str, Any]:
        """Counts, sizes, newest/oldest backup and the outcome of the last runs."""
        backups = self.list_backups()
        total_bytes = sum(b.size_bytes for b in backups)
        return {
            "backup_dir": str(self.backup_dir),
            "database_type": self.database_type,
            "total_backups": len(backups),
            "total_size_bytes": total_bytes,
            "total_size_mb": round(total_bytes / (1024 * 1024), 3),
            "newest_backup": backups[0].filename if backups else None,
            "oldest_backup": backups[-1].filename if backups else None,
            "backups": [b.to_dict() for b in backups],
            "max_backups": self.max_backups,
            "compress": self.compress,
            "encrypted": self._key is not None,
            "newest": backups[0].to_dict() if backups else None,
            "oldest": backups[-1].to_dict() if backups else None,
            **self.status(),
        }

    def _record_success(self, info: BackupInfo, duration: float) -> None:
        with self._obs_lock:
            self._last_success = max(self._last_success or 0.0, info.timestamp.timestamp())
            self._success_loaded = True
            self._last_duration = duration
            self._runs["success"] += 1

    def _record_failure(self, exc: BaseException) -> None:
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

    # --- the component protocol (perfkit/component.py) ---

    def snapshot(self) -> dict[str, Any]:
        """The kit snapshot's ``backups`` section: `get_backup_stats()`."""
        return self.get_backup_stats()

    def alert_metrics(self) -> dict[str, float | None]:
        """``backup.hours_since_success`` for the "no successful backup in N hours" rule."""
        return {"backup.hours_since_success": self.hours_since_success()}

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
