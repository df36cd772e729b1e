"""`BackupScheduler`: daily and interval backups, catch-up after downtime, one runner per fleet."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..clock import Clock, SystemClock
from ..component import Component
from ..errors import ConfigError
from ..locks import RedisLock
from ._triggers import DailyTrigger, IntervalTrigger, Trigger
from .info import check_prefix
from .manager import DatabaseBackup
from .observe import backup_iso as _iso

__all__ = ["BackupScheduler"]

log = logging.getLogger("perfkit.backup")

FailureHook = Callable[[str, BaseException], None]


@dataclass
class _Job:
    name: str
    prefix: str
    trigger: Trigger
    next_run: float
    last_run: float | None = None
    last_error: str | None = None
    runs: int = 0
    failures: int = 0


class BackupScheduler(Component):
    """Runs `backup.create_backup` on schedules, in a background thread or via `run_pending()`.

    Args:
        backup: the `DatabaseBackup` to run.
        timezone: IANA zone name for daily jobs (default: the machine's local zone).
        redis_url / redis_client: with either, a fleet of processes shares each
            tick: one process takes the tick's lock (``SET NX`` with expiry) and
            the others skip it. Without Redis, every process runs every tick.
        namespace: Redis key prefix (``{namespace}:backup:...``).
        clock: wall clock (tests inject `perfkit.testing.FakeClock`).
        poll_interval: the longest the thread sleeps between checks (seconds).
        on_failure: called with ``(job_name, exception)`` when a scheduled backup fails.
    """

    def __init__(
        self,
        backup: DatabaseBackup,
        *,
        timezone: str | None = None,
        redis_url: str | None = None,
        redis_client: Any = None,
        namespace: str = "perfkit",
        clock: Clock | None = None,
        poll_interval: float = 30.0,
        on_failure: FailureHook | None = None,
    ) -> None:
        self.backup = backup
        self.clock: Clock = clock or SystemClock()
        self._tz_name = timezone or "local"
        self._tz = _zone(timezone)
        self._redis_url = redis_url
        self._redis = redis_client
        self._owns_redis = False
        self.namespace = namespace
        self.poll_interval = poll_interval
        self.on_failure = on_failure
        self._jobs: dict[str, _Job] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- jobs ---

    def schedule_daily_backup(
        self, hour: int = 2, minute: int = 0, *, name: str = "daily", prefix: str | None = None
    ) -> str:
        """Back up daily at `hour`:`minute` in the scheduler's timezone; returns the job name."""
        if not (isinstance(hour, int) and 0 <= hour <= 23 and isinstance(minute, int)
                and 0 <= minute <= 59):  # fmt: skip
            raise ConfigError(
                f"daily backup time {hour!r}:{minute!r} is not valid: expected 0-23 and 0-59"
            )
        return self._add(name, prefix, DailyTrigger(hour, minute, self._tz, self._tz_name))

    def schedule_interval_backup(
        self,
        hours: float = 0,
        minutes: float = 0,
        *,
        name: str = "interval",
        prefix: str | None = None,
    ) -> str:
        """Back up every `hours` + `minutes` (at least one minute); returns the job name."""
        seconds = float(hours) * 3600 + float(minutes) * 60
        if not seconds >= 60:
            raise ConfigError(
                f"backup interval {hours!r}h{minutes!r}m is not valid: expected >= 1 minute"
            )
        return self._add(name, prefix, IntervalTrigger(seconds))

    def _add(self, name: str, prefix: str | None, trigger: Trigger) -> str:
        check_prefix(name)
        job_prefix = check_prefix(prefix or name)
        now = self.clock.time()
        last = self._last_run(name, job_prefix)
        # Known last run: the first tick after it, which may be overdue (a missed
        # run after downtime, run once). No history: wait for the next tick.
        next_run = trigger.next_after(last if last is not None else now)
        with self._lock:
            self._jobs[name] = _Job(name, job_prefix, trigger, next_run, last_run=last)
        return name

    def remove_job(self, name: str) -> bool:
        """Unschedule a job; False when there is none of that name."""
        with self._lock:
            return self._jobs.pop(name, None) is not None

    def get_jobs(self) -> list[dict[str, Any]]:
        """``[{name, next_run_time, trigger, last_run_time, last_error, runs, failures}]``."""
        with self._lock:
            jobs = list(self._jobs.values())
        return [
            {
                "name": j.name,
                "next_run_time": _iso(j.next_run),
                "trigger": j.trigger.describe(),
                "last_run_time": _iso(j.last_run),
                "last_error": j.last_error,
                "runs": j.runs,
                "failures": j.failures,
            }
            for j in jobs
        ]

    # --- running ---

    def run_pending(self) -> list[dict[str, Any]]:
        """Run every due job once (however many ticks were missed); returns what happened."""
        now = self.clock.time()
        with self._lock:
            due = [j for j in self._jobs.values() if j.next_run <= now]
            for job in due:
                job.next_run = job.trigger.next_after(now)
        return [self._run(job, job.trigger.latest_at_or_before(now)) for job in due]

    def _run(self, job: _Job, tick: float) -> dict[str, Any]:
        result: dict[str, Any] = {"job": job.name, "tick": _iso(tick), "ran": False}
        if not self._claim(job, tick):
            result["skipped"] = "another process ran this tick"
            return result
        result["ran"] = True
        try:
            info = self.backup.create_backup(job.prefix)
        except Exception as exc:  # a failed backup must not stop the scheduler
            job.failures += 1
            job.last_error = f"{type(exc).__name__}: {exc}"
            result["error"] = job.last_error
            log.error("scheduled backup %s failed: %s", job.name, exc)
            if self.on_failure is not None:
                try:
                    self.on_failure(job.name, exc)
                except Exception:
                    log.exception("on_failure hook of backup job %s failed", job.name)
            return result
        job.runs += 1
        job.last_run = tick
        job.last_error = None
        result["filename"] = info.filename
        self._store_last_run(job, tick)
        return result

    def _claim(self, job: _Job, tick: float) -> bool:
        """With Redis: True for exactly one process per (job, tick). Without: always True."""
        client = self._client()
        if client is None:
            return True
        key = f"{self.namespace}:backup:{job.name}"
        try:
            # Never released: it expires, so a slower peer cannot take the same tick after us.
            lock = RedisLock(client, f"{key}:tick:{int(tick)}", ttl=max(60.0, job.trigger.period))
            if not lock.acquire():
                return False
            last = client.get(f"{key}:last_run")
            return last is None or float(last) < tick
        except Exception as exc:  # Redis down: better a duplicate backup than none
            log.warning("backup lock in Redis unavailable (%s); running job %s here", exc, job.name)
            return True

    def _last_run(self, name: str, prefix: str) -> float | None:
        latest: float | None = None
        client = self._client()
        if client is not None:
            try:
                raw = client.get(f"{self.namespace}:backup:{name}:last_run")
                latest = float(raw) if raw is not None else None
            except Exception as exc:
                log.warning("could not read the last backup run from Redis: %s", exc)
        for info in self.backup.list_backups():
            if info.filename.startswith(prefix + "_"):
                stamp = info.timestamp.timestamp()
                latest = stamp if latest is None else max(latest, stamp)
                break  # newest first
        return latest

    def _store_last_run(self, job: _Job, tick: float) -> None:
        client = self._client()
        if client is not None:
            try:
                client.set(f"{self.namespace}:backup:{job.name}:last_run", repr(tick))
            except Exception as exc:
                log.warning("could not record the backup run in Redis: %s", exc)

    def _client(self) -> Any:
        if self._redis is None and self._redis_url:
            import redis

            self._redis = redis.Redis.from_url(self._redis_url, socket_timeout=5)
            self._owns_redis = True
        return self._redis

    # --- thread ---

    def start(self) -> None:
        """Run jobs in a daemon thread until `stop()`; idempotent."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name="perfkit-backup-scheduler", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the thread (a backup in progress finishes first) and close owned Redis clients."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._owns_redis and self._redis is not None:
            self._redis.close()
            self._redis = None
            self._owns_redis = False

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_pending()
            except Exception:  # keep the thread alive whatever happens
                log.exception("backup scheduler tick failed")
            with self._lock:
                upcoming = min((j.next_run for j in self._jobs.values()), default=None)
            wait = self.poll_interval
            if upcoming is not None:
                wait = min(wait, max(0.05, upcoming - self.clock.time()))
            self._stop.wait(wait)

    def snapshot(self) -> dict[str, Any]:
        """The scheduler's section of the kit snapshot."""
        return {"running": self.running, "jobs": self.get_jobs()}


def _zone(name: str | None) -> Any:
    if name is None:
        return None
    try:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    except ImportError:  # pragma: no cover - Python >= 3.9 ships zoneinfo
        raise ConfigError("zoneinfo is unavailable; leave backup_timezone unset") from None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"backup_timezone (PERFKIT_BACKUP_TIMEZONE) = {name!r} is not valid: expected an "
            "IANA zone name such as Europe/Berlin or UTC (install tzdata if none are known)"
        ) from None
